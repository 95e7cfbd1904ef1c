"""Table definitions (SQLAlchemy Core). Alembic migrations create them; this module
describes them for queries. Times are stored as naive UTC."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(256), nullable=False, unique=True),
    Column("company_key", String(256), nullable=False, index=True),
    Column("password_hash", String(128), nullable=False),
    Column("specification", String(256)),
    Column("email", String(256)),
    Column("phone", String(32)),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("roles", JSON, nullable=False),
    Column("timezone", Integer, nullable=False, default=0),
    Column("attributes", JSON, nullable=False),
    # Bumped on every password change, disable and role change: tokens carry the value
    # they were issued with, so older tokens stop working at once, even within one second.
    Column("token_version", BigInteger, nullable=False, default=0),
    Column("creation_date", DateTime, nullable=False),
    Column("edit_date", DateTime, nullable=False),
)

quotas = Table(
    "quotas",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("service", String(32), nullable=False),
    Column("process_type", String(32), nullable=False),
    Column("points_per_request", Integer, nullable=False),
    Column("points_per_day", BigInteger, nullable=False),
    Column("max_concurrent_execution", Integer, nullable=False),
    UniqueConstraint("user_id", "service", "process_type", name="uq_quotas_user_service_type"),
)
