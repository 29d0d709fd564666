"""/api/v1/trunks (operator staff), /api/v1/phone-settings (dial plan, caller ID),
/api/v1/blocked-numbers (blacklist)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from clickphone.api.deps import CurrentActor, Services, ServicesDep, SessionDep
from clickphone.api.schemas import ERROR_RESPONSES
from clickphone.trunks.schemas import (
    BlockedIn,
    BlockedOut,
    PhoneSettingsIn,
    PhoneSettingsOut,
    TrunkIn,
    TrunkOut,
    TrunkPatch,
    TrunkStateOut,
    UserCallerIdIn,
    UserCallerIdOut,
)
from clickphone.trunks.secrets import TrunkSecrets
from clickphone.trunks.service import (
    BlacklistService,
    PhoneSettingsService,
    TrunkService,
    trunk_out,
)

router = APIRouter(responses=ERROR_RESPONSES, tags=["trunks"])


def _secrets(services: Services) -> TrunkSecrets:
    return TrunkSecrets(services.settings.ensure_secret_key())


trunks = TrunkService()
phone_settings = PhoneSettingsService()
blacklist = BlacklistService()


@router.get("/trunks")
async def list_trunks(actor: CurrentActor, session: SessionDep) -> list[TrunkOut]:
    return [TrunkOut.model_validate(trunk_out(t)) for t in await trunks.list(session, actor)]


@router.post("/trunks", status_code=status.HTTP_201_CREATED)
async def create_trunk(
    body: TrunkIn, actor: CurrentActor, session: SessionDep, services: ServicesDep
) -> TrunkOut:
    """Operator staff add a carrier trunk. The password is stored encrypted and never
    returned (``has_password`` tells whether one is set)."""
    row = await trunks.create(
        session, actor, body.model_dump(exclude_unset=True), _secrets(services)
    )
    return TrunkOut.model_validate(trunk_out(row))


@router.get("/trunks/{trunk_id}")
async def get_trunk(trunk_id: int, actor: CurrentActor, session: SessionDep) -> TrunkOut:
    return TrunkOut.model_validate(trunk_out(await trunks.get(session, actor, trunk_id)))


@router.patch("/trunks/{trunk_id}")
async def patch_trunk(
    trunk_id: int,
    body: TrunkPatch,
    actor: CurrentActor,
    session: SessionDep,
    services: ServicesDep,
) -> TrunkOut:
    row = await trunks.update(
        session, actor, trunk_id, body.model_dump(exclude_unset=True), _secrets(services)
    )
    return TrunkOut.model_validate(trunk_out(row))


@router.delete("/trunks/{trunk_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_trunk(trunk_id: int, actor: CurrentActor, session: SessionDep) -> Response:
    await trunks.delete(session, actor, trunk_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/trunks/{trunk_id}/state")
async def trunk_state(
    trunk_id: int, actor: CurrentActor, session: SessionDep, services: ServicesDep
) -> TrunkStateOut:
    """Registration and health as this server sees them (None until first checked)."""
    await trunks.get(session, actor, trunk_id)
    telephony: Any = services.extra.get("telephony")
    pstn = getattr(telephony, "pstn", None)
    if pstn is None:
        return TrunkStateOut(trunk_id=trunk_id, running=False, state=None)
    return TrunkStateOut(trunk_id=trunk_id, running=True, state=pstn.registration.state(trunk_id))


@router.get("/phone-settings")
async def get_phone_settings(actor: CurrentActor, session: SessionDep) -> PhoneSettingsOut:
    row = await phone_settings.get(session, actor)
    return PhoneSettingsOut(
        tenant_id=row.tenant_id,
        default_country=row.default_country,
        allowed_countries=list(row.allowed_countries or []),
        caller_id_number_id=row.caller_id_number_id,
    )


@router.patch("/phone-settings")
async def patch_phone_settings(
    body: PhoneSettingsIn, actor: CurrentActor, session: SessionDep
) -> PhoneSettingsOut:
    row = await phone_settings.update(session, actor, body.model_dump(exclude_unset=True))
    return PhoneSettingsOut(
        tenant_id=row.tenant_id,
        default_country=row.default_country,
        allowed_countries=list(row.allowed_countries or []),
        caller_id_number_id=row.caller_id_number_id,
    )


@router.get("/phone-settings/me")
async def get_my_caller_id(actor: CurrentActor, session: SessionDep) -> UserCallerIdOut:
    chosen, effective = await phone_settings.get_user(session, actor)
    return UserCallerIdOut(
        user_id=actor.user_id, caller_id_number_id=chosen, effective_caller_id=effective
    )


@router.put("/phone-settings/me")
async def set_my_caller_id(
    body: UserCallerIdIn, actor: CurrentActor, session: SessionDep
) -> UserCallerIdOut:
    chosen, effective = await phone_settings.set_user(session, actor, body.caller_id_number_id)
    return UserCallerIdOut(
        user_id=actor.user_id, caller_id_number_id=chosen, effective_caller_id=effective
    )


@router.get("/blocked-numbers")
async def list_blocked(actor: CurrentActor, session: SessionDep) -> list[BlockedOut]:
    return [BlockedOut.model_validate(b) for b in await blacklist.list(session, actor)]


@router.post("/blocked-numbers", status_code=status.HTTP_201_CREATED)
async def add_blocked(body: BlockedIn, actor: CurrentActor, session: SessionDep) -> BlockedOut:
    row = await blacklist.add(session, actor, body.model_dump())
    return BlockedOut.model_validate(row)


@router.delete("/blocked-numbers/{blocked_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_blocked(blocked_id: int, actor: CurrentActor, session: SessionDep) -> Response:
    await blacklist.delete(session, actor, blocked_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
