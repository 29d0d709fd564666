"""Trunks, dial-plan settings, caller ID and the blacklist: validate, persist, then notify."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from clickphone.accounts.scope import Actor, get_scoped
from clickphone.bus.outbox import add_event
from clickphone.db.models import (
    BlockedNumber,
    PhoneNumber,
    Tenant,
    TenantPhoneSettings,
    Trunk,
    UserPhoneSettings,
)
from clickphone.trunks.dialplan import blocked_by, country_of, normalize
from clickphone.trunks.router import DEFAULT_COUNTRY
from clickphone.trunks.secrets import TrunkSecrets


async def check_outbound(session: AsyncSession, tenant_id: int, raw: str) -> tuple[str | None, str]:
    """May the tenant reach ``raw`` on the phone network (calls, call-backs, SMS)?

    ``(e164, "")`` when it may; otherwise a refusal: ``"not_a_number"``, ``"blocked"`` (the
    tenant's or the operator's blacklist) or ``"country"`` (outside the allowed countries,
    by default the tenant's own)."""
    settings = await session.get(TenantPhoneSettings, tenant_id)
    country = settings.default_country if settings else DEFAULT_COUNTRY
    e164 = normalize(raw, country)
    if e164 is None:
        return None, "not_a_number"
    patterns = (
        await session.execute(
            select(BlockedNumber.pattern).where(
                or_(BlockedNumber.tenant_id == tenant_id, BlockedNumber.tenant_id.is_(None))
            )
        )
    ).scalars()
    if blocked_by(e164, patterns) is not None:
        return e164, "blocked"
    allowed = {c.upper() for c in (settings.allowed_countries if settings else []) or []}
    allowed = allowed or {country.upper()}
    if "*" not in allowed and country_of(e164) not in allowed:
        return e164, "country"
    return e164, ""


class TrunkService:
    async def list(self, session: AsyncSession, actor: Actor) -> list[Trunk]:
        stmt = select(Trunk).order_by(Trunk.priority, Trunk.id)
        if not actor.is_operator:
            actor.require_manager()
            stmt = stmt.where(Trunk.tenant_id == actor.tenant_id)
        return list((await session.execute(stmt)).scalars())

    async def get(self, session: AsyncSession, actor: Actor, trunk_id: int) -> Trunk:
        row = await get_scoped(session, Trunk, trunk_id, actor)
        if not actor.is_operator:
            actor.require_manager()
        return row

    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        fields: dict[str, Any],
        secrets: TrunkSecrets,
    ) -> Trunk:
        actor.require_operator()
        fields = {**fields, "password": secrets.encrypt(fields.get("password"))}
        fields["smpp_password"] = secrets.encrypt(fields.get("smpp_password"))
        tenant_id = fields.get("tenant_id")
        if tenant_id is not None and await session.get(Tenant, tenant_id) is None:
            raise ValidationFailed({"tenant_id": "no such tenant"})
        _check(fields, kind=fields.get("kind", "ip"))
        row = Trunk(**{k: v for k, v in fields.items() if v is not None})
        session.add(row)
        await self._flush(session, row.name)
        add_event(session, "trunk.created", {"trunk_id": row.id}, tenant_id=row.tenant_id)
        await session.commit()
        return row

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        trunk_id: int,
        fields: dict[str, Any],
        secrets: TrunkSecrets,
    ) -> Trunk:
        actor.require_operator()
        row = await self.get(session, actor, trunk_id)
        if "password" in fields:  # "" or null removes it
            fields = {**fields, "password": secrets.encrypt(fields["password"])}
        if "smpp_password" in fields:
            fields = {**fields, "smpp_password": secrets.encrypt(fields["smpp_password"])}
        _check(fields, kind=fields.get("kind") or row.kind, has_user=bool(row.username))
        for key, value in fields.items():
            setattr(row, key, value)
        await self._flush(session, row.name)
        add_event(session, "trunk.updated", {"trunk_id": row.id}, tenant_id=row.tenant_id)
        await session.commit()
        return row

    async def delete(self, session: AsyncSession, actor: Actor, trunk_id: int) -> None:
        actor.require_operator()
        row = await self.get(session, actor, trunk_id)
        await session.delete(row)
        add_event(session, "trunk.deleted", {"trunk_id": trunk_id}, tenant_id=row.tenant_id)
        await session.commit()

    async def _flush(self, session: AsyncSession, name: str) -> None:
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()
            raise Conflict(
                f"a trunk named {name!r} exists",
                error_id="conflict.trunk_exists",
                details={"fields": {"name": "already exists"}},
            ) from None


def _check(fields: dict[str, Any], *, kind: str, has_user: bool = False) -> None:
    if kind == "registration" and not (fields.get("username") or has_user):
        raise ValidationFailed({"username": "a registration trunk needs the carrier's username"})


def trunk_out(row: Trunk) -> dict[str, Any]:
    hidden = ("password", "smpp_password")
    data = {c.name: getattr(row, c.name) for c in Trunk.__table__.columns if c.name not in hidden}
    data["has_password"] = bool(row.password)
    data["has_smpp_password"] = bool(row.smpp_password)
    return data


class PhoneSettingsService:
    """A tenant's dial plan and caller ID, and each user's own caller ID."""

    async def get(self, session: AsyncSession, actor: Actor) -> TenantPhoneSettings:
        tenant_id = _tenant_of(actor)
        row = await session.get(TenantPhoneSettings, tenant_id)
        if row is None:
            row = TenantPhoneSettings(
                tenant_id=tenant_id, default_country=DEFAULT_COUNTRY, allowed_countries=[]
            )
        return row

    async def update(
        self, session: AsyncSession, actor: Actor, fields: dict[str, Any]
    ) -> TenantPhoneSettings:
        actor.require_manager()
        tenant_id = _tenant_of(actor)
        row = await session.get(TenantPhoneSettings, tenant_id)
        if row is None:
            row = TenantPhoneSettings(
                tenant_id=tenant_id, default_country=DEFAULT_COUNTRY, allowed_countries=[]
            )
            session.add(row)
        if fields.get("default_country"):
            row.default_country = str(fields["default_country"]).upper()
        if fields.get("allowed_countries") is not None:
            row.allowed_countries = sorted({str(c).upper() for c in fields["allowed_countries"]})
        if "caller_id_number_id" in fields:
            await _own_number(session, tenant_id, fields["caller_id_number_id"])
            row.caller_id_number_id = fields["caller_id_number_id"]
        add_event(session, "phone_settings.updated", {"tenant_id": tenant_id}, tenant_id=tenant_id)
        await session.commit()
        return row

    async def get_user(self, session: AsyncSession, actor: Actor) -> tuple[int | None, str | None]:
        row = await session.get(UserPhoneSettings, actor.user_id)
        chosen = row.caller_id_number_id if row is not None else None
        return chosen, await self.effective_caller_id(session, actor)

    async def set_user(
        self, session: AsyncSession, actor: Actor, number_id: int | None
    ) -> tuple[int | None, str | None]:
        tenant_id = _tenant_of(actor)
        number = await _own_number(session, tenant_id, number_id)
        if number is not None and number.user_id not in (None, actor.user_id):
            raise ValidationFailed({"caller_id_number_id": "that number belongs to a colleague"})
        row = await session.get(UserPhoneSettings, actor.user_id)
        if row is None:
            row = UserPhoneSettings(user_id=actor.user_id, tenant_id=tenant_id)
            session.add(row)
        row.caller_id_number_id = number_id
        await session.commit()
        return await self.get_user(session, actor)

    async def effective_caller_id(self, session: AsyncSession, actor: Actor) -> str | None:
        """What a call of this user presents (same order as the router)."""
        if actor.tenant_id is None:
            return None
        ups = await session.get(UserPhoneSettings, actor.user_id)
        tps = await session.get(TenantPhoneSettings, actor.tenant_id)
        for number_id in (
            ups.caller_id_number_id if ups else None,
            tps.caller_id_number_id if tps else None,
        ):
            if number_id is None:
                continue
            number = await session.get(PhoneNumber, number_id)
            if number is not None and number.state == "assigned":
                return number.e164
        owned = select(PhoneNumber.e164).where(
            PhoneNumber.tenant_id == actor.tenant_id, PhoneNumber.state == "assigned"
        )
        mine = (
            await session.execute(owned.where(PhoneNumber.user_id == actor.user_id).limit(1))
        ).scalar_one_or_none()
        if mine is not None:
            return str(mine)
        first = (
            await session.execute(owned.order_by(PhoneNumber.id).limit(1))
        ).scalar_one_or_none()
        return str(first) if first is not None else None


def _tenant_of(actor: Actor) -> int:
    if actor.tenant_id is None:
        raise PermissionDenied("phone settings belong to a customer account")
    return actor.tenant_id


async def _own_number(
    session: AsyncSession, tenant_id: int, number_id: int | None
) -> PhoneNumber | None:
    if number_id is None:
        return None
    number = await session.get(PhoneNumber, number_id)
    if number is None or number.tenant_id != tenant_id or number.state != "assigned":
        raise ValidationFailed({"caller_id_number_id": "not a number of your account"})
    return number


class BlacklistService:
    async def list(self, session: AsyncSession, actor: Actor) -> list[BlockedNumber]:
        stmt = select(BlockedNumber).order_by(BlockedNumber.id)
        if not actor.is_operator:
            stmt = stmt.where(
                or_(BlockedNumber.tenant_id == actor.tenant_id, BlockedNumber.tenant_id.is_(None))
            )
        return list((await session.execute(stmt)).scalars())

    async def add(
        self, session: AsyncSession, actor: Actor, fields: dict[str, Any]
    ) -> BlockedNumber:
        if actor.is_operator:
            tenant_id = fields.get("tenant_id")
        else:
            actor.require_manager()
            tenant_id = actor.tenant_id
            if fields.get("tenant_id") not in (None, tenant_id):
                raise PermissionDenied("you may not block numbers for another tenant")
        raw = str(fields["pattern"])
        prefix = raw.endswith("*")
        digits = raw.rstrip("*")
        country = DEFAULT_COUNTRY
        if tenant_id is not None:
            settings = await session.get(TenantPhoneSettings, tenant_id)
            country = settings.default_country if settings else country
        if prefix:
            stripped = "".join(ch for ch in digits if ch.isdigit())
            pattern = "+" + stripped + "*"
        else:
            e164 = normalize(digits, country)
            if e164 is None:
                raise ValidationFailed({"pattern": "not a phone number (or a prefix ending in *)"})
            pattern = e164
        row = BlockedNumber(
            tenant_id=tenant_id,
            pattern=pattern,
            direction=fields.get("direction") or "both",
            reason=fields.get("reason") or "",
        )
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()
            raise Conflict(
                f"{pattern} is already blocked", error_id="conflict.blocked_exists"
            ) from None
        add_event(
            session, "blacklist.added", {"id": row.id, "pattern": pattern}, tenant_id=tenant_id
        )
        await session.commit()
        return row

    async def delete(self, session: AsyncSession, actor: Actor, ident: int) -> None:
        row = await session.get(BlockedNumber, ident)
        if row is None or (not actor.is_operator and row.tenant_id != actor.tenant_id):
            raise NotFound(f"blocked_numbers {ident} not found")
        if not actor.is_operator:
            actor.require_manager()
        await session.delete(row)
        await session.commit()
