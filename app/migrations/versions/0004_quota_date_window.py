"""quotas.points_per_date_window (reported by the 6.20 dialect)

Revision ID: 0004_quota_date_window
Revises: 0003_login_throttle
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_quota_date_window"
down_revision = "0003_login_throttle"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("quotas") as batch:
        batch.add_column(sa.Column("points_per_date_window", sa.BigInteger, nullable=True))


def downgrade():
    with op.batch_alter_table("quotas") as batch:
        batch.drop_column("points_per_date_window")
