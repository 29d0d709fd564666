"""number expiry warning: when a temporary number's users were told it expires soon

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expiry_warned_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.drop_column("expiry_warned_at")
