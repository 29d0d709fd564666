"""stats rollups

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 02:40:00

Coarser statistics rollups (monthly per employee, hourly concurrency peaks), per-day
summaries by country and by line, and the line of a call record.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sums() -> list[sa.Column[int] | sa.Column[float]]:
    return [
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("ring_seconds", sa.Float(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line", sa.String(length=64), nullable=True))
    op.create_table(
        "call_stats_employee_monthly",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "month",
            "employee_id",
            "direction",
            "outcome",
            name=op.f("pk_call_stats_employee_monthly"),
        ),
    )
    op.create_table(
        "call_stats_concurrency_hourly",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("peak", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "hour", name=op.f("pk_call_stats_concurrency_hourly")),
    )
    op.create_table(
        "call_stats_country_daily",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "day",
            "country",
            "direction",
            "outcome",
            name=op.f("pk_call_stats_country_daily"),
        ),
    )
    op.create_table(
        "call_stats_line_daily",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("line", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "day",
            "line",
            "direction",
            "outcome",
            name=op.f("pk_call_stats_line_daily"),
        ),
    )


def downgrade() -> None:
    op.drop_table("call_stats_line_daily")
    op.drop_table("call_stats_country_daily")
    op.drop_table("call_stats_concurrency_hourly")
    op.drop_table("call_stats_employee_monthly")
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_column("line")
