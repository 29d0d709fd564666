"""Failed sign-in throttling, per e-mail and per client IP, stored in the database."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import Throttled
from clickphone.db.models import LoginThrottle


class LoginThrottler:
    """``max_failures`` failures within ``window`` lock the key for ``window``.

    The IP limit is ``ip_factor`` times higher, so one office behind NAT is not locked out by
    one person's typos, while password spraying from one address still is.
    """

    def __init__(self, max_failures: int = 5, window_seconds: int = 300, ip_factor: int = 4):
        self.max_failures = max_failures
        self.window = timedelta(seconds=window_seconds)
        self.ip_factor = ip_factor

    @staticmethod
    def keys(email: str, ip: str | None) -> list[str]:
        keys = [f"email:{email.strip().lower()}"]
        if ip:
            keys.append(f"ip:{ip}")
        return keys

    def _limit(self, key: str) -> int:
        return self.max_failures * (self.ip_factor if key.startswith("ip:") else 1)

    async def check(self, session: AsyncSession, keys: list[str], now: datetime) -> None:
        """Raise Throttled while any key is locked."""
        retry = 0
        for key in keys:
            row = await session.get(LoginThrottle, key)
            if row is not None and row.locked_until is not None and row.locked_until > now:
                retry = max(retry, math.ceil((row.locked_until - now).total_seconds()))
        if retry:
            raise Throttled(retry_after=retry)

    async def record_failure(self, session: AsyncSession, keys: list[str], now: datetime) -> None:
        for key in keys:
            row = await session.get(LoginThrottle, key)
            if row is None:
                row = LoginThrottle(key=key, failures=0, window_start=now)
                session.add(row)
            if now - row.window_start > self.window:
                row.failures = 0
                row.window_start = now
                row.locked_until = None
            row.failures += 1
            if row.failures >= self._limit(key):
                row.locked_until = now + self.window

    async def record_success(self, session: AsyncSession, email: str) -> None:
        await session.execute(
            delete(LoginThrottle).where(LoginThrottle.key == f"email:{email.strip().lower()}")
        )
