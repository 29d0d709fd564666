"""flows prompts: call flows with versions and attachments, module switches, audio prompts,
personal forwarding rules, and a dialable extension for departments

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def _index(table: str, column: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "call_flows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _tenant_fk("call_flows"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_flows")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_call_flows_tenant_id_name")),
    )
    _index("call_flows", "tenant_id")

    op.create_table(
        "flow_modules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _tenant_fk("flow_modules"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_modules")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_flow_modules_tenant_id_name")),
    )

    op.create_table(
        "call_flow_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('number', 'employee', 'department')",
            name=op.f("ck_call_flow_attachments_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["call_flows.id"],
            name=op.f("fk_call_flow_attachments_flow_id_call_flows"),
            ondelete="CASCADE",
        ),
        _tenant_fk("call_flow_attachments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_flow_attachments")),
        sa.UniqueConstraint(
            "kind", "target_id", name=op.f("uq_call_flow_attachments_kind_target_id")
        ),
    )
    _index("call_flow_attachments", "flow_id")
    _index("call_flow_attachments", "tenant_id")

    op.create_table(
        "call_flow_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("graph", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.Integer(), nullable=True),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["call_flows.id"],
            name=op.f("fk_call_flow_versions_flow_id_call_flows"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["published_by"],
            ["users.id"],
            name=op.f("fk_call_flow_versions_published_by_users"),
            ondelete="SET NULL",
        ),
        _tenant_fk("call_flow_versions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_flow_versions")),
        sa.UniqueConstraint(
            "flow_id", "version", name=op.f("uq_call_flow_versions_flow_id_version")
        ),
    )
    _index("call_flow_versions", "tenant_id")

    op.create_table(
        "prompts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=10), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("original_format", sa.String(length=20), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('upload', 'recorded', 'tts')", name=op.f("ck_prompts_source")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_prompts_created_by_users"),
            ondelete="SET NULL",
        ),
        _tenant_fk("prompts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompts")),
    )
    _index("prompts", "tenant_id")

    op.create_table(
        "forwarding_rules",
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_forwarding_rules_employee_id_employees"),
            ondelete="CASCADE",
        ),
        _tenant_fk("forwarding_rules"),
        sa.PrimaryKeyConstraint("employee_id", name=op.f("pk_forwarding_rules")),
    )
    _index("forwarding_rules", "tenant_id")

    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extension", sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_departments_tenant_id_extension"), ["tenant_id", "extension"]
        )


def downgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_departments_tenant_id_extension"), type_="unique")
        batch_op.drop_column("extension")
    for table, indexed in (
        ("forwarding_rules", ("tenant_id",)),
        ("prompts", ("tenant_id",)),
        ("call_flow_versions", ("tenant_id",)),
        ("call_flow_attachments", ("tenant_id", "flow_id")),
        ("flow_modules", ()),
        ("call_flows", ("tenant_id",)),
    ):
        if indexed:
            with op.batch_alter_table(table, schema=None) as batch_op:
                for column in indexed:
                    batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
        op.drop_table(table)
