"""Click-to-call over HTTP.

- ``/api/v1/callback-sites`` (company owners and admins): the websites with the widget —
  name, allowed origins, who rings first (an employee or a department), hourly limits and
  the public key the script tag carries.
- ``POST /api/v1/public/callback/{site_key}`` ``{number}`` (no sign-in; CORS for the site's
  allowed origins, preflight included): a visitor asks to be called back.
- ``POST /api/v1/calls/callback`` ``{number}``: the signed-in employee's "Call back" (a
  phone number, or an extension of an employee or a department of the same company).

Both requests go to the :class:`~clickphone.callback.service.Originator` on
``app.state.originator``; without one they answer 503 ``callback_unavailable``.
The widget script is ``/widget/clickphone-callback.js`` (web/public/widget).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints, field_validator

from clickphone.accounts.errors import ClickPhoneError
from clickphone.api.deps import CurrentActor, SessionDep
from clickphone.api.schemas import ERROR_RESPONSES, ErrorOut, OrmModel
from clickphone.callback.service import (
    CallbackService,
    Originator,
    SiteService,
    normalize_origin,
    origin_allowed,
)
from clickphone.db.models import ClickToCallSite

router = APIRouter(responses=ERROR_RESPONSES, tags=["callback"])
sites = SiteService()
callbacks = CallbackService()

PUBLIC_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "origin not allowed, or the number is refused"},
    404: {"model": ErrorOut, "description": "no such (enabled) widget"},
    422: {"model": ErrorOut, "description": "not a phone number"},
    429: {"model": ErrorOut, "description": "callback_limited: hourly limit reached"},
    503: {"model": ErrorOut, "description": "callback_unavailable: calls cannot be placed"},
}


SiteName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PerNumber = Annotated[int, Field(ge=1, le=100, description="calls per visitor number per hour")]
PerSite = Annotated[int, Field(ge=1, le=10000, description="calls per hour from the site")]


def _origins(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    out: list[str] = []
    for item in value:
        origin = normalize_origin(item)
        if origin not in out:
            out.append(origin)
    return out


class SiteIn(BaseModel):
    name: SiteName
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="origins allowed to embed the widget (https://shop.example); empty: any",
    )
    employee_id: int | None = Field(None, description="ring this employee first ...")
    department_id: int | None = Field(None, description="... or this department")
    per_number_hourly: PerNumber = 3
    per_site_hourly: PerSite = 60
    enabled: bool = True
    tenant_id: int | None = Field(None, description="operator staff: the company")

    _check_origins = field_validator("allowed_origins")(_origins)


class SitePatch(BaseModel):
    name: SiteName | None = None
    allowed_origins: list[str] | None = None
    employee_id: int | None = None
    department_id: int | None = None
    per_number_hourly: PerNumber | None = None
    per_site_hourly: PerSite | None = None
    enabled: bool | None = None
    rotate_key: bool = Field(False, description="issue a new public key (the old one stops)")

    _check_origins = field_validator("allowed_origins")(_origins)


class SiteOut(OrmModel):
    id: int
    tenant_id: int
    name: str
    public_key: str
    allowed_origins: list[str]
    employee_id: int | None
    department_id: int | None
    per_number_hourly: int
    per_site_hourly: int
    enabled: bool


class CallbackIn(BaseModel):
    # two characters: a company's extension may be that short (the cabinet's call-back)
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=40)]


class CallbackOut(BaseModel):
    call_id: str
    number: str = Field(
        description="the number as ClickPhone calls it (E.164, or the company extension)"
    )


def _originator(request: Request) -> Originator | None:
    return getattr(request.app.state, "originator", None)


@router.get("/callback-sites")
async def list_sites(actor: CurrentActor, session: SessionDep) -> list[SiteOut]:
    return [SiteOut.model_validate(s) for s in await sites.list(session, actor)]


@router.post("/callback-sites", status_code=status.HTTP_201_CREATED)
async def create_site(body: SiteIn, actor: CurrentActor, session: SessionDep) -> SiteOut:
    row = await sites.create(session, actor, body.model_dump())
    return SiteOut.model_validate(row)


@router.get("/callback-sites/{site_id}")
async def get_site(site_id: int, actor: CurrentActor, session: SessionDep) -> SiteOut:
    return SiteOut.model_validate(await sites.get(session, actor, site_id))


@router.patch("/callback-sites/{site_id}")
async def patch_site(
    site_id: int, body: SitePatch, actor: CurrentActor, session: SessionDep
) -> SiteOut:
    row = await sites.update(session, actor, site_id, body.model_dump(exclude_unset=True))
    return SiteOut.model_validate(row)


@router.delete("/callback-sites/{site_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_site(site_id: int, actor: CurrentActor, session: SessionDep) -> Response:
    await sites.delete(session, actor, site_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _cors(response: Response, site: ClickToCallSite | None, origin: str | None) -> None:
    if origin and site is not None and origin_allowed(site, origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"


@router.options("/public/callback/{site_key}", include_in_schema=False)
async def public_callback_preflight(
    site_key: str, request: Request, session: SessionDep
) -> Response:
    """CORS preflight: allowed origins may POST JSON."""
    origin = request.headers.get("origin")
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    try:
        site = await callbacks.site_by_key(session, site_key)
    except ClickPhoneError:
        return response
    if origin and origin_allowed(site, origin):
        _cors(response, site, origin)
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


@router.post("/public/callback/{site_key}", tags=["public"], responses=PUBLIC_RESPONSES)
async def public_callback(
    site_key: str, body: CallbackIn, request: Request, response: Response, session: SessionDep
) -> CallbackOut:
    """A website visitor asks to be called back (the widget posts here; no sign-in)."""
    origin = request.headers.get("origin")
    site = await callbacks.site_by_key(session, site_key)
    try:
        call_id, e164 = await callbacks.from_site(
            session, _originator(request), site, body.number, origin
        )
    except ClickPhoneError as exc:
        # the widget must be able to read the refusal (limit, blocked number, ...)
        if origin and origin_allowed(site, origin):
            exc.headers = {**exc.headers, "Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        raise
    _cors(response, site, origin)
    return CallbackOut(call_id=call_id, number=e164)


@router.post("/calls/callback", tags=["calls"], responses=PUBLIC_RESPONSES)
async def cabinet_callback(
    body: CallbackIn, request: Request, actor: CurrentActor, session: SessionDep
) -> CallbackOut:
    """ "Call back" from the cabinet: your phones ring first, then the number (or a
    colleague's or a department's extension); then bridged."""
    call_id, e164 = await callbacks.from_cabinet(session, _originator(request), actor, body.number)
    return CallbackOut(call_id=call_id, number=e164)
