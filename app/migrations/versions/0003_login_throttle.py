"""login failure counters

Revision ID: 0003_login_throttle
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_login_throttle"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_start_us", sa.BigInteger, nullable=False),
    )


def downgrade():
    op.drop_table("login_failures")
