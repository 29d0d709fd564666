"""/api/v1/numbers: the operator adds numbers; tenants see and hand out their own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.api.deps import CurrentActor, ListQueryDep, ServicesDep, SessionDep
from clickphone.api.schemas import ERROR_RESPONSES, PageOut
from clickphone.db.models import NumberRequest, PhoneNumber, Tenant
from clickphone.numbers.schemas import (
    DecisionIn,
    NumberIn,
    NumberOut,
    NumberPatch,
    OrderIn,
    OrderOut,
    StoreNumberOut,
)
from clickphone.numbers.store import StoreService, TemporaryNumberJob

# how often temporary numbers past their end are put into quarantine (seconds)
EXPIRY_INTERVAL = 300.0


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """``clickphone serve`` runs the temporary-number expiry job with the app."""
    services = app.state.services
    job = TemporaryNumberJob(services.database, interval=EXPIRY_INTERVAL)
    services.extra["temporary_numbers"] = job
    await job.start()
    try:
        yield
    finally:
        await job.stop()


router = APIRouter(responses=ERROR_RESPONSES, tags=["numbers"], lifespan=lifespan)
store = StoreService()


@router.get("/numbers")
async def list_numbers(
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
    lq: ListQueryDep,
    state: str | None = None,
) -> PageOut[NumberOut]:
    page = await services.numbers.list_numbers(session, actor, lq, state)
    return PageOut[NumberOut](
        items=[NumberOut.model_validate(n) for n in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/numbers", status_code=status.HTTP_201_CREATED)
async def add_number(
    body: NumberIn, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> NumberOut:
    """Operator staff add a number to the inventory (assigned when tenant_id is given)."""
    row = await services.numbers.add(
        session,
        actor,
        body.e164,
        tenant_id=body.tenant_id,
        label=body.label,
        **body.model_dump(include={"city", "number_type", "monthly_fee", "setup_fee", "currency"}),
    )
    return NumberOut.model_validate(row)


@router.get("/numbers/{number_id}")
async def get_number(
    number_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> NumberOut:
    return NumberOut.model_validate(await services.numbers.get(session, actor, number_id))


@router.patch("/numbers/{number_id}")
async def patch_number(
    number_id: int,
    body: NumberPatch,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> NumberOut:
    row = await services.numbers.update(
        session, actor, number_id, fields=body.model_dump(exclude_unset=True)
    )
    return NumberOut.model_validate(row)


@router.delete("/numbers/{number_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_number(
    number_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> Response:
    await services.numbers.delete(session, actor, number_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/numbers/{number_id}/release")
async def release_number(number_id: int, actor: CurrentActor, session: SessionDep) -> NumberOut:
    """Give a number back: it rests in quarantine, then returns to the store."""
    return NumberOut.model_validate(await store.release(session, actor, number_id))


# -- the store ---------------------------------------------------------------------------


@router.get("/store/numbers", tags=["store"])
async def store_numbers(
    actor: CurrentActor,
    session: SessionDep,
    lq: ListQueryDep,
    country: str | None = None,
    city: str | None = None,
    number_type: str | None = None,
) -> PageOut[StoreNumberOut]:
    """Numbers for sale, by country, city and type, with their fees (minor units)."""
    page = await store.catalogue(session, lq, country=country, city=city, number_type=number_type)
    return PageOut[StoreNumberOut](
        items=[StoreNumberOut.model_validate(n) for n in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


async def _orders_out(session: AsyncSession, rows: Sequence[NumberRequest]) -> list[OrderOut]:
    """Orders with the ordered number and the customer's account number filled in."""
    number_ids = {r.number_id for r in rows if r.number_id is not None}
    tenant_ids = {r.tenant_id for r in rows}
    numbers = dict(
        (
            await session.execute(
                select(PhoneNumber.id, PhoneNumber.e164).where(PhoneNumber.id.in_(number_ids))
            )
        ).all()
    )
    customers = dict(
        (
            await session.execute(
                select(Tenant.id, Tenant.customer_number).where(Tenant.id.in_(tenant_ids))
            )
        ).all()
    )
    out = []
    for r in rows:
        item = OrderOut.model_validate(r)
        item.number_e164 = numbers.get(r.number_id) if r.number_id is not None else None
        item.customer_number = customers.get(r.tenant_id)
        out.append(item)
    return out


@router.post("/store/requests", status_code=status.HTTP_201_CREATED, tags=["store"])
async def order(body: OrderIn, actor: CurrentActor, session: SessionDep) -> OrderOut:
    """Order a number (reserved until the office decides), an SMS package, a tariff or a
    call package."""
    return (await _orders_out(session, [await store.order(session, actor, body.model_dump())]))[0]


@router.get("/store/requests", tags=["store"])
async def list_orders(
    actor: CurrentActor, session: SessionDep, lq: ListQueryDep, state: str | None = None
) -> PageOut[OrderOut]:
    """A customer's orders; for operator staff, the office queue (``state=pending``)."""
    page = await store.list_requests(session, actor, lq, state)
    return PageOut[OrderOut](
        items=await _orders_out(session, page.items),
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/store/requests/{request_id}", tags=["store"])
async def get_order(request_id: int, actor: CurrentActor, session: SessionDep) -> OrderOut:
    return (await _orders_out(session, [await store.get(session, actor, request_id)]))[0]


@router.post("/store/requests/{request_id}/cancel", tags=["store"])
async def cancel_order(request_id: int, actor: CurrentActor, session: SessionDep) -> OrderOut:
    return (await _orders_out(session, [await store.cancel(session, actor, request_id)]))[0]


@router.post("/store/requests/{request_id}/approve", tags=["store"])
async def approve_order(
    request_id: int, body: DecisionIn, actor: CurrentActor, session: SessionDep
) -> OrderOut:
    """Office staff: assign the number, record the price for billing, notify the customer."""
    row = await store.approve(session, actor, request_id, body.note)
    return (await _orders_out(session, [row]))[0]


@router.post("/store/requests/{request_id}/reject", tags=["store"])
async def reject_order(
    request_id: int, body: DecisionIn, actor: CurrentActor, session: SessionDep
) -> OrderOut:
    row = await store.reject(session, actor, request_id, body.note)
    return (await _orders_out(session, [row]))[0]
