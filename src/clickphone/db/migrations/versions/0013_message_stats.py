"""message stats: daily totals of settled days for the message-history report; the
conversation index covers the report's columns on PostgreSQL

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22 08:55:00

The daily totals are filled by the messaging service's rollup job on its first run.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED = ["tenant_id", "channel", "direction", "status", "sender_user_id", "parts", "cost"]


def upgrade() -> None:
    op.create_table(
        "message_stats_days",
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_message_stats_days")),
    )
    op.create_table(
        "message_stats_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sender_user_id", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_message_stats_daily_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_stats_daily")),
    )
    with op.batch_alter_table("message_stats_daily", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_stats_daily_day"), ["day"], unique=False)
        batch_op.create_index(
            "ix_message_stats_daily_tenant_day", ["tenant_id", "day"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_messages_conversation_created", table_name="messages")
        op.create_index(
            "ix_messages_conversation_created",
            "messages",
            ["conversation_id", "created_at"],
            postgresql_include=COVERED,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_messages_conversation_created", table_name="messages")
        op.create_index(
            "ix_messages_conversation_created", "messages", ["conversation_id", "created_at"]
        )
    with op.batch_alter_table("message_stats_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_message_stats_daily_tenant_day")
        batch_op.drop_index(batch_op.f("ix_message_stats_daily_day"))
    op.drop_table("message_stats_daily")
    op.drop_table("message_stats_days")
