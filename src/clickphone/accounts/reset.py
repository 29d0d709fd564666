"""Password reset by e-mail link (when SMTP is configured), and the sign-in page's options.

- ``POST /api/v1/auth/password-reset {email}`` always answers 202 (whether or not the
  address is registered, so accounts can't be enumerated); for an active user it e-mails a
  link ``<public_url>/reset-password#token=...`` (the token travels in the fragment, so it
  never reaches server logs or a Referer). Rate limited per e-mail and per client IP (429).
- ``POST /api/v1/auth/password-reset/confirm {token, new_password}`` sets the password. A
  token is random, stored only as its SHA-256, expires after ``password_reset_ttl`` seconds
  and works once; using one voids the user's other reset links and signs out every session.
- ``GET /api/v1/auth/options`` tells the sign-in page whether to offer the reset link.

Without ``smtp_host`` and ``smtp_from`` both reset routes answer 501 ``auth.reset_unavailable``.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import ClickPhoneError, Throttled
from clickphone.accounts.passwords import hash_password, hash_token
from clickphone.accounts.schemas import Password
from clickphone.accounts.service import check_password_strength, normalize_email
from clickphone.api.deps import ServicesDep, SessionDep, client_ip
from clickphone.api.schemas import ERROR_RESPONSES
from clickphone.bus.outbox import add_event
from clickphone.config import Settings
from clickphone.db.models import LoginThrottle, PasswordResetToken, User, WebSession, utcnow
from clickphone.logging import get_logger
from clickphone.mail import smtp_send

log = get_logger(__name__)

router = APIRouter(responses=ERROR_RESPONSES, tags=["auth"])

# Requests per window: a person retrying is fine, a script mailing someone 1000 times is not.
PER_EMAIL = 3
PER_IP = 20
WINDOW = timedelta(hours=1)


class ResetUnavailable(ClickPhoneError):
    error_id = "auth.reset_unavailable"
    status = 501
    message = "password reset by e-mail is not available: the server has no SMTP settings"


class ResetInvalid(ClickPhoneError):
    error_id = "auth.reset_invalid"
    status = 400
    message = "this password-reset link is invalid, used or expired; request a new one"


class ResetThrottled(Throttled):
    """Like a throttled sign-in (429 with Retry-After), for reset requests."""

    error_id = "auth.reset_throttled"
    message = "too many password-reset requests; try again later"


class ResetRequest(BaseModel):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]


class ResetConfirm(BaseModel):
    token: Annotated[str, Field(min_length=10, max_length=200)]
    new_password: Password


class AuthOptions(BaseModel):
    password_reset: bool


class Accepted(BaseModel):
    message: str


def _require_smtp(settings: Settings) -> None:
    if not settings.smtp_configured:
        raise ResetUnavailable()


async def _throttle(session: AsyncSession, email: str, ip: str, now: datetime) -> None:
    """Count this request against the e-mail and the IP; raise when either is over."""
    keys = [(f"reset:email:{email}", PER_EMAIL)]
    if ip:
        keys.append((f"reset:ip:{ip}", PER_IP))
    rows = []
    for key, limit in keys:
        row = await session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_start=now)
            session.add(row)
        elif now - row.window_start > WINDOW:
            row.failures = 0
            row.window_start = now
        if row.failures >= limit:
            retry = math.ceil((row.window_start + WINDOW - now).total_seconds())
            await session.rollback()
            raise ResetThrottled(max(1, retry))
        rows.append(row)
    for row in rows:
        row.failures += 1
    try:
        await session.commit()
    except IntegrityError:  # a parallel request created the row first
        await session.rollback()
        raise ResetThrottled(1) from None


def reset_message(settings: Settings, to: str, link: str, minutes: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = "ClickPhone: сброс пароля / password reset"
    msg.set_content(
        "Здравствуйте!\n\n"
        "Чтобы задать новый пароль ClickPhone, откройте ссылку:\n"
        f"{link}\n\n"
        f"Ссылка действует {minutes} мин. и только один раз. Если вы не просили сбросить "
        "пароль, ничего не делайте: пароль останется прежним.\n\n"
        "---\n\n"
        "Hello,\n\n"
        "To set a new ClickPhone password, open this link:\n"
        f"{link}\n\n"
        f"It works once, within {minutes} minutes. If you did not ask for a reset, ignore "
        "this e-mail: your password stays the same.\n"
    )
    return msg


async def send_mail(settings: Settings, message: EmailMessage) -> None:
    """Send through the configured SMTP server; failures are logged (the API said 202)."""
    try:
        await smtp_send(settings, message)
    except Exception as exc:
        log.error("password_reset.mail_failed", error=repr(exc), host=settings.smtp_host)
    else:
        log.info("password_reset.mail_sent")


@router.get("/auth/options")
async def auth_options(services: ServicesDep) -> AuthOptions:
    """What the sign-in page may offer: ``password_reset`` when SMTP is configured."""
    return AuthOptions(password_reset=services.settings.smtp_configured)


@router.post("/auth/password-reset", status_code=status.HTTP_202_ACCEPTED)
async def request_reset(
    body: ResetRequest,
    request: Request,
    background: BackgroundTasks,
    services: ServicesDep,
    session: SessionDep,
) -> Accepted:
    """E-mail a reset link to this address if it belongs to an account (always 202)."""
    settings = services.settings
    _require_smtp(settings)
    email = normalize_email(body.email)
    ip = client_ip(request)
    now = utcnow()
    await _throttle(session, email, ip, now)
    user = await session.scalar(select(User).where(User.email == email))
    if user is not None and user.is_active:
        token = secrets.token_urlsafe(32)
        session.add(
            PasswordResetToken(
                user_id=user.id,
                token_hash=hash_token(token),
                expires_at=now + timedelta(seconds=settings.password_reset_ttl),
                ip=ip[:64],
            )
        )
        await session.commit()
        link = f"{settings.effective_public_url}/reset-password#token={token}"
        minutes = max(1, settings.password_reset_ttl // 60)
        # Sent after the response, so known and unknown addresses answer alike and fast.
        background.add_task(send_mail, settings, reset_message(settings, user.email, link, minutes))
    return Accepted(message="if this address has an account, a reset link is on its way")


@router.post("/auth/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def confirm_reset(body: ResetConfirm, services: ServicesDep, session: SessionDep) -> Response:
    """Set a new password with the e-mailed token; signs out every session of the user."""
    _require_smtp(services.settings)
    now = utcnow()
    row = await session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_token(body.token))
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise ResetInvalid()
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise ResetInvalid()
    check_password_strength(body.new_password, "new_password")
    # Claim the token atomically: of two racing confirmations only one wins.
    claimed = await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        await session.rollback()
        raise ResetInvalid()
    await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    user.password_hash = hash_password(body.new_password)
    user.password_changed_at = now
    await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == f"email:{user.email}"))
    add_event(session, "user.password_reset", {"user_id": user.id}, tenant_id=user.tenant_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
