"""A standalone ClickPhone SIP server for benchmarks, with N provisioned devices.

Devices ``bench0001`` .. ``benchNNNN`` share one password and are challenged with MD5 only
(sipp answers only MD5); each is an employee whose extension is its number (``0001`` ...),
so ``sip:0002@HOST:PORT`` calls device bench0002. SQLite lives in a temporary directory
(or ``--data``); media is the in-process relay (default) or a media worker process
(``--media worker``). The server prints ``READY <port> <pid>`` once it listens and runs until
SIGINT/SIGTERM; ``--profile FILE`` writes cProfile stats on exit. The server tunes its garbage
collector as a production server should (``SipServerConfig.tune_gc``; ``--default-gc`` keeps
Python's settings).

    .venv/bin/python bench/sip_server.py --port 5070 --devices 10000
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import resource
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from clickphone.bus.bus import EventBus
from clickphone.db.models import Base, Employee, SipDevice, Tenant, User
from clickphone.db.session import Database
from clickphone.directory.sipcred import all_ha1
from clickphone.media.relay import LocalMediaController, RelayConfig
from clickphone.sipserver import SipServer, SipServerConfig

REALM = "clickphone"
PASSWORD = "bench-Secret-1"


def username(i: int) -> str:
    return f"bench{i:04d}"


async def provision(database: Database, devices: int, password: str) -> None:
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with database.transaction() as session:
        tenant = Tenant(name="Bench", customer_number="C00000001")
        session.add(tenant)
        await session.flush()
        tid = tenant.id
        ids = range(1, devices + 1)
        await session.execute(
            insert(User),
            [
                {
                    "id": i,
                    "tenant_id": tid,
                    "email": f"{username(i)}@bench.test",
                    "password_hash": "!",
                    "full_name": f"Bench {i}",
                    "role": "employee",
                }
                for i in ids
            ],
        )
        await session.execute(
            insert(Employee),
            [{"id": i, "tenant_id": tid, "user_id": i, "extension": f"{i:04d}"} for i in ids],
        )
        await session.execute(
            insert(SipDevice),
            [
                {
                    "tenant_id": tid,
                    "user_id": i,
                    "employee_id": i,
                    "sip_username": username(i),
                    "realm": REALM,
                    "auth_algorithms": ["MD5"],
                    **all_ha1(username(i), REALM, password),
                }
                for i in ids
            ],
        )


def rss_kb() -> int:
    """Current resident set size in KiB (from /proc, not the peak)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() // 1024


async def serve(args: argparse.Namespace) -> None:
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="clickphone-bench-"))
    database = Database(f"sqlite+aiosqlite:///{data / 'bench.db'}")
    await provision(database, args.devices, args.password)
    media: Any
    worker: Any = None
    if args.media == "worker":
        from clickphone.media.client import WorkerMediaController
        from clickphone.media.worker import start_worker

        worker = await start_worker("--bind-ip", args.host, "--ports", "30000-39999")
        media = await WorkerMediaController.connect(worker.host, worker.port)
        await media.__aenter__()
    else:
        low, high = (int(p) for p in args.rtp_ports.split("-"))
        media = LocalMediaController(
            RelayConfig(bind_ip=args.host, port_min=low, port_max=high, rtp_timeout=300)
        )
        await media.__aenter__()
    server = SipServer(
        SipServerConfig(
            host=args.host,
            port=args.port,
            tcp=False,
            realm=REALM,
            secret=b"bench-secret-for-digest-nonces",
            advertised_host=args.host,
            media_ip=args.host,
            auth_max_failures=1_000_000,
            tune_gc=not args.default_gc,
        ),
        database,
        media,
        bus=EventBus(),
    )
    host, port = await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # RSS and status on demand (SIGUSR1), for the bench driver's memory figures.
    loop.add_signal_handler(
        signal.SIGUSR1,
        lambda: print(
            f"STATUS rss_kb={rss_kb()} registrations={len(server.registrar.table)} "
            f"calls={len(server.calls.calls) if server.calls else 0} "
            f"transactions={len(server.endpoint.layer.transactions)}",
            flush=True,
        ),
    )
    print(f"READY {port} {host}", flush=True)
    await stop.wait()
    await server.stop()
    await media.close()
    if worker is not None:
        await worker.stop()
    await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5070)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--password", default=PASSWORD)
    parser.add_argument("--data", help="data directory (default: a new temporary one)")
    parser.add_argument("--media", choices=["local", "worker"], default="local")
    parser.add_argument(
        "--rtp-ports",
        default="30000-39999",
        help="RTP port range of the in-process relay (a range, as deployed: ephemeral ports "
        "cost the relay retries for odd numbers)",
    )
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--profile", help="write cProfile stats to this file on exit")
    parser.add_argument(
        "--default-gc", action="store_true", help="keep Python's GC settings (no tune_gc)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, stream=sys.stderr)
    if args.loop == "uvloop":
        import uvloop

        uvloop.install()
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    try:
        asyncio.run(serve(args))
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
