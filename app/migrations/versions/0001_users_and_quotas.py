"""users and quotas

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("company_key", sa.String(256), nullable=False),
        sa.Column("password_hash", sa.String(128), nullable=False),
        sa.Column("specification", sa.String(256)),
        sa.Column("email", sa.String(256)),
        sa.Column("phone", sa.String(32)),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("timezone", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("token_version", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("creation_date", sa.DateTime, nullable=False),
        sa.Column("edit_date", sa.DateTime, nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_index("ix_users_company_key", "users", ["company_key"])
    op.create_table(
        "quotas",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("process_type", sa.String(32), nullable=False),
        sa.Column("points_per_request", sa.Integer, nullable=False),
        sa.Column("points_per_day", sa.BigInteger, nullable=False),
        sa.Column("max_concurrent_execution", sa.Integer, nullable=False),
        sa.UniqueConstraint("user_id", "service", "process_type", name="uq_quotas_user_service_type"),
    )


def downgrade():
    op.drop_table("quotas")
    op.drop_index("ix_users_company_key", table_name="users")
    op.drop_table("users")
