"""usage_days, usage_day_keys: the daily roll-ups, built from the rows already stored

Revision ID: 0007_daily_rollups
Revises: 0005_requests_foreign_service
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_daily_rollups"
down_revision = "0005_requests_foreign_service"
branch_labels = None
depends_on = None


def _cell():
    return [
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("service", sa.String(32), primary_key=True),
        sa.Column("process_type", sa.String(32), primary_key=True),
    ]


def upgrade():
    op.create_table(
        "usage_days",
        *_cell(),
        *(
            sa.Column(name, sa.BigInteger, nullable=False)
            for name in (
                "processes",
                "points",
                "elements",
                "unique_points",
                "v_processes",
                "v_points",
                "v_elements",
                "v_unique_points",
            )
        ),
    )
    op.create_table(
        "usage_day_keys",
        *_cell(),
        sa.Column("point_key", sa.String(256), primary_key=True),
        sa.Column("refs", sa.Integer, nullable=False),
        sa.Column("v_refs", sa.Integer, nullable=False),
    )
    # The same set-based statements a timezone change runs, over every user at once.
    from app.db.rollups import rebuild_all

    rebuild_all(op.get_bind())


def downgrade():
    op.drop_table("usage_day_keys")
    op.drop_table("usage_days")
