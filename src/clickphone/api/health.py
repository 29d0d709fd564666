"""GET /api/v1/health: database reachability and SIP status (from an injected provider)."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from clickphone import __version__
from clickphone.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(services: ServicesDep) -> JSONResponse:
    db_ok = await services.database.ping()
    sip: dict[str, Any]
    provider = services.sip_status_provider
    if provider is None:
        sip = {"status": "not_running"}
    else:
        try:
            result = provider()
            sip = await result if inspect.isawaitable(result) else result
        except Exception as exc:
            sip = {"status": "error", "error": type(exc).__name__}
    body = {
        "status": "ok" if db_ok else "degraded",
        "version": __version__,
        "database": {"ok": db_ok, "dialect": services.database.dialect},
        "sip": sip,
    }
    return JSONResponse(body, status_code=200 if db_ok else 503)
