"""Domain rules between the views and the queries."""
