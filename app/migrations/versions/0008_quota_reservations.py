"""quota_reservations: the points and concurrency slots granted to running processes

A reservation counts while released_us is NULL and expires_us is in the future: a job
whose host died stops holding its slot at expires_us with no sweeper. day is the user's
local day (days since 1970-01-01) when it was granted: the day its points count on.

Revision ID: 0008_quota_reservations
Revises: 0007_daily_rollups
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_quota_reservations"
down_revision = "0007_daily_rollups"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "quota_reservations",
        sa.Column("process_code", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("process_type", sa.String(32), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("granted_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
        sa.Column("released_us", sa.BigInteger),
    )
    # Every decision reads "this quota's reservations still counting".
    op.create_index(
        "ix_quota_reservations_quota",
        "quota_reservations",
        ["user_id", "service", "process_type", "expires_us"],
    )


def downgrade():
    op.drop_index("ix_quota_reservations_quota", table_name="quota_reservations")
    op.drop_table("quota_reservations")
