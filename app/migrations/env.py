"""Alembic environment: the URL comes from the service's configuration."""

from alembic import context
from sqlalchemy import create_engine, pool

from app.config import normalize_database_url
from app.db.tables import metadata

url = normalize_database_url(context.config.attributes["database_url"])


def run_migrations_online():
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
