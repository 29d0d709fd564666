"""One error shape everywhere: ``{"error_id", "message", "details"}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from clickphone.accounts.errors import ClickPhoneError
from clickphone.db.listing import BadListQuery
from clickphone.logging import get_logger

log = get_logger(__name__)

_HTTP_IDS = {
    400: "bad_request",
    401: "auth.required",
    403: "permission.denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_body(
    error_id: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"error_id": error_id, "message": message, "details": details or {}}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in {"body", "query", "path", "header", "cookie", "form"}:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "request")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ClickPhoneError)
    async def _feature_error(_request: Request, exc: ClickPhoneError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.error_id, exc.message, exc.details),
            status_code=exc.status,
            headers=exc.headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for err in exc.errors():
            fields.setdefault(_field_name(tuple(err.get("loc", ()))), str(err.get("msg", "")))
        return JSONResponse(
            error_body(
                "validation.failed",
                "some fields are invalid: " + ", ".join(fields),
                {"fields": fields},
            ),
            status_code=422,
        )

    @app.exception_handler(BadListQuery)
    async def _bad_list(_request: Request, exc: BadListQuery) -> JSONResponse:
        return JSONResponse(
            error_body("validation.failed", str(exc), {"fields": {exc.field: exc.reason}}),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error_id = _HTTP_IDS.get(exc.status_code, f"http.{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else error_id
        return JSONResponse(
            error_body(error_id, message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("api.unhandled", path=request.url.path, method=request.method)
        return JSONResponse(error_body("internal", "internal server error"), status_code=500)
