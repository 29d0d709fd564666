"""A ClickPhone SIP server with the PSTN plugged in (trunk router + registration service),
a company with extensions 101-104, a virtual number and carriers on other loopback
addresses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event
from clickphone.db.models import (
    Base,
    BlockedNumber,
    CallRecord,
    Contact,
    ContactNumber,
    Employee,
    PhoneNumber,
    TenantPhoneSettings,
    Trunk,
)
from clickphone.db.session import Database
from clickphone.media.relay import LocalMediaController, RelayConfig
from clickphone.sipserver import SipServer, SipServerConfig
from clickphone.trunks.wiring import Pstn
from telephony.pbx import DEFAULT_EXTS, REALM, Ext, provision

DID = "+74951234567"  # the company's virtual number; calls to it ring extension 102
CALLER_ID = DID


@dataclass
class PstnPbx:
    server: SipServer
    pstn: Pstn
    database: Database
    media: LocalMediaController
    bus: EventBus
    tenant_id: int
    exts: dict[str, Ext]
    events: list[Event] = field(default_factory=list)

    @property
    def address(self) -> tuple[str, int]:
        assert self.server.address is not None
        return self.server.address

    @property
    def hostport(self) -> str:
        return f"{self.address[0]}:{self.address[1]}"

    def events_of(self, type_: str) -> list[Event]:
        return [e for e in self.events if e.type == type_]

    async def records(self) -> list[CallRecord]:
        async with self.database.session() as session:
            rows = await session.execute(select(CallRecord).order_by(CallRecord.started_at))
            return list(rows.scalars())

    async def add_trunk(self, **fields: Any) -> int:
        async with self.database.transaction() as session:
            trunk = Trunk(**fields)
            session.add(trunk)
            await session.flush()
            trunk_id = trunk.id
        self.pstn.registration.changed()
        return trunk_id


async def start_pstn_pbx(
    tmp_path: Path,
    *,
    before_start: Callable[[SipServer, Pstn, EventBus], None] | None = None,
    **registration_options: Any,
) -> PstnPbx:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'pstn.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with database.transaction() as session:
        tenant_id = await provision(session, DEFAULT_EXTS)
        bob = (
            await session.execute(
                select(Employee).where(Employee.tenant_id == tenant_id, Employee.extension == "102")
            )
        ).scalar_one()
        session.add(
            PhoneNumber(
                e164=DID, country="RU", tenant_id=tenant_id, state="assigned", employee_id=bob.id
            )
        )
        session.add(
            TenantPhoneSettings(tenant_id=tenant_id, default_country="RU", allowed_countries=["RU"])
        )
        contact = Contact(tenant_id=tenant_id, name="Ivan Petrov")
        contact.numbers.append(ContactNumber(number="+79161234567", label="mobile"))
        session.add(contact)
        session.add(BlockedNumber(tenant_id=tenant_id, pattern="+79990000000", direction="both"))
        session.add(BlockedNumber(tenant_id=None, pattern="+7809*", direction="outbound"))
    bus = EventBus()
    media = LocalMediaController(
        RelayConfig(bind_ip="127.0.0.1", port_min=None, port_max=None, rtp_timeout=60.0)
    )
    await media.__aenter__()
    server = SipServer(
        SipServerConfig(
            host="127.0.0.1",
            port=0,
            tcp=False,
            realm=REALM,
            secret=b"test-secret-for-digest-nonces",
            advertised_host="127.0.0.1",
            media_ip="127.0.0.1",
        ),
        database,
        media,
        bus=bus,
    )
    options = {"retry_interval": 1.0, "rescan_interval": 0.5, **registration_options}
    pstn = Pstn(server, database, bus, default_country="RU", registry_ttl=0.5, **options)
    if before_start is not None:
        before_start(server, pstn, bus)  # e.g. plug call flows in
    await server.start()
    await pstn.start()
    pbx = PstnPbx(
        server, pstn, database, media, bus, tenant_id, {e.extension: e for e in DEFAULT_EXTS}
    )

    async def record(event: Event) -> None:
        pbx.events.append(event)

    bus.subscribe("*", record)
    return pbx


async def stop_pstn_pbx(pbx: PstnPbx) -> None:
    await pbx.pstn.stop()
    await pbx.server.stop()
    await pbx.media.close()
    await pbx.database.dispose()
