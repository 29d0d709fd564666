"""/api/v1 routes for sign-up/sign-in, the current user, API tokens and tenants."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile, status
from fastapi.responses import FileResponse
from sqlalchemy import select

from clickphone.accounts.errors import CsrfFailed, NotFound, ValidationFailed
from clickphone.accounts.schemas import (
    CompanySignup,
    IndividualSignup,
    MeOut,
    MyNumbersOut,
    NumberBrief,
    PasswordChange,
    ProfilePatch,
    SessionOut,
    SignIn,
    TenantCreate,
    TenantOut,
    TenantPatch,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserOut,
    user_out,
)
from clickphone.accounts.service import SignedIn
from clickphone.api.deps import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    CurrentActor,
    ListQueryDep,
    ServicesDep,
    SessionDep,
    client_ip,
)
from clickphone.api.schemas import ERROR_RESPONSES, PageOut
from clickphone.db.listing import paginate
from clickphone.db.models import Tenant

router = APIRouter(responses=ERROR_RESPONSES)

AVATAR_TYPES = {
    b"\x89PNG\r\n\x1a\n": ".png",
    b"\xff\xd8\xff": ".jpg",
    b"GIF87a": ".gif",
    b"GIF89a": ".gif",
}
MAX_AVATAR_BYTES = 2 * 1024 * 1024


def _set_session_cookies(response: Response, services: ServicesDep, signed: SignedIn) -> None:
    secure = services.settings.effective_cookie_secure
    max_age = services.settings.session_max_age
    response.set_cookie(
        SESSION_COOKIE,
        signed.session_token,
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="lax",
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        signed.csrf_token,
        max_age=max_age,
        httponly=False,
        secure=secure,
        samesite="strict",
        path="/",
    )


def _session_out(signed: SignedIn) -> SessionOut:
    return SessionOut(
        user=user_out(signed.user),
        tenant=TenantOut.model_validate(signed.tenant) if signed.tenant else None,
        csrf_token=signed.csrf_token,
    )


@router.post("/auth/signup/company", status_code=status.HTTP_201_CREATED, tags=["auth"])
async def signup_company(
    body: CompanySignup,
    request: Request,
    response: Response,
    services: ServicesDep,
    session: SessionDep,
) -> SessionOut:
    """Create a company (tenant) and its owner, and sign the owner in."""
    signed = await services.accounts.signup(
        session,
        name=body.company_name,
        kind="company",
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        position=body.position,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    _set_session_cookies(response, services, signed)
    return _session_out(signed)


@router.post("/auth/signup/individual", status_code=status.HTTP_201_CREATED, tags=["auth"])
async def signup_individual(
    body: IndividualSignup,
    request: Request,
    response: Response,
    services: ServicesDep,
    session: SessionDep,
) -> SessionOut:
    """Create an individual subscriber (B2C) with a nickname, and sign in."""
    signed = await services.accounts.signup(
        session,
        name=body.full_name or body.nickname,
        kind="individual",
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        nickname=body.nickname,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    _set_session_cookies(response, services, signed)
    return _session_out(signed)


@router.post("/auth/signin", tags=["auth"])
async def signin(
    body: SignIn,
    request: Request,
    response: Response,
    services: ServicesDep,
    session: SessionDep,
) -> SessionOut:
    """Sign in with e-mail and password; sets the session and CSRF cookies.

    Repeated failures per e-mail or per IP answer 429 ``auth.throttled`` with Retry-After.
    """
    signed = await services.accounts.signin(
        session,
        body.email,
        body.password,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    _set_session_cookies(response, services, signed)
    return _session_out(signed)


@router.post("/auth/signout", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
async def signout(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = await services.accounts.resolve_web_session(session, token)
        if found is not None:
            # A live session is only ended by the page that holds it (no logout CSRF).
            header = request.headers.get(CSRF_HEADER, "")
            if not header or not hmac.compare_digest(header, found[1].csrf_token):
                raise CsrfFailed()
            await services.accounts.signout(session, token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/me", tags=["me"])
async def get_me(actor: CurrentActor, services: ServicesDep, session: SessionDep) -> MeOut:
    user = await services.accounts.get_user(session, actor.user_id)
    tenant = await session.get(Tenant, user.tenant_id) if user.tenant_id else None
    return MeOut(user=user_out(user), tenant=TenantOut.model_validate(tenant) if tenant else None)


@router.patch("/me", tags=["me"])
async def patch_me(
    body: ProfilePatch, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> UserOut:
    """Edit personal data: full name, position, e-mail, nickname."""
    user = await services.accounts.update_profile(
        session, actor, **body.model_dump(exclude_unset=True)
    )
    return user_out(user)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, tags=["me"])
async def change_password(
    body: PasswordChange,
    request: Request,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    """Change the password; signs out every other browser session."""
    await services.accounts.change_password(
        session,
        actor,
        body.current_password,
        body.new_password,
        keep_session_token=getattr(request.state, "web_session_token", None),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/me/avatar", tags=["me"])
async def upload_avatar(
    file: Annotated[UploadFile, File(description="PNG, JPEG or GIF, at most 2 MB")],
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> UserOut:
    data = await file.read(MAX_AVATAR_BYTES + 1)
    if len(data) > MAX_AVATAR_BYTES:
        raise ValidationFailed({"file": "at most 2 MB"})
    ext = next((e for magic, e in AVATAR_TYPES.items() if data.startswith(magic)), None)
    if ext is None:
        raise ValidationFailed({"file": "must be a PNG, JPEG or GIF image"})
    folder = services.settings.data_dir / "avatars"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{actor.user_id}-{secrets.token_hex(8)}{ext}"
    (folder / name).write_bytes(data)
    old = (await services.accounts.get_user(session, actor.user_id)).avatar_path
    user = await services.accounts.set_avatar(session, actor, name)
    if old and old != name:
        (folder / Path(old).name).unlink(missing_ok=True)
    return user_out(user)


@router.get("/me/avatar", tags=["me"], response_class=FileResponse)
async def get_avatar(
    actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> FileResponse:
    user = await services.accounts.get_user(session, actor.user_id)
    if not user.avatar_path:
        raise NotFound("no avatar")
    path = services.settings.data_dir / "avatars" / Path(user.avatar_path).name
    if not path.exists():
        raise NotFound("no avatar")
    return FileResponse(path)


@router.get("/me/numbers", tags=["me"])
async def my_numbers(
    actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> MyNumbersOut:
    """My numbers: the ClickPhone (customer) number, virtual numbers and my extension."""
    data = await services.accounts.my_numbers(session, actor)
    return MyNumbersOut(
        clickphone_number=data["clickphone_number"],
        virtual_numbers=[NumberBrief.model_validate(n) for n in data["virtual_numbers"]],
        extension=data["extension"],
    )


# -- API tokens -------------------------------------------------------------------------------
@router.get("/tokens", tags=["tokens"])
async def list_tokens(
    actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> list[TokenOut]:
    return [
        TokenOut.model_validate(t) for t in await services.accounts.list_api_tokens(session, actor)
    ]


@router.post("/tokens", status_code=status.HTTP_201_CREATED, tags=["tokens"])
async def create_token(
    body: TokenCreate, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> TokenCreated:
    """Create an API token for integrations; the token is shown only in this response."""
    row, token = await services.accounts.create_api_token(
        session, actor, body.name, body.expires_at
    )
    return TokenCreated(**TokenOut.model_validate(row).model_dump(), token=token)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["tokens"])
async def revoke_token(
    token_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> Response:
    await services.accounts.revoke_api_token(session, actor, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- tenants ----------------------------------------------------------------------------------
@router.get("/tenants", tags=["tenants"])
async def list_tenants(
    actor: CurrentActor, session: SessionDep, lq: ListQueryDep
) -> PageOut[TenantOut]:
    """Operator staff see every tenant; everyone else sees their own."""
    stmt = select(Tenant)
    if not actor.is_operator:
        stmt = stmt.where(Tenant.id == actor.tenant_id)
    page = await paginate(
        session,
        stmt,
        lq,
        sortable={
            "id": Tenant.id,
            "name": Tenant.name,
            "created_at": Tenant.created_at,
            "customer_number": Tenant.customer_number,
        },
        searchable=[Tenant.name, Tenant.customer_number],
        default_sort="id",
    )
    return PageOut[TenantOut](
        items=[TenantOut.model_validate(t) for t in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/tenants", status_code=status.HTTP_201_CREATED, tags=["tenants"])
async def create_tenant(
    body: TenantCreate, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> MeOut:
    """Operator staff create a tenant with its owner."""
    actor.require_operator()
    tenant, user = await services.accounts.create_tenant_with_owner(
        session,
        name=body.name,
        kind=body.kind,
        email=body.owner_email,
        password=body.owner_password,
        full_name=body.owner_full_name,
    )
    await session.commit()
    return MeOut(user=user_out(user), tenant=TenantOut.model_validate(tenant))


@router.get("/tenants/{tenant_id}", tags=["tenants"])
async def get_tenant(
    tenant_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> TenantOut:
    return TenantOut.model_validate(await services.accounts.get_tenant(session, actor, tenant_id))


@router.patch("/tenants/{tenant_id}", tags=["tenants"])
async def patch_tenant(
    tenant_id: int,
    body: TenantPatch,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> TenantOut:
    tenant = await services.accounts.rename_tenant(session, actor, tenant_id, body.name)
    return TenantOut.model_validate(tenant)
