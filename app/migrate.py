"""Schema migrations with Alembic, configured in code (no alembic.ini to keep in sync)."""

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url, revision="head"):
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url, revision):
    command.downgrade(alembic_config(database_url), revision)
