"""Media relay load test: N simulated G.711 calls through a ClickPhone media worker.

Starts ``python -m clickphone.media.worker`` (uvloop), sets up N calls with offer/answer
through :class:`~clickphone.media.client.WorkerMediaController`, then every 20 ms each of the
2N simulated phones sends one 172-byte RTP packet (12-byte header + 160 bytes of PCMU) to its
relay port — 50 packets/s each way per call, 100 relayed packets/s per call. After
``--seconds`` the senders stop, late packets drain, and the script prints packets sent and
received, loss %, and the worker's CPU use (getrusage in the worker, via its ``status``
command). It stops the worker by PID and exits on its own.

    .venv/bin/python bench/media_relay.py --calls 200 --seconds 10
    .venv/bin/python bench/media_relay.py --sweep 100,200,400,600 --seconds 8
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import struct
import time
from dataclasses import dataclass

import uvloop

from clickphone.media.client import WorkerMediaController
from clickphone.media.worker import start_worker

PACKET_SIZE = 172
PTIME = 0.020
LOCAL = "127.0.0.1"


class Phone(asyncio.DatagramProtocol):
    __slots__ = ("dest", "packet", "received", "sent", "transport")

    def __init__(self, ssrc: int) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.dest: tuple[str, int] = (LOCAL, 9)
        self.packet = bytearray(PACKET_SIZE)
        struct.pack_into("!BBHII", self.packet, 0, 0x80, 0, 1, 160, ssrc)
        self.packet[12:] = b"\xff" * (PACKET_SIZE - 12)
        self.sent = 0
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])


def sdp_for(port: int) -> bytes:
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    ).encode()


def audio_port(sdp: bytes) -> int:
    for line in sdp.decode().splitlines():
        if line.startswith("m=audio "):
            return int(line.split()[1])
    raise ValueError("no m=audio")


@dataclass
class Result:
    calls: int
    seconds: float
    sent: int
    received: int
    worker_cpu: float
    bench_cpu: float
    late_ticks: int

    @property
    def rate(self) -> float:
        """Achieved send rate as a % of the target (100 packets/s per call)."""
        return 100.0 * self.sent / (self.seconds * self.calls * 2 / PTIME)

    @property
    def loss(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 0.0


def _own_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


async def run(calls: int, seconds: float, ports: str) -> Result:
    worker = await start_worker("--bind-ip", LOCAL, "--ports", ports)
    client = await WorkerMediaController.connect(worker.host, worker.port, subscribe=False)
    loop = asyncio.get_running_loop()
    phones: list[Phone] = []
    try:
        for i in range(calls):
            a, b = Phone(2 * i + 1), Phone(2 * i + 2)
            for p in (a, b):
                await loop.create_datagram_endpoint(lambda p=p: p, local_addr=(LOCAL, 0))
                phones.append(p)
            call_id = f"bench-{i}"
            to_b = await client.offer(call_id, "a", sdp_for(a.port), media_ip=LOCAL)
            to_a = await client.answer(call_id, "a", "b", sdp_for(b.port), media_ip=LOCAL)
            a.dest = (LOCAL, audio_port(to_a))
            b.dest = (LOCAL, audio_port(to_b))
        status0 = await client.status()
        cpu0, bench0, t0 = status0["cpu_user"] + status0["cpu_system"], _own_cpu(), time.monotonic()
        # spread the calls over the 20 ms frame, like real phones
        # (the packets are static: the relay does not look at sequence numbers)
        slices = 4
        per_slice = [
            [
                (p.transport.sendto, bytes(p.packet), p.dest)
                for p in phones[k::slices]
                if p.transport
            ]
            for k in range(slices)
        ]
        sent_per_slice = [len(s) for s in per_slice]
        late = 0
        next_tick = t0
        end = t0 + seconds
        tick = 0
        while next_tick < end:
            k = tick % slices
            for send, packet, dest in per_slice[k]:
                send(packet, dest)
            phones[k].sent += sent_per_slice[k]  # tallied on one phone; only the sum matters
            tick += 1
            next_tick += PTIME / slices
            delay = next_tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late += 1
                await asyncio.sleep(0)
        elapsed = time.monotonic() - t0
        status1 = await client.status()
        worker_cpu = status1["cpu_user"] + status1["cpu_system"] - cpu0
        bench_cpu = _own_cpu() - bench0
        await asyncio.sleep(0.5)  # let in-flight packets land
        return Result(
            calls=calls,
            seconds=elapsed,
            sent=sum(p.sent for p in phones),
            received=sum(p.received for p in phones),
            worker_cpu=100.0 * worker_cpu / elapsed,
            bench_cpu=100.0 * bench_cpu / elapsed,
            late_ticks=late,
        )
    finally:
        for p in phones:
            if p.transport is not None:
                p.transport.close()
        await client.close()
        await worker.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100, help="simultaneous calls (N)")
    parser.add_argument("--sweep", help="comma-separated N values, one fresh worker each")
    parser.add_argument("--seconds", type=float, default=10.0, help="send time per run")
    parser.add_argument("--ports", default="20000-30000", help="worker RTP port range")
    args = parser.parse_args()
    counts = [int(n) for n in args.sweep.split(",")] if args.sweep else [args.calls]
    print(
        f"{'calls':>6} {'pps relayed':>11} {'sent':>9} {'received':>9} {'loss %':>7} "
        f"{'worker CPU %':>12} {'bench CPU %':>11} {'rate %':>7}"
    )
    for n in counts:
        r = await run(n, args.seconds, args.ports)
        print(
            f"{r.calls:>6} {r.sent / r.seconds:>11.0f} {r.sent:>9} {r.received:>9} "
            f"{r.loss:>7.3f} {r.worker_cpu:>12.1f} {r.bench_cpu:>11.1f} {r.rate:>7.1f}",
            flush=True,
        )


if __name__ == "__main__":
    uvloop.run(main())
