"""The readiness check's queries (app.health): does the database answer, at the latest
migration, with every table as the service expects it."""

import functools

from sqlalchemy import false, func, select, text, union_all

from app.db.tables import metadata


def check(engine, heads, timeout, logger):
    """None when the engine's database answers with the schema of the migration heads and
    every table as the service expects it, or why not (details go to logger)."""
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # a backstop: the caller stops waiting at timeout
                conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout * 2000)}"))
            try:
                revisions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
            except Exception:
                logger.warning("health check: no migration table", exc_info=True)
                return "the schema is not created (run: flask --app wsgi account migrate)"
            if revisions != heads:
                logger.warning("health check: schema at %s, latest %s", sorted(revisions), sorted(heads))
                return "the schema is not at the latest migration (run: flask --app wsgi account migrate)"
            try:
                conn.execute(_every_table())
            except Exception:
                logger.warning("health check: tables differ from the service's", exc_info=True)
                return "a table is missing or differs from the service's"
    except Exception:
        logger.warning("health check: database unreachable", exc_info=True)
        return "the database is unreachable"
    return None


@functools.cache
def _every_table():
    """One statement naming every column of every table, and reading no row."""
    tables = metadata.tables.values()
    return union_all(*(select(func.count()).select_from(select(*t.c).where(false()).subquery()) for t in tables))
