"""Write-behind persistence of bindings: batched upserts and deletes, reload after restart
(on SQLite and PostgreSQL)."""

from __future__ import annotations

import time

from sqlalchemy import select

from clickphone.db import Database
from clickphone.db.models import SipDevice, SipRegistration, Tenant
from clickphone.directory.sipcred import all_ha1
from clickphone.registrar.bindings import Binding
from clickphone.registrar.store import DeviceDirectory, DeviceInfo, RegistrationStore
from clickphone.sip.transaction import Peer


async def _devices(database: Database, count: int) -> list[DeviceInfo]:
    async with database.transaction() as session:
        tenant = Tenant(name="Store", customer_number="C00000777")
        session.add(tenant)
        await session.flush()
        for i in range(count):
            name = f"store{i}"
            session.add(
                SipDevice(
                    tenant_id=tenant.id,
                    sip_username=name,
                    realm="clickphone",
                    auth_algorithms=["MD5"],
                    **all_ha1(name, "clickphone", "Secret-123"),
                )
            )
    directory = DeviceDirectory(database)
    found = [await directory.get(f"store{i}") for i in range(count)]
    assert all(d is not None for d in found)
    return [d for d in found if d is not None]


def _binding(device: DeviceInfo, contact: str, now: float, cseq: int, port: int) -> Binding:
    return Binding(
        username=device.username,
        contact=contact,
        peer=Peer("UDP", "192.0.2.10", port),
        expires_at=now + 3600,
        call_id="c" * 600,  # longer than the column: stored cut to 500
        cseq=cseq,
        user_agent="phone/1.0",
        q=0.5,
        instance_id="<urn:uuid:1>",
    )


async def _rows(database: Database) -> dict[tuple[int, str], SipRegistration]:
    async with database.session() as session:
        found = (await session.execute(select(SipRegistration))).scalars()
        return {(r.device_id, r.contact_uri): r for r in found}


async def test_flush_upserts_refreshes_and_deletes(database: Database) -> None:
    a, b = await _devices(database, 2)
    store = RegistrationStore(database)
    now = time.time()
    store.upsert(a, _binding(a, "sip:a@192.0.2.10:5060", now, 1, 5060))
    store.upsert(a, _binding(a, "sip:a@192.0.2.11:5060", now, 1, 5061))
    store.upsert(b, _binding(b, "sip:b@192.0.2.12:5060", now, 7, 5062))
    await store.flush()
    rows = await _rows(database)
    assert set(rows) == {
        (a.id, "sip:a@192.0.2.10:5060"),
        (a.id, "sip:a@192.0.2.11:5060"),
        (b.id, "sip:b@192.0.2.12:5060"),
    }
    first = rows[(a.id, "sip:a@192.0.2.10:5060")]
    assert (first.tenant_id, first.received_host, first.received_port) == (
        a.tenant_id,
        "192.0.2.10",
        5060,
    )
    assert (first.transport, first.user_agent, first.cseq, first.q) == ("UDP", "phone/1.0", 1, 0.5)
    assert first.call_id == "c" * 500 and first.instance_id == "<urn:uuid:1>"
    assert abs(first.expires_at.timestamp() - (now + 3600)) < 1
    created = first.created_at

    # A refresh updates the row in place (same id, created_at kept); a removal deletes.
    later = now + 600
    store.upsert(a, _binding(a, "sip:a@192.0.2.10:5060", later, 2, 6000))
    store.delete(a, _binding(a, "sip:a@192.0.2.11:5060", now, 1, 5061))
    await store.flush()
    rows = await _rows(database)
    assert set(rows) == {(a.id, "sip:a@192.0.2.10:5060"), (b.id, "sip:b@192.0.2.12:5060")}
    refreshed = rows[(a.id, "sip:a@192.0.2.10:5060")]
    assert refreshed.id == first.id and refreshed.created_at == created
    assert (refreshed.received_port, refreshed.cseq) == (6000, 2)
    assert abs(refreshed.expires_at.timestamp() - (later + 3600)) < 1
    assert refreshed.updated_at >= created

    # What a restart loads back.
    loaded = {(dev_id, bd.contact): bd for dev_id, bd in await store.load(now)}
    assert loaded[(a.id, "sip:a@192.0.2.10:5060")].peer == Peer("UDP", "192.0.2.10", 6000)
    assert loaded[(b.id, "sip:b@192.0.2.12:5060")].cseq == 7


async def test_flush_of_many_bindings_in_one_batch(database: Database) -> None:
    devices = await _devices(database, 40)
    store = RegistrationStore(database)
    now = time.time()
    for round_ in range(2):  # the second round refreshes every row
        for i, device in enumerate(devices):
            for k in range(3):
                store.upsert(device, _binding(device, f"sip:{i}-{k}@h", now, round_ + 1, 5060))
        await store.flush()
    rows = await _rows(database)
    assert len(rows) == 120 and {r.cseq for r in rows.values()} == {2}
