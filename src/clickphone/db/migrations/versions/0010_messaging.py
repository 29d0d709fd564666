"""messaging: conversations and their members, messages with delivery states, SMS parts for
delivery receipts, mass mailings; SMPP accounts on trunks

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("external_number", sa.String(length=20), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('direct', 'group', 'sms')", name=op.f("ck_conversations_kind")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_conversations_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_conversations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_conversations_tenant_id_key")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversations_tenant_last", ["tenant_id", "last_message_at"], unique=False
        )

    op.create_table(
        "message_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("line", sa.String(length=20), nullable=True),
        sa.Column("translit", sa.Boolean(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("repeat_of", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('chat', 'sms')", name=op.f("ck_message_campaigns_channel")),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sending', 'done', 'cancelled')",
            name=op.f("ck_message_campaigns_status"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_message_campaigns_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["repeat_of"],
            ["message_campaigns.id"],
            name=op.f("fk_message_campaigns_repeat_of_message_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_message_campaigns_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_campaigns")),
    )
    with op.batch_alter_table("message_campaigns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_campaigns_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "conversation_members",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_members_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_conversation_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "user_id", name=op.f("pk_conversation_members")),
    )
    with op.batch_alter_table("conversation_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversation_members_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("sender_user_id", sa.Integer(), nullable=True),
        sa.Column("external_number", sa.String(length=20), nullable=True),
        sa.Column("line", sa.String(length=20), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attachment", sa.JSON(), nullable=True),
        sa.Column("translit", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("trunk_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Integer(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('chat', 'sms')", name=op.f("ck_messages_channel")),
        sa.CheckConstraint(
            "direction IN ('internal', 'incoming', 'outgoing')", name=op.f("ck_messages_direction")
        ),
        sa.CheckConstraint(
            "status IN ('scheduled', 'queued', 'sending', 'sent', 'delivered', 'failed', "
            "'received', 'cancelled')",
            name=op.f("ck_messages_status"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["message_campaigns.id"],
            name=op.f("fk_messages_campaign_id_message_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sender_user_id"],
            ["users.id"],
            name=op.f("fk_messages_sender_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_messages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trunk_id"],
            ["trunks.id"],
            name=op.f("fk_messages_trunk_id_trunks"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_messages_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(
            "ix_messages_conversation_created", ["conversation_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_messages_sender_user_id"), ["sender_user_id"], unique=False
        )
        batch_op.create_index(
            "ix_messages_status_scheduled", ["status", "scheduled_at"], unique=False
        )
        batch_op.create_index(
            "ix_messages_tenant_created", ["tenant_id", "created_at"], unique=False
        )

    op.create_table(
        "sms_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("trunk_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=65), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_sms_parts_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trunk_id"],
            ["trunks.id"],
            name=op.f("fk_sms_parts_trunk_id_trunks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_parts")),
        sa.UniqueConstraint(
            "trunk_id", "provider_id", name=op.f("uq_sms_parts_trunk_id_provider_id")
        ),
    )
    with op.batch_alter_table("sms_parts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_parts_message_id"), ["message_id"], unique=False)

    with op.batch_alter_table("trunks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("smpp_host", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("smpp_port", sa.Integer(), nullable=False, server_default="2775")
        )
        batch_op.add_column(sa.Column("smpp_system_id", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("smpp_password", sa.String(length=500), nullable=True))
        batch_op.add_column(
            sa.Column("smpp_system_type", sa.String(length=13), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("sms_rate", sa.Integer(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("trunks", schema=None) as batch_op:
        batch_op.drop_column("sms_rate")
        batch_op.drop_column("smpp_system_type")
        batch_op.drop_column("smpp_password")
        batch_op.drop_column("smpp_system_id")
        batch_op.drop_column("smpp_port")
        batch_op.drop_column("smpp_host")

    with op.batch_alter_table("sms_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_parts_message_id"))

    op.drop_table("sms_parts")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_tenant_created")
        batch_op.drop_index("ix_messages_status_scheduled")
        batch_op.drop_index(batch_op.f("ix_messages_sender_user_id"))
        batch_op.drop_index("ix_messages_conversation_created")
        batch_op.drop_index(batch_op.f("ix_messages_campaign_id"))

    op.drop_table("messages")
    with op.batch_alter_table("conversation_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_members_user_id"))

    op.drop_table("conversation_members")
    with op.batch_alter_table("message_campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_campaigns_tenant_id"))

    op.drop_table("message_campaigns")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_tenant_last")

    op.drop_table("conversations")
