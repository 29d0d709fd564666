"""Phone-number inventory: the operator adds numbers; tenants see (and hand out) theirs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from clickphone.accounts.scope import Actor, get_scoped, scoped
from clickphone.bus.outbox import add_event
from clickphone.db.listing import ListQuery, Page, paginate
from clickphone.db.models import NUMBER_STATES, Employee, PhoneNumber, Tenant, User, utcnow
from clickphone.numbers.store import QUARANTINE_DAYS

CATALOGUE_FIELDS = ("city", "number_type", "monthly_fee", "setup_fee", "currency")


def parse_e164(raw: str) -> tuple[str, str]:
    """Return (E.164, ISO country) or raise ValidationFailed naming ``e164``."""
    try:
        parsed = phonenumbers.parse(raw.strip(), None)
    except phonenumbers.NumberParseException:
        raise ValidationFailed({"e164": "not an E.164 number (+<country><number>)"}) from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValidationFailed({"e164": "not a possible phone number"})
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.region_code_for_number(parsed) or ""


class NumberService:
    async def add(
        self,
        session: AsyncSession,
        actor: Actor,
        e164: str,
        *,
        tenant_id: int | None = None,
        label: str = "",
        **catalogue: Any,
    ) -> PhoneNumber:
        """``catalogue``: city, number_type, monthly_fee, setup_fee, currency."""
        actor.require_operator()
        return await self.add_unchecked(
            session, e164, tenant_id=tenant_id, label=label, **catalogue
        )

    async def add_unchecked(
        self,
        session: AsyncSession,
        e164: str,
        *,
        tenant_id: int | None = None,
        label: str = "",
        **catalogue: Any,
    ) -> PhoneNumber:
        """Add a number to the inventory (CLI/operator); assigned when a tenant is given."""
        number, country = parse_e164(e164)
        if tenant_id is not None and await session.get(Tenant, tenant_id) is None:
            raise ValidationFailed({"tenant_id": "no such tenant"})
        row = PhoneNumber(
            e164=number,
            country=country,
            tenant_id=tenant_id,
            label=label,
            state="assigned" if tenant_id is not None else "available",
            **{k: v for k, v in catalogue.items() if k in CATALOGUE_FIELDS},
        )
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()
            raise Conflict(
                f"{number} is already in the inventory",
                error_id="conflict.number_exists",
                details={"fields": {"e164": "already exists"}},
            ) from None
        add_event(
            session,
            "number.added",
            {"number_id": row.id, "e164": number, "tenant_id": tenant_id},
            tenant_id=tenant_id,
        )
        await session.commit()
        return row

    async def list_numbers(
        self, session: AsyncSession, actor: Actor, q: ListQuery, state: str | None = None
    ) -> Page:
        stmt = scoped(select(PhoneNumber), PhoneNumber, actor)
        if actor.role == "individual":
            stmt = stmt.where(
                (PhoneNumber.user_id == actor.user_id) | PhoneNumber.user_id.is_(None)
            )
        if state is not None:
            stmt = stmt.where(PhoneNumber.state == state)
        return await paginate(
            session,
            stmt,
            q,
            sortable={
                "id": PhoneNumber.id,
                "e164": PhoneNumber.e164,
                "state": PhoneNumber.state,
                "country": PhoneNumber.country,
                "created_at": PhoneNumber.created_at,
            },
            searchable=[PhoneNumber.e164, PhoneNumber.label, PhoneNumber.country],
            default_sort="e164",
        )

    async def get(self, session: AsyncSession, actor: Actor, ident: int) -> PhoneNumber:
        return await get_scoped(session, PhoneNumber, ident, actor)

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        ident: int,
        *,
        fields: dict[str, object],
    ) -> PhoneNumber:
        row = await self.get(session, actor, ident)
        operator_only = ({"tenant_id", "state"} | set(CATALOGUE_FIELDS)) & {
            k for k, v in fields.items() if v is not None or k in ("tenant_id", "state")
        }
        if operator_only and not actor.is_operator:
            raise PermissionDenied("only operator staff may move numbers between tenants")
        if not actor.is_operator:
            actor.require_manager()
        if "state" in fields:
            if fields["state"] not in NUMBER_STATES:
                raise ValidationFailed({"state": f"one of {', '.join(NUMBER_STATES)}"})
            row.state = str(fields["state"])
        if "tenant_id" in fields:
            tid = fields["tenant_id"]
            if tid is not None and await session.get(Tenant, tid) is None:
                raise ValidationFailed({"tenant_id": "no such tenant"})
            row.tenant_id = tid  # type: ignore[assignment]
            row.user_id = None
            row.expires_at = None  # a temporary number handed over by staff is theirs now
            if "state" not in fields:
                row.state = "assigned" if tid is not None else "available"
        if "user_id" in fields:
            uid = fields["user_id"]
            if uid is not None:
                user = await session.get(User, uid)
                if user is None or user.tenant_id != row.tenant_id:
                    raise ValidationFailed({"user_id": "no such user in the number's tenant"})
            row.user_id = uid  # type: ignore[assignment]
        if "employee_id" in fields:
            eid = fields["employee_id"]
            if eid is not None:
                employee = await session.get(Employee, eid)
                if employee is None or employee.tenant_id != row.tenant_id:
                    raise ValidationFailed(
                        {"employee_id": "no such employee in the number's tenant"}
                    )
            row.employee_id = eid  # type: ignore[assignment]
        for key in CATALOGUE_FIELDS:
            if fields.get(key) is not None:
                setattr(row, key, fields[key])
        if "state" in fields and row.state == "quarantined" and row.quarantine_until is None:
            row.quarantine_until = utcnow() + timedelta(days=QUARANTINE_DAYS)
        if "label" in fields and fields["label"] is not None:
            row.label = str(fields["label"])
        add_event(
            session,
            "number.updated",
            {"number_id": row.id, "tenant_id": row.tenant_id},
            tenant_id=row.tenant_id,
        )
        await session.commit()
        return row

    async def delete(self, session: AsyncSession, actor: Actor, ident: int) -> None:
        actor.require_operator()
        row = await session.get(PhoneNumber, ident)
        if row is None:
            raise NotFound(f"phone_numbers {ident} not found")
        await session.delete(row)
        await session.commit()
