"""contact birthdays: the date, its month-day for today's reminders, the year reminded

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22 09:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("birthday", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("birthday_md", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("birthday_notified_year", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_contacts_birthday_md"), ["birthday_md"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_birthday_md"))
        batch_op.drop_column("birthday_notified_year")
        batch_op.drop_column("birthday_md")
        batch_op.drop_column("birthday")
