"""Trunk rows as routing snapshots, cached, with carriers' host names resolved.

The cache is dropped when a ``trunk.*`` event says a trunk changed (API) and otherwise
reloaded every ``ttl`` seconds, so trunks added by another process show up soon.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from dataclasses import replace

from sqlalchemy import select

from clickphone.db.models import Trunk
from clickphone.db.session import Database
from clickphone.trunks.dialplan import TrunkSpec, networks_of, parse_hostport
from clickphone.trunks.secrets import SecretError, TrunkSecrets, is_encrypted

log = logging.getLogger("clickphone.trunks")


def spec_of(row: Trunk, secrets: TrunkSecrets | None = None) -> TrunkSpec:
    """A routing snapshot of ``row``; the password decrypted with ``secrets``."""
    password = row.password or None
    if password and is_encrypted(password):
        password = secrets.decrypt(password) if secrets is not None else None
    return TrunkSpec(
        id=row.id,
        name=row.name,
        kind=row.kind,
        host=row.host,
        port=row.port,
        transport=(row.transport or "UDP").upper(),
        tenant_id=row.tenant_id,
        outbound_proxy=row.outbound_proxy or None,
        username=row.username or None,
        password=password,
        from_domain=row.from_domain or None,
        allowed_addresses=tuple(row.allowed_addresses or ()),
        prefixes=tuple(row.prefixes or ()),
        priority=row.priority,
        rate_per_minute=row.rate_per_minute,
        number_format=row.number_format or "e164",
        max_channels=row.max_channels,
        max_cps=row.max_cps,
        enabled=row.enabled,
        register_expires=row.register_expires,
        options_interval=row.options_interval,
        codecs=tuple(row.codecs or ()),
    )


async def resolve(host: str) -> list[str]:
    """IP addresses of ``host`` (itself when it is an address); [] when unresolvable."""
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError:
        log.warning("x cannot resolve trunk host %s", host)
        return []
    return sorted({str(info[4][0]) for info in infos})


class TrunkRegistry:
    def __init__(
        self, database: Database, *, ttl: float = 30.0, secrets: TrunkSecrets | None = None
    ) -> None:
        self.database = database
        self.ttl = ttl
        self.secrets = secrets
        self._specs: list[TrunkSpec] | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._specs = None

    async def trunks(self) -> list[TrunkSpec]:
        specs = self._specs
        if specs is not None and time.monotonic() - self._loaded_at < self.ttl:
            return specs
        async with self._lock:
            if self._specs is not None and time.monotonic() - self._loaded_at < self.ttl:
                return self._specs
            async with self.database.session() as session:
                rows = (await session.execute(select(Trunk).order_by(Trunk.id))).scalars().all()
                loaded = []
                for r in rows:
                    try:
                        loaded.append(spec_of(r, self.secrets))
                    except SecretError as exc:
                        log.error("x trunk %s: %s", r.name, exc)
                        loaded.append(spec_of(r, None))
            specs = []
            for spec in loaded:
                # Calls are accepted from the listed networks and from the carrier's own
                # host and outbound proxy (where our REGISTER and INVITEs go).
                sources = list(spec.allowed_addresses)
                sources += await resolve(spec.host)
                if spec.outbound_proxy:
                    sources += await resolve(parse_hostport(spec.outbound_proxy)[0])
                specs.append(_with_networks(spec, sources))
            self._specs = specs
            self._loaded_at = time.monotonic()
            return specs

    async def get(self, trunk_id: int) -> TrunkSpec | None:
        for spec in await self.trunks():
            if spec.id == trunk_id:
                return spec
        return None

    async def for_source(self, address: str) -> TrunkSpec | None:
        """The enabled trunk that calls from ``address`` belong to (first by priority)."""
        found = [t for t in await self.trunks() if t.enabled and t.accepts_from(address)]
        found.sort(key=lambda t: (t.priority, t.id))
        return found[0] if found else None


def _with_networks(spec: TrunkSpec, sources: list[str]) -> TrunkSpec:
    return replace(spec, networks=networks_of(sources))
