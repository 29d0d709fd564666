"""Rate limit of SIP authentication failures per source address (pure, time passed in)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class _Window:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class AuthFailureLimiter:
    """Blocks a source address after ``max_failures`` failed authentications in ``window``
    seconds, for ``block_for`` seconds. ``failure()`` returns True exactly once per block, when
    the address becomes blocked, so the caller publishes one event per block, not per packet.
    """

    def __init__(
        self,
        *,
        max_failures: int = 10,
        window: float = 60.0,
        block_for: float = 300.0,
        max_tracked: int = 100_000,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.block_for = block_for
        self.max_tracked = max_tracked
        self._by_source: dict[str, _Window] = {}

    def blocked(self, source: str, now: float) -> bool:
        w = self._by_source.get(source)
        return w is not None and w.blocked_until > now

    def failure(self, source: str, now: float) -> bool:
        w = self._by_source.get(source)
        if w is None:
            if len(self._by_source) >= self.max_tracked:
                self.prune(now)
            w = self._by_source[source] = _Window()
        while w.failures and w.failures[0] <= now - self.window:
            w.failures.popleft()
        w.failures.append(now)
        if len(w.failures) >= self.max_failures and w.blocked_until <= now:
            w.blocked_until = now + self.block_for
            w.failures.clear()
            return True
        return False

    def success(self, source: str) -> None:
        w = self._by_source.get(source)
        if w is not None and w.blocked_until == 0.0:
            del self._by_source[source]

    def prune(self, now: float) -> None:
        for source in list(self._by_source):
            w = self._by_source[source]
            if w.blocked_until <= now and (not w.failures or w.failures[-1] <= now - self.window):
                del self._by_source[source]
