"""Request dependencies: the services container, DB session, current actor, list params.

Authentication: ``Authorization: Bearer <api token>`` (no CSRF), or the session cookie, in
which case unsafe methods need ``X-CSRF-Token`` equal to the session's CSRF token (also sent
in the readable ``clickphone_csrf`` cookie: the double-submit pattern).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import AuthRequired, CsrfFailed
from clickphone.accounts.scope import Actor
from clickphone.accounts.service import AccountService, actor_for
from clickphone.bus import EventBus
from clickphone.config import Settings
from clickphone.db.listing import MAX_LIMIT, ListQuery
from clickphone.db.session import Database
from clickphone.directory.service import DirectoryService
from clickphone.numbers.service import NumberService

SESSION_COOKIE = "clickphone_session"
CSRF_COOKIE = "clickphone_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

SipStatusProvider = Callable[[], dict[str, Any] | Awaitable[dict[str, Any]]]


@dataclass
class Services:
    settings: Settings
    database: Database
    bus: EventBus
    accounts: AccountService
    directory: DirectoryService
    numbers: NumberService
    sip_status_provider: SipStatusProvider | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with services.database.session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


async def get_actor(request: Request, services: ServicesDep, session: SessionDep) -> Actor:
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthRequired("use 'Authorization: Bearer <token>'", error_id="auth.invalid_token")
        user = await services.accounts.resolve_api_token(session, token.strip())
        if user is None:
            raise AuthRequired(
                "the API token is invalid, expired or revoked", error_id="auth.invalid_token"
            )
        return actor_for(user, via_token=True)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise AuthRequired()
    found = await services.accounts.resolve_web_session(session, cookie)
    if found is None:
        raise AuthRequired("your session has expired; sign in again", error_id="auth.expired")
    user, web_session = found
    if request.method not in SAFE_METHODS:
        header = request.headers.get(CSRF_HEADER, "")
        if not header or not hmac.compare_digest(header, web_session.csrf_token):
            raise CsrfFailed()
    request.state.web_session_token = cookie
    return actor_for(user)


CurrentActor = Annotated[Actor, Depends(get_actor)]


def list_query(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = 50,
    offset: Annotated[int, Query(ge=0, description="rows to skip")] = 0,
    q: Annotated[str | None, Query(max_length=200, description="search text")] = None,
    sort: Annotated[
        str | None, Query(max_length=50, description="field to sort by; '-field' descending")
    ] = None,
) -> ListQuery:
    return ListQuery(limit=limit, offset=offset, q=q or None, sort=sort)


ListQueryDep = Annotated[ListQuery, Depends(list_query)]
