"""Application assembly: ``create_app`` (FastAPI) and ``build_runtime`` (everything serve runs).

Services hook (SIP, media, ...): pass objects with ``async start()`` / ``async stop()`` in
``services=`` to :func:`build_runtime` or :func:`create_app`; they are started in order after
the database is migrated and the outbox dispatcher runs, and stopped in reverse order when
the app shuts down. See ``HOOK: SIP/media services`` below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from clickphone import __version__
from clickphone.accounts.service import AccountService
from clickphone.accounts.throttle import LoginThrottler
from clickphone.api import api_router
from clickphone.api.deps import Services, SipStatusProvider
from clickphone.api.errors import error_body, install_error_handlers
from clickphone.bus import EventBus, OutboxDispatcher
from clickphone.config import Settings
from clickphone.db import Database
from clickphone.db.migrate import upgrade
from clickphone.directory.service import DirectoryService
from clickphone.logging import get_logger
from clickphone.numbers.service import NumberService

log = get_logger(__name__)


class Service(Protocol):
    """Anything started and stopped with the app (SIP server, media workers, jobs)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


NOT_BUILT_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>ClickPhone</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>ClickPhone is running</h1>
<p>The web cabinet isn't built yet. Build it with
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code> and reload this page.</p>
<p>The REST API works already: <a href="/api/docs">/api/docs</a>.</p>
</body></html>
"""


def find_web_dist(settings: Settings) -> Path | None:
    candidates = [settings.web_dist] if settings.web_dist else []
    candidates += [
        Path.cwd() / "web" / "dist",
        Path(__file__).resolve().parents[2] / "web" / "dist",
    ]
    for c in candidates:
        if c is not None and (c / "index.html").is_file():
            return c.resolve()
    return None


def _install_spa(app: FastAPI, dist: Path | None) -> None:
    @app.get("/{path:path}", include_in_schema=False)
    async def spa(path: str, request: Request) -> Response:
        if path == "api" or path.startswith("api/"):
            return JSONResponse(error_body("not_found", f"no API route /{path}"), status_code=404)
        if dist is None:
            return HTMLResponse(NOT_BUILT_PAGE)
        target = (dist / path).resolve()
        if path and target.is_file() and target.is_relative_to(dist):
            return FileResponse(target)
        return FileResponse(dist / "index.html")


@dataclass
class StartupOptions:
    migrate: bool = True
    ensure_admin: bool = True
    announce: bool = True  # print the URL and a generated admin password to stdout


def create_app(
    settings: Settings,
    *,
    database: Database,
    bus: EventBus,
    sip_status_provider: SipStatusProvider | None = None,
    services: Sequence[Service] = (),
    dispatcher: OutboxDispatcher | None = None,
    startup: StartupOptions | None = None,
) -> FastAPI:
    startup = startup or StartupOptions(migrate=False, ensure_admin=False, announce=False)
    dispatcher = dispatcher or OutboxDispatcher(database, bus)
    container = Services(
        settings=settings,
        database=database,
        bus=bus,
        accounts=AccountService(
            throttler=LoginThrottler(settings.login_max_failures, settings.login_window_seconds),
            session_max_age=settings.session_max_age,
        ),
        directory=DirectoryService(realm=settings.sip_realm),
        numbers=NumberService(),
        sip_status_provider=sip_status_provider,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if startup.migrate:
            await upgrade(database)
        if startup.ensure_admin:
            async with database.session() as session:
                admin, generated = await container.accounts.ensure_operator_admin(
                    session, settings.admin_email, settings.admin_password or None
                )
            if generated and startup.announce:
                print(
                    f"Created the operator admin {admin.email} with password {generated}\n"
                    "  (shown only now; set CLICKPHONE_ADMIN_PASSWORD to choose it)",
                    flush=True,
                )
        await dispatcher.start()
        started: list[Service] = []
        try:
            # ---- HOOK: SIP/media services start here (in order) -----------------------
            for svc in services:
                await svc.start()
                started.append(svc)
            if startup.announce:
                print(f"ClickPhone {__version__} is running at {settings.http_url}/", flush=True)
                print(f"  API docs: {settings.http_url}/api/docs", flush=True)
                if settings.admin_email:
                    print(f"  Sign in as {settings.admin_email}", flush=True)
            yield
        finally:
            # ---- HOOK: ... and stop here (reverse order) ------------------------------
            for svc in reversed(started):
                try:
                    await svc.stop()
                except Exception:
                    log.exception("service.stop_failed", service=type(svc).__name__)
            await dispatcher.stop()
            await database.dispose()

    app = FastAPI(
        title="ClickPhone API",
        version=__version__,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.services = container
    app.state.dispatcher = dispatcher
    install_error_handlers(app)
    app.include_router(api_router())

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.url.path.startswith("/api/v1"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    _install_spa(app, find_web_dist(settings))
    return app


@dataclass
class Runtime:
    settings: Settings
    database: Database
    bus: EventBus
    dispatcher: OutboxDispatcher
    app: FastAPI
    services: list[Service] = field(default_factory=list)


def build_runtime(
    settings: Settings,
    *,
    services: Sequence[Service] = (),
    sip_status_provider: SipStatusProvider | None = None,
    startup: StartupOptions | None = None,
    telephony: bool = False,
) -> Runtime:
    """Everything ``clickphone serve`` runs, ready for uvicorn (``runtime.app``).

    The integrator passes the SIP server / media workers in ``services`` (started and stopped
    with the app's lifespan) and their status callable in ``sip_status_provider``.
    """
    settings.ensure_secret_key()
    database = Database(settings.effective_database_url)
    bus = EventBus()
    dispatcher = OutboxDispatcher(database, bus)
    services = list(services)
    extra: dict[str, Any] = {}
    if telephony:
        from clickphone.telephony import TelephonyService

        phone = TelephonyService(settings, database, bus)
        services.append(phone)
        sip_status_provider = sip_status_provider or phone.status
        extra["telephony"] = phone
    app = create_app(
        settings,
        database=database,
        bus=bus,
        sip_status_provider=sip_status_provider,
        services=services,
        dispatcher=dispatcher,
        startup=startup or StartupOptions(),
    )
    app.state.services.extra.update(extra)
    if "telephony" in extra:
        app.state.originator = extra["telephony"].originator
    return Runtime(settings, database, bus, dispatcher, app, list(services))


__all__ = ["Runtime", "Service", "StartupOptions", "build_runtime", "create_app"]
