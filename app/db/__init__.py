"""Database engine and the one transaction helper every write goes through."""

from contextlib import contextmanager

from flask import current_app
from sqlalchemy import create_engine, event


class NotFound(LookupError):
    """A row the caller asked for does not exist (or is not theirs)."""

    def __init__(self, resource_key):
        super().__init__(resource_key)
        self.resource_key = resource_key


def make_engine(url, connect_timeout=3):
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # pool_pre_ping: a server restarted while the pool was idle costs no failed request.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=connect_timeout,
        connect_args={"connect_timeout": connect_timeout},
    )


def engine():
    return current_app.extensions["account_db"]


@contextmanager
def transaction():
    """Commit on success, roll back on any error."""
    with engine().begin() as conn:
        yield conn


@contextmanager
def connection():
    """A read-only unit of work."""
    with engine().connect() as conn:
        yield conn


def upsert(conn, table):
    """An INSERT that takes ON CONFLICT clauses, in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)
