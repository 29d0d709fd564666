"""phone network more: notifications, click-to-call sites and requests, temporary-number
expiry, room for encrypted trunk passwords

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 02:40:00

Trunk passwords written before this revision are plaintext; the server encrypts them with
its secret key on start (:func:`clickphone.trunks.secrets.encrypt_stored_passwords`), since
a migration does not know the key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_notifications_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_notifications_user_read", ["user_id", "read_at"], unique=False)

    op.create_table(
        "click_to_call_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("allowed_origins", sa.JSON(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("per_number_hourly", sa.Integer(), nullable=False),
        sa.Column("per_site_hourly", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(employee_id IS NULL) <> (department_id IS NULL)",
            name=op.f("ck_click_to_call_sites_one_target"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_click_to_call_sites_department_id_departments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_click_to_call_sites_employee_id_employees"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_click_to_call_sites_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_click_to_call_sites")),
        sa.UniqueConstraint("public_key", name=op.f("uq_click_to_call_sites_public_key")),
    )
    with op.batch_alter_table("click_to_call_sites", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_click_to_call_sites_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_click_to_call_sites_employee_id"), ["employee_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_click_to_call_sites_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("call_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["click_to_call_sites.id"],
            name=op.f("fk_callback_requests_site_id_click_to_call_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_callback_requests_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_callback_requests_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
    )
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_callback_requests_number_created",
            ["tenant_id", "number", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_callback_requests_site_created", ["site_id", "created_at"], unique=False
        )

    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_phone_numbers_expires_at"), ["expires_at"], unique=False
        )

    with op.batch_alter_table("trunks", schema=None) as batch_op:
        batch_op.alter_column(
            "password",
            existing_type=sa.String(length=200),
            type_=sa.String(length=500),
            existing_nullable=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("trunks", schema=None) as batch_op:
        batch_op.alter_column(
            "password",
            existing_type=sa.String(length=500),
            type_=sa.String(length=200),
            existing_nullable=True,
        )

    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phone_numbers_expires_at"))
        batch_op.drop_column("expires_at")

    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_requests_site_created")
        batch_op.drop_index("ix_callback_requests_number_created")
    op.drop_table("callback_requests")

    with op.batch_alter_table("click_to_call_sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_click_to_call_sites_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_click_to_call_sites_employee_id"))
        batch_op.drop_index(batch_op.f("ix_click_to_call_sites_department_id"))
    op.drop_table("click_to_call_sites")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_read")
        batch_op.drop_index(batch_op.f("ix_notifications_tenant_id"))
    op.drop_table("notifications")
