"""A ClickPhone SIP server on loopback with a small company provisioned, for telephony tests."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event
from clickphone.calls.b2bua import CallSettings
from clickphone.db.models import Base, CallRecord, Employee, SipDevice, Tenant, User
from clickphone.db.session import Database
from clickphone.directory.sipcred import all_ha1
from clickphone.media.relay import LocalMediaController, RelayConfig
from clickphone.sipserver import SipServer, SipServerConfig

REALM = "clickphone"


@dataclass
class Ext:
    extension: str
    username: str
    password: str
    algorithms: list[str]
    name: str


@dataclass
class Pbx:
    server: SipServer
    database: Database
    media: LocalMediaController
    bus: EventBus
    host: str
    port: int
    exts: dict[str, Ext]
    events: list[Event] = field(default_factory=list)

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def events_of(self, type_: str) -> list[Event]:
        return [e for e in self.events if e.type == type_]

    async def records(self) -> list[CallRecord]:
        """Call records in the database, oldest first."""
        async with self.database.session() as session:
            rows = await session.execute(select(CallRecord).order_by(CallRecord.started_at))
            return list(rows.scalars())


DEFAULT_EXTS = [
    Ext("101", "alice101", "alice-Secret-101", ["SHA-256", "MD5"], "Alice Archer"),
    Ext("102", "bob102", "bob-Secret-102", ["SHA-256", "MD5"], "Bob Baker"),
    Ext("103", "carol103", "carol-Secret-103", ["MD5"], "Carol Cook"),
    Ext("104", "dave104", "dave-Secret-104", ["MD5"], "Dave Dunn"),
]


async def provision(session: AsyncSession, exts: list[Ext], *, tenant_name: str = "Acme") -> int:
    tenant = Tenant(name=tenant_name, customer_number=f"C{abs(hash(tenant_name)) % 10**8}")
    session.add(tenant)
    await session.flush()
    for ext in exts:
        user = User(
            tenant_id=tenant.id,
            email=f"{ext.username}@{tenant_name.lower()}.test",
            password_hash="!",
            full_name=ext.name,
            role="employee",
        )
        session.add(user)
        await session.flush()
        employee = Employee(tenant_id=tenant.id, user_id=user.id, extension=ext.extension)
        session.add(employee)
        await session.flush()
        session.add(
            SipDevice(
                tenant_id=tenant.id,
                user_id=user.id,
                employee_id=employee.id,
                sip_username=ext.username,
                realm=REALM,
                auth_algorithms=ext.algorithms,
                **all_ha1(ext.username, REALM, ext.password),
            )
        )
    return tenant.id


async def start_pbx(
    tmp_path: Path,
    *,
    exts: list[Ext] | None = None,
    tcp: bool = True,
    auth_max_failures: int = 10,
    call_settings: CallSettings | None = None,
    rtp_timeout: float = 60.0,
    database: Database | None = None,
    provision_exts: bool = True,
    **server_options: Any,
) -> Pbx:
    """Start a SIP server; on a new SQLite file unless ``database`` (already migrated) is
    given. ``provision_exts=False`` reuses what the database holds (a restart)."""
    exts = exts if exts is not None else DEFAULT_EXTS
    if database is None:
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'pbx.db'}")
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    if provision_exts:
        async with database.transaction() as session:
            await provision(session, exts)
    bus = EventBus()
    media = LocalMediaController(
        RelayConfig(bind_ip="127.0.0.1", port_min=None, port_max=None, rtp_timeout=rtp_timeout)
    )
    await media.__aenter__()
    routers = server_options.pop("routers", ())
    before_start = server_options.pop("before_start", None)
    server = SipServer(
        SipServerConfig(
            host="127.0.0.1",
            port=0,
            tcp=tcp,
            realm=REALM,
            secret=b"test-secret-for-digest-nonces",
            advertised_host="127.0.0.1",
            media_ip="127.0.0.1",
            auth_max_failures=auth_max_failures,
            calls=call_settings,
            **server_options,
        ),
        database,
        media,
        bus=bus,
        routers=routers,
    )
    if before_start is not None:
        before_start(server, bus)
    host, port = await server.start()
    pbx = Pbx(server, database, media, bus, host, port, {e.extension: e for e in exts})

    async def record(event: Event) -> None:
        pbx.events.append(event)

    bus.subscribe("*", record)
    return pbx


async def stop_pbx(pbx: Pbx, *, dispose: bool = True) -> None:
    await pbx.server.stop()
    await pbx.media.close()
    if dispose:
        await pbx.database.dispose()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
