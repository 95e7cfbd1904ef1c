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
    LargeBinary,
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
    # 6.20 MethodQuota.points_per_date_window; NULL when not set.
    Column("points_per_date_window", BigInteger),
    UniqueConstraint("user_id", "service", "process_type", name="uq_quotas_user_service_type"),
)

# One row per calculation process. Times are microseconds since the epoch (UTC): day
# boundaries in any whole-hour timezone are then integer arithmetic on both databases.
processes = Table(
    "processes",
    metadata,
    Column("process_code", String(36), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("username", String(256), nullable=False),
    Column("company", String(256), nullable=False),
    Column("service", String(32), nullable=False),
    Column("process_type", String(32), nullable=False),
    Column("time_us", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("result_version", Integer, nullable=False),
    Column("preparing_time", String(16), nullable=False),
    Column("business_validation_time", String(16), nullable=False),
    Column("math_validation_time", String(16), nullable=False),
    Column("waiting_time", String(16), nullable=False),
    Column("calculation_time", String(16), nullable=False),
    Column("request_points_count", BigInteger),
    Column("result_elements_count", BigInteger),
    Column("input_file_exists", Boolean, nullable=False, default=False),
    Column("output_file_exists", Boolean, nullable=False, default=False),
)

process_requests = Table(
    "process_requests",
    metadata,
    Column("process_code", String(36), ForeignKey("processes.process_code", ondelete="CASCADE"), primary_key=True),
    Column("request_code", String(36), primary_key=True),
    Column("username", String(256), nullable=False),
    Column("company", String(256), nullable=False),
    Column("service", String(32), nullable=False),
    Column("operation", String(256), nullable=False),
    Column("env", String(256), nullable=False),
    Column("pod", String(256), nullable=False),
    Column("time_us", BigInteger, nullable=False),
)

# The distinct point keys of a process, for unique-point counting per day.
process_points = Table(
    "process_points",
    metadata,
    Column("process_code", String(36), ForeignKey("processes.process_code", ondelete="CASCADE"), primary_key=True),
    Column("point_key", String(256), primary_key=True),
)

# Raw input/output files, stored in chunks so neither upload nor download holds a whole
# file in memory, and a file is written in the same transaction as its process flag.
process_file_chunks = Table(
    "process_file_chunks",
    metadata,
    Column("process_code", String(36), ForeignKey("processes.process_code", ondelete="CASCADE"), primary_key=True),
    Column("flow_type", String(8), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

# Points and concurrency slots granted to running processes (POST /account/quota/reservations).
# Counting while released_us is NULL and expires_us is in the future; day is the user's
# local day number at the grant, the day its points count on.
quota_reservations = Table(
    "quota_reservations",
    metadata,
    Column("process_code", String(36), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("service", String(32), nullable=False),
    Column("process_type", String(32), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("day", Integer, nullable=False),
    Column("granted_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("released_us", BigInteger),
)

# Failed logins per key ("user:<casefolded name>" or "addr:<client address>") in the
# current window, when the counters live in the database (no ACCOUNT_REDIS_URL).
login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(320), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start_us", BigInteger, nullable=False),
)

# Daily roll-ups (app/db/rollups.py): per user, local day (days since 1970-01-01 in the
# user's timezone), service and process type, the figures of the statistics, kept up to
# date by ingestion. The v_ columns count only the processes the 7.9 dialect shows.
usage_days = Table(
    "usage_days",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("service", String(32), primary_key=True),
    Column("process_type", String(32), primary_key=True),
    Column("processes", BigInteger, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("elements", BigInteger, nullable=False),
    Column("unique_points", BigInteger, nullable=False),
    Column("v_processes", BigInteger, nullable=False),
    Column("v_points", BigInteger, nullable=False),
    Column("v_elements", BigInteger, nullable=False),
    Column("v_unique_points", BigInteger, nullable=False),
)

# The point keys of a roll-up cell, each with the number of its processes naming it (refs)
# and of those the 7.9 dialect shows (v_refs): the cell's unique points are its rows.
usage_day_keys = Table(
    "usage_day_keys",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("service", String(32), primary_key=True),
    Column("process_type", String(32), primary_key=True),
    Column("point_key", String(256), primary_key=True),
    Column("refs", Integer, nullable=False),
    Column("v_refs", Integer, nullable=False),
)
