"""Media relay side by side: ClickPhone's media worker vs rtpengine (userspace), same load.

For each relay and each N: start a fresh relay process on 127.0.0.1 — (a) ``python -m
clickphone.media.worker`` (uvloop, one process, one thread) driven by
:class:`~clickphone.media.client.WorkerMediaController`, or (b) ``rtpengine --table=-1``
(no kernel module; ``--num-threads`` from ``--rtpengine-threads``, default 1 so both relays
get one core) driven by :class:`~clickphone.media.rtpengine.RtpengineMediaController` — set
up N calls with offer/answer, then every 20 ms each of the 2N simulated phones sends one
172-byte RTP packet (12-byte header + 160 bytes PCMU) to its relay port: 50 packets/s each
way per call, 100 relayed packets/s per call (the load of ``bench/media_relay.py``). The phones
are plain non-blocking sockets that are not read during the run — the kernel queues what the
relay forwards in a 4 MB receive buffer, counted afterwards — so the generator's CPU goes to
sending only and it can load the relay further than media_relay.py's asyncio phones. After
``--seconds`` the senders stop, late packets land, and the script prints packets sent and
received, loss %, the relay process's CPU % of one core (utime+stime of all its threads
from /proc/PID/stat), relayed packets per CPU-second, the achieved send rate (100 % = the
generator kept up), the kernel's UDP buffer drops during the run (system-wide RcvbufErrors +
SndbufErrors from /proc/net/snmp: loss the kernel, not the relay, caused), and the ratio
ours/rtpengine. Each relay is stopped by its PID; the script exits on its own.

    .venv/bin/python bench/media_compare.py --sweep 200,400,600 --seconds 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import shutil
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from media_relay import PACKET_SIZE, PTIME, audio_port, sdp_for

from clickphone.media.client import WorkerMediaController
from clickphone.media.control import MediaController
from clickphone.media.rtpengine import (
    RtpengineMediaController,
    start_rtpengine,
)
from clickphone.media.worker import start_worker

LOCAL = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOSS_LIMIT = 0.1  # %
RCVBUF = 4 * 1024 * 1024  # net.core.rmem_max on Debian; holds a phone's whole run


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by process ``pid``."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def udp_drops() -> int:
    """Datagrams the kernel dropped for full socket buffers (system-wide, /proc/net/snmp)."""
    with open("/proc/net/snmp") as f:
        udp = [line.split() for line in f if line.startswith("Udp:")]
    counters = dict(zip(udp[0][1:], (int(v) for v in udp[1][1:]), strict=True))
    return counters.get("RcvbufErrors", 0) + counters.get("SndbufErrors", 0)


def own_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


@dataclass
class Result:
    relay: str
    calls: int
    seconds: float
    sent: int
    received: int
    relay_cpu: float  # % of one core
    bench_cpu: float
    late_ticks: int
    kernel_drops: int

    @property
    def rate(self) -> float:
        """Achieved send rate as a % of the target (100 packets/s per call)."""
        return 100.0 * self.sent / (self.seconds * self.calls * 2 / PTIME)

    @property
    def loss(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 0.0

    @property
    def pps(self) -> float:
        return self.received / self.seconds

    @property
    def per_cpu_second(self) -> float:
        """Relayed packets per CPU-second of the relay process."""
        cpu = self.relay_cpu / 100.0 * self.seconds
        return self.received / cpu if cpu > 0 else float("inf")


Started = tuple[int, MediaController, Callable[[], Awaitable[object]]]


async def start_ours(args: argparse.Namespace) -> Started:
    worker = await start_worker("--bind-ip", LOCAL, "--ports", args.ports)
    client = await WorkerMediaController.connect(worker.host, worker.port, subscribe=False)

    async def stop() -> None:
        await client.close()
        await worker.stop()

    return worker.pid, client, stop


async def start_theirs(args: argparse.Namespace) -> Started:
    low, high = (int(p) for p in args.ports.split("-"))
    log = Path(tempfile.gettempdir()) / f"media_compare-rtpengine-{os.getpid()}.log"
    engine = await start_rtpengine(
        binary=args.rtpengine,
        port_min=low,
        port_max=high,
        threads=args.rtpengine_threads,
        log_path=str(log),
        log_level=4,
    )
    ctl = await RtpengineMediaController.connect(
        LOCAL, engine.ng_port, poll_interval=3600.0, rtp_timeout=3600.0
    )

    async def stop() -> None:
        await ctl.close()
        await engine.stop()

    return engine.pid, ctl, stop


RELAYS: dict[str, Callable[[argparse.Namespace], Awaitable[Started]]] = {
    "ours": start_ours,
    "rtpengine": start_theirs,
}


class SimPhone:
    """A simulated phone: a plain non-blocking UDP socket with a big receive buffer.

    It is not read while the load runs (the kernel queues what the relay forwards; the socket
    is drained and counted afterwards), so the generator spends its CPU on sending only."""

    __slots__ = ("dest", "packet", "sock")

    def __init__(self, ssrc: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        self.sock.bind((LOCAL, 0))
        self.sock.setblocking(False)
        self.dest: tuple[str, int] = (LOCAL, 9)
        packet = bytearray(PACKET_SIZE)
        struct.pack_into("!BBHII", packet, 0, 0x80, 0, 1, 160, ssrc)
        packet[12:] = b"\xff" * (PACKET_SIZE - 12)
        self.packet = bytes(packet)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def drain(self) -> int:
        count = 0
        recv = self.sock.recv
        while True:
            try:
                recv(2048)
            except BlockingIOError:
                return count
            count += 1


async def run(relay: str, calls: int, args: argparse.Namespace) -> Result:
    pid, ctl, stop = await RELAYS[relay](args)
    phones: list[SimPhone] = []
    try:
        for i in range(calls):
            a, b = SimPhone(2 * i + 1), SimPhone(2 * i + 2)
            phones += (a, b)
            call_id = f"bench-{i}-{random.getrandbits(32):08x}"
            to_b = await ctl.offer(call_id, "a", sdp_for(a.port), media_ip=LOCAL)
            to_a = await ctl.answer(call_id, "a", "b", sdp_for(b.port), media_ip=LOCAL)
            a.dest = (LOCAL, audio_port(to_a))
            b.dest = (LOCAL, audio_port(to_b))
        await asyncio.sleep(0.2)
        drops0, cpu0, bench0, t0 = udp_drops(), proc_cpu(pid), own_cpu(), time.monotonic()
        # spread the calls over the 20 ms frame, like real phones (static packets: neither
        # relay looks at sequence numbers when forwarding plain RTP)
        slices = 4
        per_slice = [
            [(p.sock.sendto, p.packet, p.dest) for p in phones[k::slices]] for k in range(slices)
        ]
        sent = failed = late = tick = 0
        next_tick = t0
        end = t0 + args.seconds
        while next_tick < end:
            for send, packet, dest in per_slice[tick % slices]:
                try:
                    send(packet, dest)
                    sent += 1
                except BlockingIOError:
                    failed += 1  # our own send buffer was full: not the relay's loss
            tick += 1
            next_tick += PTIME / slices
            delay = next_tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late += 1
        elapsed = time.monotonic() - t0
        relay_cpu = proc_cpu(pid) - cpu0
        bench_cpu = own_cpu() - bench0
        # let in-flight packets land: drain until a 0.3 s pause brings nothing more (≤ 6 s)
        received = 0
        for _ in range(20):
            await asyncio.sleep(0.3)
            got = sum(p.drain() for p in phones)
            received += got
            if got == 0:
                break
        return Result(
            relay=relay,
            calls=calls,
            seconds=elapsed,
            sent=sent,
            received=received,
            relay_cpu=100.0 * relay_cpu / elapsed,
            bench_cpu=100.0 * bench_cpu / elapsed,
            late_ticks=late,
            kernel_drops=udp_drops() - drops0,
        )
    finally:
        for p in phones:
            p.sock.close()
        await stop()


def row(r: Result) -> str:
    return (
        f"{r.relay:>9} {r.calls:>6} {r.pps:>11.0f} {r.sent:>9} {r.received:>9} {r.loss:>7.3f} "
        f"{r.relay_cpu:>11.1f} {r.per_cpu_second:>12.0f} {r.bench_cpu:>11.1f} {r.rate:>7.1f} "
        f"{r.kernel_drops:>9}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100, help="simultaneous calls (N)")
    parser.add_argument("--sweep", help="comma-separated N values, fresh relays for each")
    parser.add_argument("--seconds", type=float, default=8.0, help="send time per run")
    parser.add_argument("--ports", default="20000-30000", help="relay RTP port range")
    parser.add_argument("--relays", default="ours,rtpengine", help="which relays to run")
    parser.add_argument("--rtpengine", default="rtpengine", help="rtpengine binary")
    parser.add_argument("--rtpengine-threads", type=int, default=1, help="rtpengine --num-threads")
    args = parser.parse_args()
    relays = args.relays.split(",")
    if "rtpengine" in relays and shutil.which(args.rtpengine) is None:
        sys.exit(f"{args.rtpengine} not found (Debian: apt-get install rtpengine-daemon)")
    counts = [int(n) for n in args.sweep.split(",")] if args.sweep else [args.calls]
    print(
        f"{'relay':>9} {'calls':>6} {'pps relayed':>11} {'sent':>9} {'received':>9} "
        f"{'loss %':>7} {'relay CPU %':>11} {'pkt/CPU-s':>12} {'bench CPU %':>11} {'rate %':>7} "
        f"{'udp drops':>9}",
        flush=True,
    )
    results: dict[str, list[Result]] = {name: [] for name in relays}
    for n in counts:
        for name in relays:
            r = await run(name, n, args)
            results[name].append(r)
            print(row(r), flush=True)
        if len(relays) == 2:
            ours, theirs = (results[name][-1] for name in relays)
            cpu_ratio = ours.relay_cpu / theirs.relay_cpu
            eff_ratio = ours.per_cpu_second / theirs.per_cpu_second
            print(
                f"{'ratio':>9} {n:>6}  ours/rtpengine: CPU % {cpu_ratio:.2f}, "
                f"pkt per CPU-second {eff_ratio:.2f}",
                flush=True,
            )
    print()
    for name, rs in results.items():
        ok = [r for r in rs if r.loss < LOSS_LIMIT and r.rate >= 99.0]
        best = max(ok, key=lambda r: r.calls) if ok else None
        eff = sorted(r.per_cpu_second for r in rs)[len(rs) // 2]
        print(
            f"{name}: max N with < {LOSS_LIMIT} % loss at full send rate: "
            f"{best.calls if best else 'none'}; median {eff:.0f} relayed pkt per CPU-second "
            f"(~{eff / 100:.0f} G.711 calls per fully used core)"
        )


if __name__ == "__main__":
    uvloop.run(main())
