"""Accounts: tenants, users, sign-up/sign-in, browser sessions, API tokens, profile.

Public methods that change data commit their own transaction (a unit of work per call), so
a response is only sent for committed data.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import (
    Conflict,
    InvalidCredentials,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from clickphone.accounts.passwords import (
    generate_password,
    hash_password,
    hash_token,
    needs_rehash,
    new_token,
    password_problem,
    verify_password,
)
from clickphone.accounts.scope import Actor
from clickphone.accounts.throttle import LoginThrottler
from clickphone.bus.outbox import add_event
from clickphone.db.models import (
    ApiToken,
    Employee,
    PhoneNumber,
    Tenant,
    User,
    WebSession,
    utcnow,
)

OWNER_EXTENSION = "100"  # employees get 101, 102, ... automatically


def normalize_email(email: str) -> str:
    return email.strip().lower()


def actor_for(user: User, *, via_token: bool = False) -> Actor:
    return Actor(
        user_id=user.id,
        role=user.role,
        tenant_id=user.tenant_id,
        email=user.email,
        via_token=via_token,
    )


def check_password_strength(password: str, field: str = "password") -> None:
    problem = password_problem(password)
    if problem:
        raise ValidationFailed({field: problem})


async def new_customer_number(session: AsyncSession) -> str:
    for _ in range(20):
        candidate = "1" + "".join(secrets.choice("0123456789") for _ in range(7))
        exists = await session.scalar(
            select(func.count()).select_from(Tenant).where(Tenant.customer_number == candidate)
        )
        if not exists:
            return candidate
    raise Conflict("could not allocate a customer number")  # pragma: no cover


async def email_taken(session: AsyncSession, email: str, *, except_user: int | None = None) -> bool:
    stmt = select(User.id).where(User.email == normalize_email(email))
    if except_user is not None:
        stmt = stmt.where(User.id != except_user)
    return (await session.scalar(stmt)) is not None


def email_conflict() -> Conflict:
    return Conflict(
        "this e-mail is already registered",
        error_id="conflict.email_taken",
        details={"fields": {"email": "already registered"}},
    )


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    tenant: Tenant | None
    session_token: str
    csrf_token: str


class AccountService:
    def __init__(
        self, *, throttler: LoginThrottler | None = None, session_max_age: int = 14 * 24 * 3600
    ) -> None:
        self.throttler = throttler or LoginThrottler()
        self.session_max_age = timedelta(seconds=session_max_age)

    # -- tenants and users ----------------------------------------------------------------
    async def create_tenant_with_owner(
        self,
        session: AsyncSession,
        *,
        name: str,
        kind: str,
        email: str,
        password: str,
        full_name: str = "",
        position: str = "",
        nickname: str | None = None,
    ) -> tuple[Tenant, User]:
        """Create a tenant and its first user (owner, or the individual); not committed."""
        check_password_strength(password)
        if await email_taken(session, email):
            raise email_conflict()
        tenant = Tenant(name=name, kind=kind, customer_number=await new_customer_number(session))
        session.add(tenant)
        await session.flush()
        user = User(
            tenant_id=tenant.id,
            email=normalize_email(email),
            password_hash=hash_password(password),
            full_name=full_name,
            position=position,
            nickname=nickname,
            role="tenant_owner" if kind == "company" else "individual",
        )
        session.add(user)
        await session.flush()
        if kind == "company":
            # The owner is an employee too: listed, dialable, and able to get a phone.
            session.add(Employee(tenant_id=tenant.id, user_id=user.id, extension=OWNER_EXTENSION))
            await session.flush()
        add_event(
            session,
            "tenant.created",
            {"tenant_id": tenant.id, "kind": kind, "owner_user_id": user.id},
            tenant_id=tenant.id,
        )
        return tenant, user

    async def signup(
        self, session: AsyncSession, *, ip: str = "", user_agent: str = "", **fields: Any
    ) -> SignedIn:
        try:
            tenant, user = await self.create_tenant_with_owner(session, **fields)
            token, csrf = await self._new_web_session(session, user, ip, user_agent)
            await session.commit()
        except IntegrityError:
            await session.rollback()
            raise email_conflict() from None
        return SignedIn(user, tenant, token, csrf)

    async def ensure_operator_admin(
        self, session: AsyncSession, email: str, password: str | None
    ) -> tuple[User, str | None]:
        """Create the first operator admin if there is none; return it and a new password."""
        existing = await session.scalar(
            select(User).where(User.role == "operator_admin").order_by(User.id).limit(1)
        )
        if existing is not None:
            return existing, None
        generated = None
        if not password:
            password = generated = generate_password(16)
        user = User(
            tenant_id=None,
            email=normalize_email(email),
            password_hash=hash_password(password),
            full_name="ClickPhone operator",
            role="operator_admin",
        )
        session.add(user)
        await session.commit()
        return user, generated

    # -- sign-in ----------------------------------------------------------------------------
    async def authenticate(
        self, session: AsyncSession, email: str, password: str, ip: str | None
    ) -> User:
        """Check credentials with throttling; commits the failure counters."""
        now = utcnow()
        keys = self.throttler.keys(email, ip)
        await self.throttler.check(session, keys, now)
        user = await session.scalar(select(User).where(User.email == normalize_email(email)))
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None or not user.is_active:
            await self.throttler.record_failure(session, keys, now)
            await session.commit()
            raise InvalidCredentials()
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        await self.throttler.record_success(session, email)
        return user

    async def signin(
        self, session: AsyncSession, email: str, password: str, ip: str = "", user_agent: str = ""
    ) -> SignedIn:
        user = await self.authenticate(session, email, password, ip or None)
        token, csrf = await self._new_web_session(session, user, ip, user_agent)
        tenant = await session.get(Tenant, user.tenant_id) if user.tenant_id else None
        await session.commit()
        return SignedIn(user, tenant, token, csrf)

    async def _new_web_session(
        self, session: AsyncSession, user: User, ip: str, user_agent: str
    ) -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        session.add(
            WebSession(
                token_hash=hash_token(token),
                user_id=user.id,
                csrf_token=csrf,
                expires_at=utcnow() + self.session_max_age,
                ip=ip[:64],
                user_agent=user_agent[:500],
            )
        )
        return token, csrf

    async def resolve_web_session(
        self, session: AsyncSession, token: str
    ) -> tuple[User, WebSession] | None:
        ws = await session.scalar(
            select(WebSession).where(WebSession.token_hash == hash_token(token))
        )
        if ws is None or ws.expires_at <= utcnow():
            return None
        user = await session.get(User, ws.user_id)
        if user is None or not user.is_active:
            return None
        return user, ws

    async def signout(self, session: AsyncSession, token: str) -> None:
        await session.execute(delete(WebSession).where(WebSession.token_hash == hash_token(token)))
        await session.commit()

    # -- API tokens -------------------------------------------------------------------------
    async def create_api_token(
        self, session: AsyncSession, actor: Actor, name: str, expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]:
        token = new_token()
        row = ApiToken(
            user_id=actor.user_id,
            tenant_id=actor.tenant_id,
            name=name,
            token_prefix=token[:10],
            token_hash=hash_token(token),
            expires_at=expires_at,
        )
        session.add(row)
        await session.commit()
        return row, token

    async def list_api_tokens(self, session: AsyncSession, actor: Actor) -> list[ApiToken]:
        rows = await session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == actor.user_id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id)
        )
        return list(rows.all())

    async def revoke_api_token(self, session: AsyncSession, actor: Actor, token_id: int) -> None:
        row = await session.get(ApiToken, token_id)
        if row is None or row.user_id != actor.user_id or row.revoked_at is not None:
            raise NotFound(f"api token {token_id} not found")
        row.revoked_at = utcnow()
        await session.commit()

    async def resolve_api_token(self, session: AsyncSession, token: str) -> User | None:
        row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
        now = utcnow()
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            return None
        user = await session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
            row.last_used_at = now
            await session.commit()
        return user

    # -- profile ----------------------------------------------------------------------------
    async def get_user(self, session: AsyncSession, user_id: int) -> User:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        return user

    async def update_profile(self, session: AsyncSession, actor: Actor, **changes: Any) -> User:
        user = await self.get_user(session, actor.user_id)
        email = changes.pop("email", None)
        if email is not None and normalize_email(email) != user.email:
            if await email_taken(session, email, except_user=user.id):
                raise email_conflict()
            user.email = normalize_email(email)
        for key, value in changes.items():
            if value is not None:
                setattr(user, key, value)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            raise email_conflict() from None
        return user

    async def set_avatar(self, session: AsyncSession, actor: Actor, path: str) -> User:
        user = await self.get_user(session, actor.user_id)
        user.avatar_path = path
        await session.commit()
        return user

    async def change_password(
        self,
        session: AsyncSession,
        actor: Actor,
        current: str,
        new: str,
        *,
        keep_session_token: str | None = None,
    ) -> None:
        user = await self.get_user(session, actor.user_id)
        if not verify_password(user.password_hash, current):
            raise InvalidCredentials(
                "the current password is wrong",
                details={"fields": {"current_password": "wrong password"}},
            )
        check_password_strength(new, "new_password")
        user.password_hash = hash_password(new)
        user.password_changed_at = utcnow()
        # Sign out every other browser session.
        stmt = delete(WebSession).where(WebSession.user_id == user.id)
        if keep_session_token:
            stmt = stmt.where(WebSession.token_hash != hash_token(keep_session_token))
        await session.execute(stmt)
        await session.commit()

    async def set_password(
        self, session: AsyncSession, actor: Actor, user_id: int, new: str
    ) -> None:
        """An administrator resets another user's password (same tenant only)."""
        user = await self.get_user(session, user_id)
        if not actor.is_operator and (
            not actor.can_manage_tenant or user.tenant_id != actor.tenant_id
        ):
            raise PermissionDenied()
        check_password_strength(new)
        user.password_hash = hash_password(new)
        user.password_changed_at = utcnow()
        await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        await session.commit()

    async def my_numbers(self, session: AsyncSession, actor: Actor) -> dict[str, Any]:
        """The ClickPhone (customer) number, virtual numbers and the extension."""
        tenant = await session.get(Tenant, actor.tenant_id) if actor.tenant_id else None
        extension = await session.scalar(
            select(Employee.extension).where(Employee.user_id == actor.user_id)
        )
        virtual: list[PhoneNumber] = []
        if actor.tenant_id is not None:
            stmt = select(PhoneNumber).where(PhoneNumber.tenant_id == actor.tenant_id)
            if actor.role in {"employee"}:
                stmt = stmt.where(
                    (PhoneNumber.user_id == actor.user_id) | PhoneNumber.user_id.is_(None)
                )
            virtual = list((await session.scalars(stmt.order_by(PhoneNumber.e164))).all())
        return {
            "clickphone_number": tenant.customer_number if tenant else None,
            "virtual_numbers": virtual,
            "extension": extension,
        }

    # -- tenants (read) ---------------------------------------------------------------------
    async def get_tenant(self, session: AsyncSession, actor: Actor, tenant_id: int) -> Tenant:
        if not actor.is_operator and actor.tenant_id != tenant_id:
            raise NotFound(f"tenant {tenant_id} not found")
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return tenant

    async def rename_tenant(
        self, session: AsyncSession, actor: Actor, tenant_id: int, name: str
    ) -> Tenant:
        tenant = await self.get_tenant(session, actor, tenant_id)
        actor.require_manager()
        tenant.name = name
        await session.commit()
        return tenant

    async def find_tenant(self, session: AsyncSession, ref: str) -> Tenant:
        """Find a tenant by id, customer number or exact name (for the CLI)."""
        stmt = select(Tenant).where((Tenant.customer_number == ref) | (Tenant.name == ref))
        if ref.isdigit():
            stmt = select(Tenant).where(
                (Tenant.id == int(ref)) | (Tenant.customer_number == ref) | (Tenant.name == ref)
            )
        rows = (await session.scalars(stmt)).all()
        if not rows:
            raise NotFound(f"no tenant {ref!r}")
        if len(rows) > 1:
            raise Conflict(f"{ref!r} matches several tenants; use the tenant id")
        return rows[0]
