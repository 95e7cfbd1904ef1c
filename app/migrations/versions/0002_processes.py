"""processes, their requests, point keys and files

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_CODE = sa.String(36)


def _parent():
    return sa.ForeignKey("processes.process_code", ondelete="CASCADE")


def upgrade():
    op.create_table(
        "processes",
        sa.Column("process_code", _CODE, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("company", sa.String(256), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("process_type", sa.String(32), nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("result_version", sa.Integer, nullable=False),
        sa.Column("preparing_time", sa.String(16), nullable=False),
        sa.Column("business_validation_time", sa.String(16), nullable=False),
        sa.Column("math_validation_time", sa.String(16), nullable=False),
        sa.Column("waiting_time", sa.String(16), nullable=False),
        sa.Column("calculation_time", sa.String(16), nullable=False),
        sa.Column("request_points_count", sa.BigInteger),
        sa.Column("result_elements_count", sa.BigInteger),
        sa.Column("input_file_exists", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("output_file_exists", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    # Every read is "this user's processes in a period".
    op.create_index("ix_processes_user_time", "processes", ["user_id", "time_us"])
    op.create_table(
        "process_requests",
        sa.Column("process_code", _CODE, _parent(), primary_key=True),
        sa.Column("request_code", _CODE, primary_key=True),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("company", sa.String(256), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(256), nullable=False),
        sa.Column("env", sa.String(256), nullable=False),
        sa.Column("pod", sa.String(256), nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "process_points",
        sa.Column("process_code", _CODE, _parent(), primary_key=True),
        sa.Column("point_key", sa.String(256), primary_key=True),
    )
    op.create_table(
        "process_file_chunks",
        sa.Column("process_code", _CODE, _parent(), primary_key=True),
        sa.Column("flow_type", sa.String(8), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade():
    op.drop_table("process_file_chunks")
    op.drop_table("process_points")
    op.drop_table("process_requests")
    op.drop_index("ix_processes_user_time", table_name="processes")
    op.drop_table("processes")
