"""SQLAlchemy 2 models: one metadata for the whole product.

Tenant-owned tables carry a ``tenant_id`` column; :mod:`clickphone.accounts.scope` is the one
helper that adds the tenant filter to queries, so isolation lives in one place.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("operator_admin", "tenant_owner", "tenant_admin", "employee", "individual")
TENANT_KINDS = ("company", "individual")
NUMBER_STATES = ("available", "reserved", "assigned", "quarantined")
DEFAULT_AUTH_ALGORITHMS = ["SHA-256", "MD5"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Tenant(Base):
    """A customer account: a company (B2B) or an individual subscriber (B2C)."""

    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint(_in("kind", TENANT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="company")
    customer_number: Mapped[str] = mapped_column(String(20), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    """A person who signs in. Operator staff have role operator_admin and no tenant."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(
            "(role = 'operator_admin' AND tenant_id IS NULL) OR "
            "(role <> 'operator_admin' AND tenant_id IS NOT NULL)",
            name="tenant_matches_role",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[str] = mapped_column(String(200), default="")
    nickname: Mapped[str | None] = mapped_column(String(100))
    avatar_path: Mapped[str | None] = mapped_column(String(500))
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tenant: Mapped[Tenant | None] = relationship(lazy="raise")


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        UniqueConstraint("tenant_id", "extension"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # a number to dial the department by (never an employee's extension of the same tenant)
    extension: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Employee(Base):
    """A user's place in a company: extension and department. Position lives on User."""

    __tablename__ = "employees"
    __table_args__ = (UniqueConstraint("tenant_id", "extension"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    extension: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="raise")


class SipDevice(Base):
    """SIP credentials of one phone/softphone. The password itself is never stored.

    ``sip_username`` is globally unique, so the registrar derives the tenant from the
    credentials. HA1 = H(username:realm:password) per digest algorithm, for ``realm``.
    """

    __tablename__ = "sip_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="CASCADE"), index=True
    )
    sip_username: Mapped[str] = mapped_column(String(64), unique=True)
    realm: Mapped[str] = mapped_column(String(200))
    ha1_md5: Mapped[str] = mapped_column(String(32))
    ha1_sha256: Mapped[str] = mapped_column(String(64))
    ha1_sha512_256: Mapped[str] = mapped_column(String(64))
    auth_algorithms: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_AUTH_ALGORITHMS)
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_rotated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SipRegistration(Base):
    """One registered contact binding of a device (persisted across restarts)."""

    __tablename__ = "sip_registrations"
    __table_args__ = (
        UniqueConstraint("device_id", "contact_uri"),
        Index("ix_sip_registrations_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("sip_devices.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    contact_uri: Mapped[str] = mapped_column(String(1000))
    received_host: Mapped[str] = mapped_column(String(100))
    received_port: Mapped[int] = mapped_column(Integer)
    transport: Mapped[str] = mapped_column(String(10))
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    call_id: Mapped[str] = mapped_column(String(500))
    cseq: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    q: Mapped[float | None] = mapped_column(Float)
    path: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[str | None] = mapped_column(String(200))
    reg_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PhoneNumber(Base):
    """A DID in the operator's inventory; owned by a tenant (or one user of it)."""

    __tablename__ = "phone_numbers"
    __table_args__ = (CheckConstraint(_in("state", NUMBER_STATES), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    country: Mapped[str] = mapped_column(String(2), default="")
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    state: Mapped[str] = mapped_column(String(20), default="available")
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # store catalogue: where, what kind, what it costs (integer minor units)
    city: Mapped[str] = mapped_column(String(100), default="")
    number_type: Mapped[str] = mapped_column(String(20), default="local")
    monthly_fee: Mapped[int] = mapped_column(Integer, default=0)
    setup_fee: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    quarantine_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # where inbound calls to this number go (until call flows exist): one employee
    employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL"), index=True
    )
    # a temporary number goes back to quarantine at this time (numbers/store.py)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # when its users were told that it expires soon (once per expiry date)
    expiry_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Contact(Base):
    """An address-book entry: shared in the tenant, or personal when owner_user_id is set."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200), default="")
    favorite: Mapped[bool] = mapped_column(Boolean, default=False)
    group_name: Mapped[str] = mapped_column(String(100), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    birthday: Mapped[date | None] = mapped_column(Date)
    # month * 100 + day of the birthday, to find today's; the year its reminder went out
    birthday_md: Mapped[int | None] = mapped_column(Integer, index=True)
    birthday_notified_year: Mapped[int | None] = mapped_column(Integer)

    numbers: Mapped[list[ContactNumber]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ContactNumber.id"
    )


class ContactNumber(Base):
    __tablename__ = "contact_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(40), index=True)
    label: Mapped[str] = mapped_column(String(50), default="")


class ApiToken(Base):
    """A bearer token for integrations; only a SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    token_prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A browser session; the cookie holds a random token, the table its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")


class OutboxEvent(Base):
    """An event written in the producer's transaction, published after commit."""

    __tablename__ = "outbox_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_event_id)
    type: Mapped[str] = mapped_column(String(100), index=True)
    tenant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class LoginThrottle(Base):
    """Failed sign-in counters per key (``email:<addr>`` or ``ip:<addr>``)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CallRecord(Base):
    """One call (CDR) with its legs, written when the call starts and completed when it ends.

    ``outcome`` is ``in_progress`` until the end; a record still in progress when the server
    starts was cut by a crash and is closed as ``failed`` with ``end_reason`` "interrupted".
    """

    __tablename__ = "call_records"
    __table_args__ = (Index("ix_call_records_tenant_started", "tenant_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    sip_call_id: Mapped[str] = mapped_column(String(500))
    direction: Mapped[str] = mapped_column(String(10))  # internal, incoming, outgoing
    caller: Mapped[str] = mapped_column(String(64))
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    caller_employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL"), index=True
    )
    callee: Mapped[str] = mapped_column(String(64))
    callee_employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ring_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    outcome: Mapped[str] = mapped_column(String(20), default="in_progress", index=True)
    end_reason: Mapped[str] = mapped_column(String(100), default="")
    legs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    trace: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # the line: our virtual number (or "trunk:<name>") the call came in on or went out through
    line: Mapped[str | None] = mapped_column(String(64))


TRUNK_KINDS = ("registration", "ip")
BLOCK_DIRECTIONS = ("both", "inbound", "outbound")
REQUEST_KINDS = ("number", "temporary_number", "sms_package", "tariff", "call_package")
REQUEST_STATES = ("pending", "approved", "rejected", "cancelled")


class Trunk(Base):
    """A SIP trunk to a carrier: operator-level (tenant_id NULL) or a tenant's own.

    ``registration`` trunks REGISTER to the carrier with ``username``/``password``; ``ip``
    trunks accept calls from ``allowed_addresses`` (IPs or CIDRs). The password is kept
    because we must answer the carrier's digest challenges with it.
    """

    __tablename__ = "trunks"
    __table_args__ = (
        CheckConstraint(_in("kind", TRUNK_KINDS), name="kind"),
        UniqueConstraint("name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="ip")
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=5060)
    transport: Mapped[str] = mapped_column(String(10), default="UDP")
    outbound_proxy: Mapped[str | None] = mapped_column(String(300))
    username: Mapped[str | None] = mapped_column(String(100))
    password: Mapped[str | None] = mapped_column(String(500))  # Fernet, see trunks/secrets
    from_domain: Mapped[str | None] = mapped_column(String(255))
    register_expires: Mapped[int] = mapped_column(Integer, default=300)
    allowed_addresses: Mapped[list[str]] = mapped_column(JSON, default=list)
    codecs: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["PCMU", "PCMA"])
    prefixes: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    number_format: Mapped[str] = mapped_column(String(10), default="e164")
    max_channels: Mapped[int | None] = mapped_column(Integer)
    max_cps: Mapped[float | None] = mapped_column(Float)
    options_interval: Mapped[int] = mapped_column(Integer, default=60)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # SMS through the carrier's SMPP 3.4 account (clickphone.messaging); no host: no SMS
    smpp_host: Mapped[str | None] = mapped_column(String(255))
    smpp_port: Mapped[int] = mapped_column(Integer, default=2775)
    smpp_system_id: Mapped[str | None] = mapped_column(String(16))
    smpp_password: Mapped[str | None] = mapped_column(String(500))  # Fernet, like password
    smpp_system_type: Mapped[str] = mapped_column(String(13), default="")
    sms_rate: Mapped[int | None] = mapped_column(Integer)  # per SMS part, minor units


class TenantPhoneSettings(Base):
    """A tenant's dial plan: default country, allowed destinations, default caller ID."""

    __tablename__ = "tenant_phone_settings"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    default_country: Mapped[str] = mapped_column(String(2), default="RU")
    allowed_countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    caller_id_number_id: Mapped[int | None] = mapped_column(
        ForeignKey("phone_numbers.id", ondelete="SET NULL")
    )


class UserPhoneSettings(Base):
    """A user's own caller ID choice (overrides the tenant's)."""

    __tablename__ = "user_phone_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    caller_id_number_id: Mapped[int | None] = mapped_column(
        ForeignKey("phone_numbers.id", ondelete="SET NULL")
    )


class BlockedNumber(Base):
    """A blacklisted number (exact E.164) or prefix (ending in ``*``); tenant_id NULL is the
    operator's list, which applies to every tenant (premium-rate prefixes, fraud)."""

    __tablename__ = "blocked_numbers"
    __table_args__ = (
        CheckConstraint(_in("direction", BLOCK_DIRECTIONS), name="direction"),
        UniqueConstraint("tenant_id", "pattern", "direction"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    pattern: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(10), default="both")
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NumberRequest(Base):
    """A store order from the cabinet, waiting in the office queue for approval."""

    __tablename__ = "number_requests"
    __table_args__ = (
        CheckConstraint(_in("kind", REQUEST_KINDS), name="kind"),
        CheckConstraint(_in("state", REQUEST_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20), default="number")
    number_id: Mapped[int | None] = mapped_column(
        ForeignKey("phone_numbers.id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    comment: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    monthly_fee: Mapped[int] = mapped_column(Integer, default=0)
    setup_fee: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- recordings (clickphone.recordings) -------------------------------------------------------
# uploading: finished and complete on local disk, waiting for (a retry of) the S3 upload
RECORDING_STATES = ("recording", "uploading", "ready", "failed")


class RecordingSettings(Base):
    """A tenant's recording defaults: record every call or not, and how long to keep files."""

    __tablename__ = "recording_settings"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    retention_days: Mapped[int] = mapped_column(Integer, default=90)


class RecordingRule(Base):
    """Recording on/off for one employee or one number; overrides the tenant's default.

    Exactly one of ``employee_id`` and ``number`` is set. A number rule wins over an employee
    rule, which wins over the tenant default."""

    __tablename__ = "recording_rules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "employee_id", "number"),
        CheckConstraint("(employee_id IS NULL) <> (number IS NULL)", name="employee_or_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Recording(Base):
    """One recorded call (or part of a call, when recording was started on demand)."""

    __tablename__ = "recordings"
    __table_args__ = (
        CheckConstraint(_in("state", RECORDING_STATES), name="state"),
        Index("ix_recordings_tenant_started", "tenant_id", "started_at"),
        Index("ix_recordings_upload_due", "state", "next_upload_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_event_id)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    call_record_id: Mapped[str | None] = mapped_column(
        ForeignKey("call_records.id", ondelete="SET NULL"), index=True
    )
    sip_call_id: Mapped[str] = mapped_column(String(500))
    caller_employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL"), index=True
    )
    callee_employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL"), index=True
    )
    path: Mapped[str] = mapped_column(String(500))  # relative to <data_dir>/recordings
    format: Mapped[str] = mapped_column(String(10), default="ogg")
    state: Mapped[str] = mapped_column(String(20), default="recording")
    on_demand: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(String(500), default="")
    upload_attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed uploads so far
    next_upload_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the next retry


# -- statistics summaries (clickphone.stats) --------------------------------------------------
# Kept up to date from the ``call.record`` outbox event; buckets are integer epoch units
# (hour = epoch // 3600, day = epoch // 86400, minute = epoch // 60, month = yyyymm), UTC.


class CallStatsHourly(Base):
    __tablename__ = "call_stats_hourly"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(10), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    ring_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class CallStatsEmployeeDaily(Base):
    __tablename__ = "call_stats_employee_daily"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(10), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    ring_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class CallStatsNumberMonthly(Base):
    __tablename__ = "call_stats_number_monthly"
    __table_args__ = (Index("ix_call_stats_number_monthly_rank", "tenant_id", "month", "calls"),)

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class CallStatsConcurrency(Base):
    """Calls in progress during each minute (a call counts in every minute it overlaps)."""

    __tablename__ = "call_stats_concurrency"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)


class CallStatsEmployeeMonthly(Base):
    """Monthly sums of ``call_stats_employee_daily`` (month = yyyymm): long periods."""

    __tablename__ = "call_stats_employee_monthly"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(10), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    ring_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class CallStatsConcurrencyHourly(Base):
    """The busiest minute of each hour (the max of ``call_stats_concurrency``)."""

    __tablename__ = "call_stats_concurrency_hourly"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    peak: Mapped[int] = mapped_column(Integer, default=0)


class CallStatsCountryDaily(Base):
    """Calls per day by the external party's country (ISO 3166 alpha-2, "" unknown)."""

    __tablename__ = "call_stats_country_daily"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    direction: Mapped[str] = mapped_column(String(10), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    ring_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class CallStatsLineDaily(Base):
    """Calls per day by line (``CallRecord.line``, "" unknown)."""

    __tablename__ = "call_stats_line_daily"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    line: Mapped[str] = mapped_column(String(64), primary_key=True)
    direction: Mapped[str] = mapped_column(String(10), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    ring_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class CallStatsApplied(Base):
    """Call records already counted in the summaries (the event is delivered at least once)."""

    __tablename__ = "call_stats_applied"

    record_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class PasswordResetToken(Base):
    """A password-reset link sent by e-mail: single use, expiring, only its SHA-256 kept."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")


class ContactShare(Base):
    """A personal contact shared with one employee or with a department (read-only for them)."""

    __tablename__ = "contact_shares"
    __table_args__ = (
        UniqueConstraint("contact_id", "employee_id"),
        UniqueConstraint("contact_id", "department_id"),
        CheckConstraint("(employee_id IS NULL) <> (department_id IS NULL)", name="one_target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="CASCADE"), index=True
    )
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- notifications (clickphone.notifications) -------------------------------------------------


class Notification(Base):
    """Something a user should know (store decision, number expiry); unread until marked."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- click-to-call (clickphone.callback) -------------------------------------------------------


class ClickToCallSite(Base):
    """A website with the call-back widget: who it rings first and how often it may."""

    __tablename__ = "click_to_call_sites"
    __table_args__ = (
        CheckConstraint("(employee_id IS NULL) <> (department_id IS NULL)", name="one_target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="CASCADE"), index=True
    )
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    per_number_hourly: Mapped[int] = mapped_column(Integer, default=3)
    per_site_hourly: Mapped[int] = mapped_column(Integer, default=60)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CallbackRequest(Base):
    """One accepted call-back request (widget or cabinet); the hourly limits count these."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        Index("ix_callback_requests_site_created", "site_id", "created_at"),
        Index("ix_callback_requests_number_created", "tenant_id", "number", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("click_to_call_sites.id", ondelete="CASCADE")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    number: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    call_id: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- call flows and prompts (clickphone.flows) ------------------------------------------------
FLOW_TARGET_KINDS = ("number", "employee", "department")
PROMPT_SOURCES = ("upload", "recorded", "tts")


class CallFlow(Base):
    """A call flow: the draft graph being edited and a pointer to its live version.

    ``published_version`` is the number of the :class:`CallFlowVersion` calls use (None until
    the first publish). History is append-only: a rollback publishes a copy as a new number.
    """

    __tablename__ = "call_flows"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CallFlowVersion(Base):
    """One published version of a flow (never changed once written)."""

    __tablename__ = "call_flow_versions"
    __table_args__ = (UniqueConstraint("flow_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("call_flows.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    graph: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rollback_of: Mapped[int | None] = mapped_column(Integer)  # the version this one copies


class CallFlowAttachment(Base):
    """What a flow answers for: a virtual number, an employee or a department (one flow each)."""

    __tablename__ = "call_flow_attachments"
    __table_args__ = (
        CheckConstraint(_in("kind", FLOW_TARGET_KINDS), name="kind"),
        UniqueConstraint("kind", "target_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    flow_id: Mapped[int] = mapped_column(
        ForeignKey("call_flows.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlowModule(Base):
    """A module switch (e.g. the IVR) a flow's module_switch node branches on."""

    __tablename__ = "flow_modules"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class Prompt(Base):
    """An audio prompt: uploaded, recorded in the browser, or rendered from text.

    Files live under ``<data_dir>/prompts/<tenant_id>/``: ``<id>.wav`` (8 kHz mono, level
    normalised, what calls play) and, for uploads, the original as ``<id>.orig<ext>``."""

    __tablename__ = "prompts"
    __table_args__ = (CheckConstraint(_in("source", PROMPT_SOURCES), name="source"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_event_id)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    lang: Mapped[str] = mapped_column(String(10), default="")
    original_filename: Mapped[str] = mapped_column(String(255), default="")
    original_format: Mapped[str] = mapped_column(String(20), default="")
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ForwardingRule(Base):
    """An employee's personal forwarding: ordered steps ``[{destination, delay}]``."""

    __tablename__ = "forwarding_rules"

    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employees.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# -- messaging (clickphone.messaging) ---------------------------------------------------------
CONVERSATION_KINDS = ("direct", "group", "sms")
MESSAGE_CHANNELS = ("chat", "sms")
MESSAGE_DIRECTIONS = ("internal", "incoming", "outgoing")
MESSAGE_STATES = (
    "scheduled",  # waits for its time (delayed sending)
    "queued",  # to be sent (SMS: no SMSC has taken it yet)
    "sending",  # handed to an SMSC, no answer yet
    "sent",  # accepted (SMS: by the SMSC; chat: stored for the recipients)
    "delivered",  # reached the phone (SMS receipt) or a recipient opened it (chat)
    "failed",  # not delivered: refused, undeliverable, expired or no route
    "received",  # an incoming SMS
    "cancelled",  # a scheduled message withdrawn before its time
)
CAMPAIGN_STATES = ("scheduled", "sending", "done", "cancelled")


class Conversation(Base):
    """A chat thread: two colleagues (``direct``), a group, or one user's SMS exchange with a
    phone number (``sms``). ``key`` makes direct and SMS threads unique per tenant."""

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint(_in("kind", CONVERSATION_KINDS), name="kind"),
        UniqueConstraint("tenant_id", "key"),
        Index("ix_conversations_tenant_last", "tenant_id", "last_message_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    key: Mapped[str | None] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(200), default="")
    external_number: Mapped[str | None] = mapped_column(String(20))
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConversationMember(Base):
    """Who sees a conversation; ``last_read_at`` drives unread counts."""

    __tablename__ = "conversation_members"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MessageCampaign(Base):
    """A mass mailing: SMS to many numbers or a chat message to many colleagues, now or
    later; each recipient is one message carrying ``campaign_id``."""

    __tablename__ = "message_campaigns"
    __table_args__ = (
        CheckConstraint(_in("channel", MESSAGE_CHANNELS), name="channel"),
        CheckConstraint(_in("status", CAMPAIGN_STATES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    line: Mapped[str | None] = mapped_column(String(20))
    translit: Mapped[bool] = mapped_column(Boolean, default=False)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    repeat_of: Mapped[int | None] = mapped_column(
        ForeignKey("message_campaigns.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(Base):
    """One chat message or SMS, with its delivery state. Written in the same transaction as
    its ``message.created`` outbox event; never deleted (a deleted message loses its text)."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(_in("channel", MESSAGE_CHANNELS), name="channel"),
        CheckConstraint(_in("direction", MESSAGE_DIRECTIONS), name="direction"),
        CheckConstraint(_in("status", MESSAGE_STATES), name="status"),
        Index("ix_messages_tenant_created", "tenant_id", "created_at"),
        # covering on PostgreSQL: a member's report reads only the index
        Index(
            "ix_messages_conversation_created",
            "conversation_id",
            "created_at",
            postgresql_include=[
                "tenant_id",
                "channel",
                "direction",
                "status",
                "sender_user_id",
                "parts",
                "cost",
            ],
        ),
        Index("ix_messages_status_scheduled", "status", "scheduled_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_event_id)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(10))
    sender_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    external_number: Mapped[str | None] = mapped_column(String(20))
    line: Mapped[str | None] = mapped_column(String(20))  # our number the SMS used
    kind: Mapped[str] = mapped_column(String(10), default="text")  # text, file
    body: Mapped[str] = mapped_column(Text, default="")
    attachment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    translit: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str] = mapped_column(String(300), default="")
    parts: Mapped[int] = mapped_column(Integer, default=1)
    trunk_id: Mapped[int | None] = mapped_column(ForeignKey("trunks.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("message_campaigns.id", ondelete="SET NULL"), index=True
    )
    cost: Mapped[int | None] = mapped_column(Integer)  # minor units, filled in by billing
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MessageStatsDaily(Base):
    """Messages per tenant, UTC day (days since 1970-01-01), channel, direction, status and
    sender (0: none), for settled days (:mod:`clickphone.messaging.rollup`)."""

    __tablename__ = "message_stats_daily"
    __table_args__ = (Index("ix_message_stats_daily_tenant_day", "tenant_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    day: Mapped[int] = mapped_column(Integer, index=True)
    channel: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    sender_user_id: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    parts: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[int] = mapped_column(Integer, default=0)


class MessageStatsDay(Base):
    """A day summarised into ``message_stats_daily`` (for every tenant)."""

    __tablename__ = "message_stats_days"

    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class Voicemail(Base):
    """A message a caller left through a call flow's voicemail node; the audio is a WAV under
    the data folder (``path`` relative to it). ``id`` is the call's record id."""

    __tablename__ = "voicemails"
    __table_args__ = (Index("ix_voicemails_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    owner_employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL"), index=True
    )
    # left on a department's number: its members hear it
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    caller: Mapped[str] = mapped_column(String(64))
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    callee: Mapped[str] = mapped_column(String(64), default="")
    path: Mapped[str] = mapped_column(String(500))
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SmsPart(Base):
    """One submitted SMS part and the SMSC's id for it, so a delivery receipt finds its
    message; the message is delivered when every part is."""

    __tablename__ = "sms_parts"
    __table_args__ = (UniqueConstraint("trunk_id", "provider_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    trunk_id: Mapped[int] = mapped_column(ForeignKey("trunks.id", ondelete="CASCADE"))
    provider_id: Mapped[str] = mapped_column(String(65))
    state: Mapped[str] = mapped_column(String(20), default="sent")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = [
    "BLOCK_DIRECTIONS",
    "CAMPAIGN_STATES",
    "CONVERSATION_KINDS",
    "DEFAULT_AUTH_ALGORITHMS",
    "FLOW_TARGET_KINDS",
    "MESSAGE_CHANNELS",
    "MESSAGE_DIRECTIONS",
    "MESSAGE_STATES",
    "NUMBER_STATES",
    "PROMPT_SOURCES",
    "RECORDING_STATES",
    "REQUEST_KINDS",
    "REQUEST_STATES",
    "ROLES",
    "TENANT_KINDS",
    "TRUNK_KINDS",
    "ApiToken",
    "Base",
    "BlockedNumber",
    "CallFlow",
    "CallFlowAttachment",
    "CallFlowVersion",
    "CallRecord",
    "CallStatsApplied",
    "CallStatsConcurrency",
    "CallStatsConcurrencyHourly",
    "CallStatsCountryDaily",
    "CallStatsEmployeeDaily",
    "CallStatsEmployeeMonthly",
    "CallStatsHourly",
    "CallStatsLineDaily",
    "CallStatsNumberMonthly",
    "CallbackRequest",
    "ClickToCallSite",
    "Contact",
    "ContactNumber",
    "Conversation",
    "ConversationMember",
    "Department",
    "Employee",
    "FlowModule",
    "ForwardingRule",
    "LoginThrottle",
    "Message",
    "MessageCampaign",
    "MessageStatsDaily",
    "MessageStatsDay",
    "Notification",
    "NumberRequest",
    "OutboxEvent",
    "PhoneNumber",
    "Prompt",
    "Recording",
    "RecordingRule",
    "RecordingSettings",
    "SipDevice",
    "SipRegistration",
    "SmsPart",
    "Tenant",
    "TenantPhoneSettings",
    "Trunk",
    "User",
    "UserPhoneSettings",
    "Voicemail",
    "WebSession",
]
