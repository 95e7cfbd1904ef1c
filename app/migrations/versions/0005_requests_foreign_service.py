"""process_requests: a partial index on the requests that name a service 7.9 cannot name

The 7.9 audit leaves out every process one of whose requests names a service outside
7.9's list (app.db.scope.clauses, with scope.V79). Without this index that NOT EXISTS reads
every request of every user (5,000,000 rows in `make bench`'s data set, about 0.7 s a
query); with it, the few such requests are an index of their own. The list is 7.9's
services as they are now (schemas.common.SERVICES): it must match the query's text for
PostgreSQL to use the index, and a later change of the list only costs speed.

Revision ID: 0005_requests_foreign_service
Revises: 0004_quota_date_window
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_requests_foreign_service"
down_revision = "0004_quota_date_window"
branch_labels = None
depends_on = None

SERVICES_79 = ("ACCOUNT", "ADMIN", "AGRO", "MONITOR", "PACKER", "ROUTING", "STUDIO", "UNIVERSAL")
_PREDICATE = sa.text("service NOT IN ({})".format(", ".join(f"'{name}'" for name in SERVICES_79)))


def upgrade():
    op.create_index(
        "ix_process_requests_foreign_service",
        "process_requests",
        ["process_code"],
        postgresql_where=_PREDICATE,
        sqlite_where=_PREDICATE,
    )


def downgrade():
    op.drop_index("ix_process_requests_foreign_service", table_name="process_requests")
