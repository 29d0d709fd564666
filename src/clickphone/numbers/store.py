"""The number store: customers browse available numbers and order numbers or packages; the
ClickPhone office approves (the number is assigned, the price recorded for billing, the
customer notified) or rejects. Released numbers rest in quarantine before being sold again.

States of a number: available -> reserved (ordered) -> assigned (approved) -> quarantined
(released) -> available (after ``QUARANTINE_DAYS``). Requests: pending -> approved | rejected
| cancelled.

A temporary number (an individual's number for a country while they are there) gets
``expires_at`` on approval (``details.days`` of the order); :meth:`StoreService.expire_temporary`
— run periodically by :class:`TemporaryNumberJob` — puts expired ones into quarantine.
Decisions and expiry notify the customer (:mod:`clickphone.notifications`), and so does a
temporary number's coming expiry (``EXPIRY_WARNING`` ahead, once); a new order notifies the
office's staff.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import Conflict, PermissionDenied, ValidationFailed
from clickphone.accounts.scope import Actor, get_scoped, scoped
from clickphone.bus.outbox import add_event
from clickphone.db.listing import ListQuery, Page, paginate
from clickphone.db.models import NumberRequest, PhoneNumber, Tenant, User, utcnow
from clickphone.db.session import Database
from clickphone.jobs import PeriodicJob
from clickphone.notifications.service import notify, recipients

log = logging.getLogger("clickphone.numbers")

QUARANTINE_DAYS = 30
EXPIRY_WARNING = timedelta(days=3)
TEMPORARY_DAYS = 30
MAX_TEMPORARY_DAYS = 365
KIND_NAMES = {
    "number": "number",
    "temporary_number": "temporary number",
    "sms_package": "SMS package",
    "tariff": "tariff",
    "call_package": "call package",
}
NUMBER_KINDS = ("number", "temporary_number")


class StoreService:
    async def catalogue(
        self,
        session: AsyncSession,
        q: ListQuery,
        *,
        country: str | None = None,
        city: str | None = None,
        number_type: str | None = None,
    ) -> Page:
        """Numbers for sale: available, or out of quarantine."""
        now = utcnow()
        stmt = select(PhoneNumber).where(
            or_(
                PhoneNumber.state == "available",
                and_(
                    PhoneNumber.state == "quarantined",
                    PhoneNumber.quarantine_until.is_not(None),
                    PhoneNumber.quarantine_until < now,
                ),
            )
        )
        if country:
            stmt = stmt.where(PhoneNumber.country == country.upper())
        if city:
            stmt = stmt.where(PhoneNumber.city == city)
        if number_type:
            stmt = stmt.where(PhoneNumber.number_type == number_type)
        return await paginate(
            session,
            stmt,
            q,
            sortable={
                "e164": PhoneNumber.e164,
                "monthly_fee": PhoneNumber.monthly_fee,
                "city": PhoneNumber.city,
            },
            searchable=[PhoneNumber.e164, PhoneNumber.city],
            default_sort="e164",
        )

    async def order(
        self, session: AsyncSession, actor: Actor, fields: dict[str, Any]
    ) -> NumberRequest:
        if actor.tenant_id is None:
            raise PermissionDenied("the office does not order from its own store")
        kind = fields.get("kind") or "number"
        number: PhoneNumber | None = None
        if kind in NUMBER_KINDS:
            number_id = fields.get("number_id")
            number = await session.get(PhoneNumber, number_id) if number_id else None
            if number is None:
                raise ValidationFailed({"number_id": "choose a number from the store"})
            if not _for_sale(number):
                raise Conflict(
                    f"{number.e164} is no longer available", error_id="conflict.number_taken"
                )
            if kind == "temporary_number":
                fields["details"] = _temporary_details(fields.get("details") or {}, number)
            number.state = "reserved"
            number.tenant_id = None
            number.user_id = None
            number.quarantine_until = None
        elif fields.get("number_id") is not None:
            raise ValidationFailed({"number_id": "only number orders name a number"})
        request = NumberRequest(
            tenant_id=actor.tenant_id,
            user_id=actor.user_id,
            kind=kind,
            number_id=number.id if number is not None else None,
            details=dict(fields.get("details") or {}),
            comment=fields.get("comment") or "",
            state="pending",
            monthly_fee=number.monthly_fee if number is not None else 0,
            setup_fee=number.setup_fee if number is not None else 0,
            currency=number.currency if number is not None else "RUB",
        )
        session.add(request)
        await session.flush()
        add_event(
            session,
            "store.request.created",
            {"request_id": request.id, "kind": kind, "number_id": request.number_id},
            tenant_id=actor.tenant_id,
        )
        await self._tell_office(session, request, number)
        await session.commit()
        return request

    async def _tell_office(
        self, session: AsyncSession, request: NumberRequest, number: PhoneNumber | None
    ) -> None:
        """Every active member of the office's staff hears of a new order."""
        tenant = await session.get(Tenant, request.tenant_id)
        customer = tenant.name if tenant is not None else f"#{request.tenant_id}"
        what = KIND_NAMES.get(request.kind, request.kind)
        staff = await session.execute(
            select(User.id).where(User.role == "operator_admin", User.is_active.is_(True))
        )
        for user_id in staff.scalars():
            await notify(
                session,
                user_id=user_id,
                tenant_id=None,
                kind="store.requested",
                title=f"New order from {customer}: {what}"
                + (f" {number.e164}" if number is not None else ""),
                body=request.comment,
                data={
                    "request_id": request.id,
                    "request_kind": request.kind,
                    "customer": customer,
                    "tenant_id": request.tenant_id,
                    "number": number.e164 if number is not None else None,
                },
            )

    async def list_requests(
        self, session: AsyncSession, actor: Actor, q: ListQuery, state: str | None = None
    ) -> Page:
        """A customer's orders; for operator staff, the office queue of every customer."""
        stmt = scoped(select(NumberRequest), NumberRequest, actor)
        if state:
            stmt = stmt.where(NumberRequest.state == state)
        return await paginate(
            session,
            stmt,
            q,
            sortable={"id": NumberRequest.id, "created_at": NumberRequest.created_at},
            searchable=[NumberRequest.comment, NumberRequest.kind],
            default_sort="id",
        )

    async def get(self, session: AsyncSession, actor: Actor, ident: int) -> NumberRequest:
        return await get_scoped(session, NumberRequest, ident, actor)

    async def cancel(self, session: AsyncSession, actor: Actor, ident: int) -> NumberRequest:
        request = await self._pending(session, actor, ident)
        if not actor.is_operator and request.user_id != actor.user_id:
            actor.require_manager()
        request.state = "cancelled"
        request.decided_at = utcnow()
        await self._unreserve(session, request)
        await session.commit()
        return request

    async def approve(
        self, session: AsyncSession, actor: Actor, ident: int, note: str = ""
    ) -> NumberRequest:
        actor.require_operator()
        request = await self._pending(session, actor, ident)
        now = utcnow()
        number: PhoneNumber | None = None
        if request.number_id is not None:
            number = await session.get(PhoneNumber, request.number_id)
            if number is None or number.state != "reserved":
                raise Conflict("the ordered number is gone", error_id="conflict.number_taken")
            number.state = "assigned"
            number.tenant_id = request.tenant_id
            if request.kind == "temporary_number":
                number.user_id = request.user_id
                days = int(request.details.get("days") or TEMPORARY_DAYS)
                request.expires_at = now + timedelta(days=max(1, min(days, MAX_TEMPORARY_DAYS)))
                number.expires_at = request.expires_at
                number.expiry_warned_at = None
        request.state = "approved"
        request.decided_by = actor.user_id
        request.decided_at = now
        request.decision_note = note
        payload = {
            "request_id": request.id,
            "kind": request.kind,
            "number_id": request.number_id,
            "monthly_fee": request.monthly_fee,
            "setup_fee": request.setup_fee,
            "currency": request.currency,
        }
        # billing charges from this event
        add_event(session, "store.request.approved", payload, tenant_id=request.tenant_id)
        e164 = number.e164 if request.number_id is not None and number is not None else None
        what = KIND_NAMES.get(request.kind, request.kind)
        await self._notify(
            session,
            request,
            "store.approved",
            f"Your {what} order is approved" + (f": {e164}" if e164 else ""),
            note
            or (f"The number {e164} is now yours." if e164 else "It is active on your account.")
            + (f" It expires on {request.expires_at:%Y-%m-%d}." if request.expires_at else ""),
            number=e164,
        )
        await session.commit()
        return request

    async def reject(
        self, session: AsyncSession, actor: Actor, ident: int, note: str = ""
    ) -> NumberRequest:
        actor.require_operator()
        request = await self._pending(session, actor, ident)
        request.state = "rejected"
        request.decided_by = actor.user_id
        request.decided_at = utcnow()
        request.decision_note = note
        await self._unreserve(session, request)
        add_event(
            session,
            "store.request.rejected",
            {"request_id": request.id, "kind": request.kind, "note": note},
            tenant_id=request.tenant_id,
        )
        what = KIND_NAMES.get(request.kind, request.kind)
        await self._notify(
            session,
            request,
            "store.rejected",
            f"Your {what} order is rejected",
            note or "The ClickPhone office could not fulfil it.",
        )
        await session.commit()
        return request

    async def _notify(
        self,
        session: AsyncSession,
        request: NumberRequest,
        kind: str,
        title: str,
        body: str,
        **data: Any,
    ) -> None:
        payload = {
            "request_id": request.id,
            "request_kind": request.kind,
            "note": request.decision_note,
            "expires_at": request.expires_at.isoformat() if request.expires_at else None,
            **data,
        }
        for user_id in await recipients(session, request.tenant_id, request.user_id):
            await notify(
                session,
                user_id=user_id,
                tenant_id=request.tenant_id,
                kind=kind,
                title=title,
                body=body,
                data=payload,
            )

    async def warn_expiring(self, database: Database, now: datetime | None = None) -> int:
        """Tell the users of temporary numbers that expire within ``EXPIRY_WARNING`` (once per
        number and expiry date); return how many were warned."""
        now = now or utcnow()
        warned = 0
        async with database.transaction() as session:
            due = (
                await session.execute(
                    select(PhoneNumber)
                    .where(
                        PhoneNumber.state == "assigned",
                        PhoneNumber.expires_at.is_not(None),
                        PhoneNumber.expires_at > now,
                        PhoneNumber.expires_at <= now + EXPIRY_WARNING,
                        PhoneNumber.expiry_warned_at.is_(None),
                    )
                    .order_by(PhoneNumber.expires_at)
                    .limit(1000)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
            for number in list(due):
                if number.tenant_id is None or number.expires_at is None:
                    continue
                number.expiry_warned_at = now
                for uid in await recipients(session, number.tenant_id, number.user_id):
                    await notify(
                        session,
                        user_id=uid,
                        tenant_id=number.tenant_id,
                        kind="number.expiring",
                        title=f"Your temporary number {number.e164} expires soon",
                        body=f"It expires on {number.expires_at:%d/%m/%Y %H:%M} UTC.",
                        data={
                            "number": number.e164,
                            "country": number.country,
                            "expires_at": number.expires_at.isoformat(),
                        },
                    )
                warned += 1
        if warned:
            log.info("temporary numbers: %d warned of their expiry", warned)
        return warned

    async def expire_temporary(self, database: Database, now: datetime | None = None) -> int:
        """Put temporary numbers past their ``expires_at`` into quarantine and tell their
        users; return how many. Each number is its own transaction."""
        now = now or utcnow()
        async with database.session() as session:
            due = list(
                (
                    await session.execute(
                        select(PhoneNumber.id)
                        .where(
                            PhoneNumber.state == "assigned",
                            PhoneNumber.expires_at.is_not(None),
                            PhoneNumber.expires_at <= now,
                        )
                        .order_by(PhoneNumber.expires_at)
                        .limit(1000)
                    )
                ).scalars()
            )
        expired = 0
        for number_id in due:
            async with database.transaction() as session:
                number = await session.get(PhoneNumber, number_id)
                if (
                    number is None
                    or number.state != "assigned"
                    or number.expires_at is None
                    or number.expires_at > now
                    or number.tenant_id is None
                ):
                    continue  # changed meanwhile
                tenant_id, user_id = number.tenant_id, number.user_id
                number.state = "quarantined"
                number.quarantine_until = now + timedelta(days=QUARANTINE_DAYS)
                number.tenant_id = None
                number.user_id = None
                number.employee_id = None
                number.expires_at = None
                number.expiry_warned_at = None
                add_event(
                    session,
                    "number.released",
                    {"number_id": number.id, "e164": number.e164, "reason": "expired"},
                    tenant_id=tenant_id,
                )
                for uid in await recipients(session, tenant_id, user_id):
                    await notify(
                        session,
                        user_id=uid,
                        tenant_id=tenant_id,
                        kind="number.expired",
                        title=f"Your temporary number {number.e164} has expired",
                        body="It is no longer yours; order a new one in the store if needed.",
                        data={"number": number.e164, "country": number.country},
                    )
                expired += 1
        if expired:
            log.info("temporary numbers: %d expired", expired)
        return expired

    async def release(self, session: AsyncSession, actor: Actor, number_id: int) -> PhoneNumber:
        """The customer gives a number back: it rests in quarantine before resale."""
        number = await get_scoped(session, PhoneNumber, number_id, actor)
        if not actor.is_operator:
            actor.require_manager()
        if number.state != "assigned":
            raise Conflict(f"{number.e164} is not assigned", error_id="conflict.not_assigned")
        tenant_id = number.tenant_id
        number.state = "quarantined"
        number.quarantine_until = utcnow() + timedelta(days=QUARANTINE_DAYS)
        number.tenant_id = None
        number.user_id = None
        number.employee_id = None
        number.expires_at = None
        add_event(
            session,
            "number.released",
            {"number_id": number.id, "e164": number.e164},
            tenant_id=tenant_id,
        )
        await session.commit()
        return number

    async def _pending(self, session: AsyncSession, actor: Actor, ident: int) -> NumberRequest:
        request = await self.get(session, actor, ident)
        if request.state != "pending":
            raise Conflict(
                f"the request is already {request.state}", error_id="conflict.request_decided"
            )
        return request

    async def _unreserve(self, session: AsyncSession, request: NumberRequest) -> None:
        if request.number_id is None:
            return
        number = await session.get(PhoneNumber, request.number_id)
        if number is not None and number.state == "reserved":
            number.state = "available"


def _temporary_details(details: dict[str, Any], number: PhoneNumber) -> dict[str, Any]:
    """``days`` (1..365, default 30) and ``country`` (the number's) of a temporary number."""
    raw = details.get("days", TEMPORARY_DAYS)
    try:
        days = int(raw)
    except (TypeError, ValueError):
        raise ValidationFailed({"details.days": "a whole number of days"}) from None
    if not 1 <= days <= MAX_TEMPORARY_DAYS:
        raise ValidationFailed({"details.days": f"between 1 and {MAX_TEMPORARY_DAYS} days"})
    country = str(details.get("country") or number.country).upper()
    if number.country and country != number.country:
        raise ValidationFailed({"details.country": f"{number.e164} is a {number.country} number"})
    return {**details, "days": days, "country": country}


class TemporaryNumberJob(PeriodicJob):
    """Warns of coming expiries and expires temporary numbers every ``interval`` seconds."""

    def __init__(self, database: Database, *, interval: float = 300.0) -> None:
        self.database = database
        self.store = StoreService()
        super().__init__("temporary-numbers", self.run, interval=interval)

    async def run(self) -> None:
        await self.store.warn_expiring(self.database)
        await self.store.expire_temporary(self.database)


def _for_sale(number: PhoneNumber) -> bool:
    if number.state == "available":
        return True
    return (
        number.state == "quarantined"
        and number.quarantine_until is not None
        and number.quarantine_until < utcnow()
    )


__all__ = ["StoreService", "TemporaryNumberJob"]
