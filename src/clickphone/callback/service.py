"""Click-to-call sites and call-back requests: validate, limit, then hand to the originator.

The call itself is placed by an :class:`Originator` (the B2BUA's originate, found on
``app.state.originator``); this module decides whether a request may become a call:

- the site exists and is enabled, and the browser's ``Origin`` is one the site allows;
- the number is a phone number (E.164 with the tenant's default country), not blacklisted
  (the tenant's or the operator's list, any direction) and in a country the tenant may call;
  the cabinet's "Call back" also takes an extension of the caller's own company (an
  employee's or a department's), which is called as dialled;
- the site's hourly limit and the per-visitor-number hourly limit are not used up (429
  ``callback_limited`` with Retry-After). Accepted requests are rows of ``callback_requests``
  (committed before the call is placed, so parallel requests count each other).
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import (
    ClickPhoneError,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from clickphone.accounts.scope import Actor, get_scoped
from clickphone.bus.outbox import add_event
from clickphone.db.models import (
    CallbackRequest,
    ClickToCallSite,
    Department,
    Employee,
    utcnow,
)
from clickphone.trunks.service import check_outbound

WINDOW = timedelta(hours=1)
# the cabinet's "Call back": calls one signed-in employee may ask for per hour
CABINET_HOURLY = 30


class Originator(Protocol):
    """Places a call-back: rings the employee (or department) first, then ``number_e164``,
    and bridges them. Returns the call id."""

    async def call_back(
        self,
        *,
        tenant_id: int,
        employee_id: int | None,
        department_id: int | None,
        number_e164: str,
        source: str,
    ) -> str: ...


class CallbackLimited(ClickPhoneError):
    error_id = "callback_limited"
    status = 429
    message = "too many call-back requests; try again later"

    def __init__(self, retry_after: int, scope: str) -> None:
        super().__init__(
            details={"retry_after": retry_after, "limit": scope},
            headers={"Retry-After": str(retry_after)},
        )


class CallbackUnavailable(ClickPhoneError):
    error_id = "callback_unavailable"
    status = 503
    message = "call-back is not available right now"


class OriginDenied(ClickPhoneError):
    error_id = "callback_origin_denied"
    status = 403
    message = "this website may not use this call-back widget"


class NumberRefused(ClickPhoneError):
    error_id = "callback_number_refused"
    status = 403
    message = "we cannot call this number"


def new_site_key() -> str:
    return secrets.token_urlsafe(24)


def normalize_origin(value: str) -> str:
    """``https://Shop.example:443/`` → ``https://shop.example``; ValueError when not an origin."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin like https://shop.example")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{value!r}: an origin has no path")
    default = 443 if parts.scheme == "https" else 80
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def origin_allowed(site: ClickToCallSite, origin: str | None) -> bool:
    allowed = list(site.allowed_origins or [])
    if not allowed:
        return True
    if not origin:
        return False
    try:
        return normalize_origin(origin) in allowed
    except ValueError:
        return False


class SiteService:
    async def list(self, session: AsyncSession, actor: Actor) -> list[ClickToCallSite]:
        actor.require_manager()
        stmt = select(ClickToCallSite).order_by(ClickToCallSite.id)
        if not actor.is_operator:
            stmt = stmt.where(ClickToCallSite.tenant_id == actor.tenant_id)
        return list((await session.execute(stmt)).scalars())

    async def get(self, session: AsyncSession, actor: Actor, ident: int) -> ClickToCallSite:
        row = await get_scoped(session, ClickToCallSite, ident, actor)
        actor.require_manager()
        return row

    async def create(
        self, session: AsyncSession, actor: Actor, fields: dict[str, Any]
    ) -> ClickToCallSite:
        actor.require_manager()
        actor.require_company_member()
        tenant_id = actor.tenant_for_create(fields.pop("tenant_id", None))
        row = ClickToCallSite(tenant_id=tenant_id, public_key=new_site_key())
        await self._apply(session, row, fields)
        session.add(row)
        await session.flush()
        add_event(session, "callback.site.created", {"site_id": row.id}, tenant_id=tenant_id)
        await session.commit()
        return row

    async def update(
        self, session: AsyncSession, actor: Actor, ident: int, fields: dict[str, Any]
    ) -> ClickToCallSite:
        row = await self.get(session, actor, ident)
        rotate = fields.pop("rotate_key", False)
        await self._apply(session, row, fields)
        if rotate:
            row.public_key = new_site_key()
        await session.commit()
        return row

    async def delete(self, session: AsyncSession, actor: Actor, ident: int) -> None:
        row = await self.get(session, actor, ident)
        await session.delete(row)
        await session.commit()

    async def _apply(
        self, session: AsyncSession, row: ClickToCallSite, fields: dict[str, Any]
    ) -> None:
        if "employee_id" in fields or "department_id" in fields:
            employee_id = fields.get("employee_id")
            department_id = fields.get("department_id")
            if (employee_id is None) == (department_id is None):
                raise ValidationFailed(
                    {"employee_id": "name exactly one of employee_id and department_id"}
                )
            if employee_id is not None:
                emp = await session.get(Employee, employee_id)
                if emp is None or emp.tenant_id != row.tenant_id:
                    raise ValidationFailed({"employee_id": "no such employee in your company"})
            if department_id is not None:
                dep = await session.get(Department, department_id)
                if dep is None or dep.tenant_id != row.tenant_id:
                    raise ValidationFailed({"department_id": "no such department in your company"})
            row.employee_id = employee_id
            row.department_id = department_id
        elif row.id is None:
            raise ValidationFailed({"employee_id": "name the employee or department to ring"})
        for key in ("name", "allowed_origins", "per_number_hourly", "per_site_hourly", "enabled"):
            if fields.get(key) is not None:
                setattr(row, key, fields[key])


class CallbackService:
    async def site_by_key(self, session: AsyncSession, key: str) -> ClickToCallSite:
        site = await session.scalar(
            select(ClickToCallSite).where(ClickToCallSite.public_key == key)
        )
        if site is None or not site.enabled:
            raise NotFound("no such call-back widget", error_id="callback_site_not_found")
        return site

    async def from_site(
        self,
        session: AsyncSession,
        originator: Originator | None,
        site: ClickToCallSite,
        raw_number: str,
        origin: str | None,
    ) -> tuple[str, str]:
        """Validate, count and place a widget's call-back; return (call id, E.164)."""
        if not origin_allowed(site, origin):
            raise OriginDenied()
        e164 = await self._check_number(session, site.tenant_id, raw_number)
        now = utcnow()
        await self._limit(
            session,
            now,
            CallbackRequest.site_id == site.id,
            site.per_site_hourly,
            "site",
        )
        await self._limit(
            session,
            now,
            (CallbackRequest.site_id == site.id) & (CallbackRequest.number == e164),
            site.per_number_hourly,
            "number",
        )
        call_id = await self._place(
            session,
            originator,
            CallbackRequest(
                tenant_id=site.tenant_id, site_id=site.id, number=e164, source="widget"
            ),
            employee_id=site.employee_id,
            department_id=site.department_id,
        )
        return call_id, e164

    async def from_cabinet(
        self,
        session: AsyncSession,
        originator: Originator | None,
        actor: Actor,
        raw_number: str,
    ) -> tuple[str, str]:
        """The signed-in employee's "Call back": their phones ring first, then the number."""
        if actor.tenant_id is None:
            raise PermissionDenied("call-back is for a company's employees")
        employee = await session.scalar(select(Employee).where(Employee.user_id == actor.user_id))
        if employee is None:
            raise PermissionDenied("you have no phone extension to call from")
        extension = await self._company_extension(session, actor.tenant_id, raw_number)
        if extension is not None and extension == employee.extension:
            raise ValidationFailed({"number": "this is your own extension"})
        e164 = extension or await self._check_number(session, actor.tenant_id, raw_number)
        await self._limit(
            session,
            utcnow(),
            (CallbackRequest.user_id == actor.user_id) & (CallbackRequest.source == "cabinet"),
            CABINET_HOURLY,
            "user",
        )
        call_id = await self._place(
            session,
            originator,
            CallbackRequest(
                tenant_id=actor.tenant_id, user_id=actor.user_id, number=e164, source="cabinet"
            ),
            employee_id=employee.id,
            department_id=None,
        )
        return call_id, e164

    async def _company_extension(
        self, session: AsyncSession, tenant_id: int, raw: str
    ) -> str | None:
        """``raw`` when it is the extension of an employee or a department of the tenant."""
        text = raw.strip()
        if not text or len(text) > 16:
            return None
        for model in (Employee, Department):
            found = await session.scalar(
                select(model.id).where(model.tenant_id == tenant_id, model.extension == text)
            )
            if found is not None:
                return text
        return None

    async def _check_number(self, session: AsyncSession, tenant_id: int, raw: str) -> str:
        e164, refusal = await check_outbound(session, tenant_id, raw)
        if refusal == "not_a_number":
            raise ValidationFailed({"number": "not a phone number"})
        if refusal == "blocked":
            raise NumberRefused(error_id="callback_number_blocked")
        if refusal == "country":
            raise NumberRefused(
                "calls to this country are not allowed", error_id="callback_country_not_allowed"
            )
        assert e164 is not None
        return e164

    async def _limit(
        self, session: AsyncSession, now: datetime, where: Any, limit: int, scope: str
    ) -> None:
        since = now - WINDOW
        count, oldest = (
            await session.execute(
                select(func.count(CallbackRequest.id), func.min(CallbackRequest.created_at)).where(
                    where, CallbackRequest.created_at > since
                )
            )
        ).one()
        if count >= limit:
            retry = WINDOW.total_seconds()
            if oldest is not None:
                retry = (oldest + WINDOW - now).total_seconds()
            raise CallbackLimited(max(1, math.ceil(retry)), scope)

    async def _place(
        self,
        session: AsyncSession,
        originator: Originator | None,
        row: CallbackRequest,
        *,
        employee_id: int | None,
        department_id: int | None,
    ) -> str:
        if originator is None:
            raise CallbackUnavailable()
        row.created_at = utcnow()
        session.add(row)
        try:
            await session.commit()  # counted before the call, so parallel requests see it
        except IntegrityError:
            await session.rollback()
            raise Conflict("the site or user is gone") from None
        try:
            call_id = await originator.call_back(
                tenant_id=row.tenant_id,
                employee_id=employee_id,
                department_id=department_id,
                number_e164=row.number,
                source=row.source,
            )
        except Exception as exc:
            await session.execute(delete(CallbackRequest).where(CallbackRequest.id == row.id))
            await session.commit()
            raise CallbackUnavailable(f"the call could not be placed: {exc}") from exc
        row.call_id = str(call_id)[:100]
        add_event(
            session,
            "callback.requested",
            {
                "request_id": row.id,
                "call_id": row.call_id,
                "site_id": row.site_id,
                "source": row.source,
                "number": row.number,
            },
            tenant_id=row.tenant_id,
        )
        await session.commit()
        return row.call_id


__all__ = [
    "CallbackLimited",
    "CallbackService",
    "CallbackUnavailable",
    "Originator",
    "SiteService",
    "new_site_key",
    "normalize_origin",
    "origin_allowed",
]
