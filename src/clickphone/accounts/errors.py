"""Feature errors with stable ids; the API maps them to ``{"error_id", "message", "details"}``.

The base class lives here (accounts is the lowest feature); other features subclass or use it.
"""

from __future__ import annotations

from typing import Any


class ClickPhoneError(Exception):
    error_id = "internal"
    status = 500
    message = "internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        error_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.details = details or {}
        if error_id:
            self.error_id = error_id
        self.headers = headers or {}
        super().__init__(self.message)


class NotFound(ClickPhoneError):
    error_id = "not_found"
    status = 404
    message = "not found"


class PermissionDenied(ClickPhoneError):
    error_id = "permission.denied"
    status = 403
    message = "you may not do this"


class AuthRequired(ClickPhoneError):
    error_id = "auth.required"
    status = 401
    message = "sign in first"


class InvalidCredentials(ClickPhoneError):
    error_id = "auth.invalid_credentials"
    status = 401
    message = "wrong e-mail or password"


class Throttled(ClickPhoneError):
    error_id = "auth.throttled"
    status = 429
    message = "too many failed sign-in attempts; try again later"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            details={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)}
        )


class CsrfFailed(ClickPhoneError):
    error_id = "auth.csrf"
    status = 403
    message = "missing or wrong X-CSRF-Token header"


class Conflict(ClickPhoneError):
    error_id = "conflict"
    status = 409
    message = "conflicts with an existing record"


class ValidationFailed(ClickPhoneError):
    error_id = "validation.failed"
    status = 422
    message = "some fields are invalid"

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        super().__init__(message, details={"fields": fields})
