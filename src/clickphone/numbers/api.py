"""/api/v1/numbers: the operator adds numbers; tenants see and hand out their own."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from clickphone.api.deps import CurrentActor, ListQueryDep, ServicesDep, SessionDep
from clickphone.api.schemas import ERROR_RESPONSES, PageOut
from clickphone.numbers.schemas import NumberIn, NumberOut, NumberPatch

router = APIRouter(responses=ERROR_RESPONSES, tags=["numbers"])


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
        session, actor, body.e164, tenant_id=body.tenant_id, label=body.label
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
