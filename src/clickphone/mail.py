"""Sending e-mail through the configured SMTP server (password reset, notifications,
voicemail)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from clickphone.config import Settings


async def smtp_send(settings: Settings, message: EmailMessage) -> None:
    """Send ``message``; raises on failure (callers decide how to report it)."""
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user or None,
        password=settings.smtp_password or None,
        use_tls=settings.smtp_tls == "tls",
        start_tls=settings.smtp_tls == "starttls",
        timeout=30,
    )
