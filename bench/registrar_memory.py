"""Memory kept per registration by ClickPhone's registrar, measured two ways.

Starts the SIP server in this process (SQLite in a temp dir, N MD5 devices as in
``bench/sip_server.py``), registers every device once with digest auth from an in-process UDP
client, waits until every transaction has ended (short SIP timers so Timer J expires in
under a second), then reports:

- retained bytes per registration: ``tracemalloc`` difference over the registrations (the
  binding, the cached credentials, indexes), i.e. what each live registration costs;
- RSS growth per registration: includes allocator fragmentation and the peak of transient
  transactions, so it depends on the load pattern as well.

    .venv/bin/python bench/registrar_memory.py --devices 10000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import resource
import secrets
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sip_server import PASSWORD, REALM, provision, username

from clickphone.bus.bus import EventBus
from clickphone.db.session import Database
from clickphone.media.relay import LocalMediaController, RelayConfig
from clickphone.sip.auth import build_authorization, parse_challenge
from clickphone.sip.message import SipRequest
from clickphone.sip.parser import parse_message
from clickphone.sip.transaction import Timers
from clickphone.sipserver import SipServer, SipServerConfig


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiters: dict[str, asyncio.Future[bytes]] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        msg = parse_message(data)
        fut = self.waiters.pop(f"{msg.call_id} {msg.cseq[0]}", None)
        if fut is not None and not fut.done():
            fut.set_result(data)

    async def ask(self, req: SipRequest, server: tuple[str, int]) -> bytes:
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiters[f"{req.call_id} {req.cseq[0]}"] = fut
        assert self.transport is not None
        data = req.to_bytes()
        for _ in range(20):  # UDP: retransmit like a phone would if a datagram was lost
            self.transport.sendto(data, server)
            try:
                return await asyncio.wait_for(asyncio.shield(fut), 0.5)
            except TimeoutError:
                continue
        raise TimeoutError(f"no answer to {req.call_id}")


def register(
    user: str, port: int, host: str, call_id: str, cseq: int, auth: str | None
) -> SipRequest:
    headers = [
        ("Via", f"SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{secrets.token_hex(6)};rport"),
        ("Max-Forwards", "70"),
        ("From", f"<sip:{user}@{host}>;tag={secrets.token_hex(4)}"),
        ("To", f"<sip:{user}@{host}>"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} REGISTER"),
        ("Contact", f"<sip:{user}@127.0.0.1:{port}>"),
        ("Expires", "3600"),
        ("User-Agent", "bench-client"),
    ]
    if auth:
        headers.append(("Authorization", auth))
    return SipRequest("REGISTER", f"sip:{host}", headers)


async def run(devices: int, concurrency: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="clickphone-regmem-"))
    database = Database(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    await provision(database, devices, PASSWORD)
    media = LocalMediaController(RelayConfig(bind_ip="127.0.0.1", port_min=None, port_max=None))
    await media.__aenter__()
    server = SipServer(
        SipServerConfig(
            host="127.0.0.1",
            port=0,
            tcp=False,
            realm=REALM,
            secret=hashlib.sha256(b"bench").digest(),
            advertised_host="127.0.0.1",
            media_ip="127.0.0.1",
            auth_max_failures=10**9,
        ),
        database,
        media,
        bus=EventBus(),
    )
    server.endpoint.layer.timers = Timers(t1=0.01, t2=0.04, t4=0.05)
    host, port = await server.start()
    hostport = f"{host}:{port}"
    loop = asyncio.get_running_loop()
    client = Client()
    transport, _ = await loop.create_datagram_endpoint(lambda: client, local_addr=("127.0.0.1", 0))
    cport = transport.get_extra_info("sockname")[1]

    async def one(i: int) -> bool:
        user = username(i)
        call_id = f"reg-{i}-{secrets.token_hex(4)}"
        first = parse_message(
            await client.ask(register(user, cport, hostport, call_id, 1, None), (host, port))
        )
        ch = parse_challenge(first.get_all("WWW-Authenticate")[0])
        auth = build_authorization(ch, "REGISTER", f"sip:{hostport}", user, PASSWORD, 1, "c0ffee")
        second = parse_message(
            await client.ask(register(user, cport, hostport, call_id, 2, auth), (host, port))
        )
        return getattr(second, "status", 0) == 200

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    rss_before = rss_kb()
    started = time.monotonic()
    sem = asyncio.Semaphore(concurrency)

    async def limited(i: int) -> bool:
        async with sem:
            return await one(i)

    results = await asyncio.gather(*(limited(i) for i in range(1, devices + 1)))
    elapsed = time.monotonic() - started
    await server.store.flush()
    for _ in range(100):  # let Timer J end every transaction
        if not server.endpoint.layer.transactions:
            break
        await asyncio.sleep(0.05)
    gc.collect()
    after = tracemalloc.take_snapshot()
    rss_after = rss_kb()
    ok = sum(results)
    retained = sum(s.size_diff for s in after.compare_to(before, "filename"))
    print(
        f"devices={devices} registered={ok} in {elapsed:.1f}s ({ok / elapsed:.0f}/s in-process, "
        f"client and server on one core, tracemalloc on)"
    )
    print(
        f"transactions left={len(server.endpoint.layer.transactions)} "
        f"bindings={len(server.registrar.table)}"
    )
    print(f"retained bytes per registration (tracemalloc): {retained / max(ok, 1):.0f}")
    print(f"RSS growth per registration: {(rss_after - rss_before) * 1024 / max(ok, 1):.0f}")
    top = after.compare_to(before, "lineno")[:8]
    for stat in top:
        print("  ", stat)
    tracemalloc.stop()
    transport.close()
    await server.stop()
    await media.close()
    await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.devices, args.concurrency))


if __name__ == "__main__":
    main()
