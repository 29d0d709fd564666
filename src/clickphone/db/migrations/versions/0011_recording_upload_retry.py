"""recordings: the 'uploading' state (finished locally, waiting for the S3 upload), with the
count of failed uploads and the time of the next retry

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "state IN ('recording', 'ready', 'failed')"
NEW_STATES = "state IN ('recording', 'uploading', 'ready', 'failed')"


def upgrade() -> None:
    # batch mode: SQLite cannot alter a check constraint in place, the table is copied
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_recordings_state"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_recordings_state"), NEW_STATES)
        batch_op.add_column(
            sa.Column("upload_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("next_upload_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_recordings_upload_due", ["state", "next_upload_at"], unique=False)


def downgrade() -> None:
    # a recording still waiting for its upload keeps its local file: call it failed
    op.execute(
        "UPDATE recordings SET state = 'failed', error = 'upload pending at downgrade' "
        "WHERE state = 'uploading'"
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index("ix_recordings_upload_due")
        batch_op.drop_column("next_upload_at")
        batch_op.drop_column("upload_attempts")
        batch_op.drop_constraint(batch_op.f("ck_recordings_state"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_recordings_state"), OLD_STATES)
