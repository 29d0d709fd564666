"""Plug the PSTN into a SIP server: the trunk router before the extension router, and the
registration/health service started once the server listens.

Usage (``telephony.py`` and tests)::

    pstn = Pstn(server, database, bus)   # before server.start()
    await server.start()
    await pstn.start()
    ...
    await pstn.stop()
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event as BusEvent
from clickphone.db.session import Database
from clickphone.sipserver import SipServer, detect_host
from clickphone.trunks.registration import TrunkRegistrationService
from clickphone.trunks.registry import TrunkRegistry
from clickphone.trunks.router import DEFAULT_COUNTRY, EmployeeDestination, TrunkRouter
from clickphone.trunks.secrets import TrunkSecrets, encrypt_stored_passwords

TRUNK_CHANGE_EVENTS = ("trunk.created", "trunk.updated", "trunk.deleted")


class Pstn:
    def __init__(
        self,
        server: SipServer,
        database: Database,
        bus: EventBus | None = None,
        *,
        default_country: str = DEFAULT_COUNTRY,
        registry_ttl: float = 30.0,
        secret_key: str | None = None,
        **registration_options: Any,
    ) -> None:
        self.server = server
        self.database = database
        # carrier passwords are stored encrypted with a key derived from the app's secret
        self.secrets = TrunkSecrets(secret_key) if secret_key else None
        self.registry = TrunkRegistry(database, ttl=registry_ttl, secrets=self.secrets)
        self.registration = TrunkRegistrationService(
            server.endpoint,
            self.registry,
            local_address=self._local_address,
            bus=bus,
            **registration_options,
        )
        self.router = TrunkRouter(
            database,
            self.registry,
            extensions=server.directory,
            destination=EmployeeDestination(database, server.extension_router),
            bus=bus,
            usage=self._usage,
            is_down=self.registration.is_down,
            default_country=default_country,
        )
        # Asked before the extension router: trunk calls are recognised by source address
        # (the extension router would challenge them), dialled numbers that are not
        # extensions go out to carriers.
        server.routers.insert(0, self.router)
        if bus is not None:
            for name in TRUNK_CHANGE_EVENTS:
                bus.subscribe(name, self._on_trunk_change)

    def _local_address(self) -> tuple[str, int]:
        cfg = self.server.config
        assert self.server.address is not None, "the SIP server is not listening"
        return cfg.advertised_host or detect_host(cfg.host), self.server.address[1]

    def _usage(self) -> Iterable[str]:
        """Trunk legs of live calls (answered or still ringing, both directions)."""
        calls = self.server.calls
        if calls is None:
            return []
        return [n for n in calls.busy_legs() if n.startswith("trunk:")]

    async def _on_trunk_change(self, _event: BusEvent) -> None:
        self.registration.changed()

    async def start(self) -> None:
        if self.secrets is not None:
            await encrypt_stored_passwords(self.database, self.secrets)
        await self.registration.start()

    async def stop(self) -> None:
        await self.registration.stop()

    def status(self) -> list[dict[str, Any]]:
        return [st.as_dict() for st in self.registration.states.values()]
