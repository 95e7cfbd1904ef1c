"""The service's own state, for both dialects."""

from app import db, health


def health_score():
    """1.0 when the service can serve from its database, 0.0 when it cannot (see
    app.health.problem)."""
    return 0.0 if health.problem(db.engine()) else 1.0
