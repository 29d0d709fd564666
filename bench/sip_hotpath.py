"""Per-message cost of ClickPhone's SIP receive path, in process (no sockets, no sipp).

Starts the SIP server in this process (SQLite in a temp dir, N MD5 devices as in
``bench/sip_server.py``, in-process media relay), swaps its UDP socket for a fake transport
that only collects the bytes it is given, and feeds pre-built datagrams straight into the
UDP protocol's ``datagram_received``: parse -> Via stamping -> transaction layer ->
``check_request`` -> registrar / B2BUA -> serialized responses. After each batch it runs the
event loop until every task the batch spawned has finished, so the asynchronous parts
(registrar, call setup, media, call records) are included.

Scenarios, each run ``--runs`` times with fresh datagrams (new branches, Call-IDs, nonces);
the best run is printed, in µs of wall-clock time and of process CPU time per message:

- ``register``: REGISTER without credentials -> 401, then REGISTER with Authorization
  (digest MD5 over a server nonce) -> 200 (one registration = both), plus the write-behind
  flush of the bindings to the database, reported separately;
- ``call``: the sipp benchmark call: INVITE -> 407, ACK, INVITE with Proxy-Authorization ->
  100 + forked INVITE to the callee, the callee's 180 and 200 (with SDP) -> 180/200 to the
  caller + ACK to the callee, the caller's ACK, BYE -> 200 + BYE to the callee, the
  callee's 200 to that BYE. Calls are between distinct device pairs; media is relayed.

The datagrams the bench itself answers with (the callee's responses, ACKs that carry the
To tag of a response) are built between the timed batches.

    .venv/bin/python bench/sip_hotpath.py                     # both scenarios
    .venv/bin/python bench/sip_hotpath.py --only register --count 2000 --runs 5
    .venv/bin/python bench/sip_hotpath.py --only call --profile   # cProfile top 25 as well
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import hashlib
import logging
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sip_server import PASSWORD, REALM, provision, username

from clickphone.bus.bus import EventBus
from clickphone.db.session import Database
from clickphone.media.relay import LocalMediaController, RelayConfig
from clickphone.sip.auth import Challenge, build_authorization
from clickphone.sip.message import SipRequest, SipResponse
from clickphone.sip.parser import parse_message
from clickphone.sipserver import SipServer, SipServerConfig, tune_gc

SERVER_HOST = "127.0.0.1"
PHONE_HOST = "127.0.0.1"
SDP = (
    "v=0\r\no=phone 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"
)


class FakeUdpTransport:
    """Stands in for the server's datagram transport: keeps what is sent, per address."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append((data, addr))

    def take(self) -> list[tuple[bytes, tuple[str, int]]]:
        out, self.sent = self.sent, []
        return out

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def phone_port(i: int) -> int:
    return 20000 + i


def msg(start: str, headers: Iterable[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [start, *(f"{n}: {v}" for n, v in headers), f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Phase:
    name: str
    messages: int = 0
    wall: float = 0.0
    cpu: float = 0.0  # this (the event loop's) thread only: other jobs' load barely shows
    proc: float = 0.0  # the whole process (SQLite's thread too)
    gc: float = 0.0  # in the garbage collector (part of cpu)
    gc_full: int = 0  # full (generation 2) collections


@dataclass
class Run:
    phases: dict[str, Phase] = field(default_factory=dict)

    def add(
        self, name: str, messages: int, wall: float, cpu: float, proc: float, gc: float, full: int
    ) -> None:
        p = self.phases.setdefault(name, Phase(name))
        p.messages += messages
        p.wall += wall
        p.cpu += cpu
        p.proc += proc
        p.gc += gc
        p.gc_full += full

    @property
    def wall(self) -> float:
        return sum(p.wall for p in self.phases.values())

    @property
    def cpu(self) -> float:
        return sum(p.cpu for p in self.phases.values())


class GcTimer:
    """Time spent in the cyclic garbage collector (all generations), via gc.callbacks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._t0 = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._t0
            self.full += info.get("generation") == 2


GC = GcTimer()


class Clock:
    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.thread_time()
        self.proc = time.process_time()
        self.gc = GC.seconds
        self.gc_full = GC.full

    def elapsed(self) -> tuple[float, float, float, float, int]:
        return (
            time.perf_counter() - self.wall,
            time.thread_time() - self.cpu,
            time.process_time() - self.proc,
            GC.seconds - self.gc,
            GC.full - self.gc_full,
        )


class Bench:
    def __init__(self, server: SipServer, fake: FakeUdpTransport, profiler: Any) -> None:
        self.server = server
        self.fake = fake
        self.profiler = profiler
        udp = server.endpoint.transports.udp
        assert udp is not None
        self.udp = udp
        self.port = server.endpoint.transports.local["UDP"][1]
        self.hostport = f"{SERVER_HOST}:{self.port}"
        self.seq = 0

    def tag(self) -> str:
        self.seq += 1
        return f"{self.seq:x}{secrets.token_hex(3)}"

    def branch(self) -> str:
        return "z9hG4bK" + self.tag()

    async def settle(self) -> None:
        """Run the loop until every task spawned by the SIP server and the calls is done."""
        sets: list[set[asyncio.Task[Any]]] = [self.server._tasks]
        if self.server.calls is not None:
            sets.append(self.server.calls._tasks)
        while True:
            pending = set().union(*sets)
            if not pending:
                break
            await asyncio.wait(pending)
        await asyncio.sleep(0)

    async def feed(
        self, run: Run, name: str, datagrams: list[tuple[bytes, tuple[str, int]]]
    ) -> list[tuple[bytes, tuple[str, int]]]:
        """Feed datagrams in, wait until handled; return what the server sent meanwhile."""
        self.fake.take()
        receive = self.udp.datagram_received
        gc.collect()
        if self.profiler is not None:
            self.profiler.enable()
        clock = Clock()
        for data, addr in datagrams:
            receive(data, addr)
        await self.settle()
        run.add(name, len(datagrams), *clock.elapsed())
        if self.profiler is not None:
            self.profiler.disable()
        return self.fake.take()

    # -- REGISTER ------------------------------------------------------------------------
    def register(self, i: int, call_id: str, cseq: int, branch: str, auth: str | None) -> bytes:
        user = username(i)
        port = phone_port(i)
        headers = [
            ("Via", f"SIP/2.0/UDP {PHONE_HOST}:{port};branch={branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{user}@{SERVER_HOST}>;tag={call_id[:8]}r"),
            ("To", f"<sip:{user}@{SERVER_HOST}>"),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} REGISTER"),
            ("Contact", f"<sip:{user}@{PHONE_HOST}:{port}>"),
            ("Expires", "3600"),
            ("User-Agent", "hotpath-phone/1.0"),
        ]
        if auth is not None:
            headers.append(("Authorization", auth))
        return msg(f"REGISTER sip:{self.hostport} SIP/2.0", headers)

    def credentials(self, i: int, method: str, uri: str) -> str:
        nonce = self.server.digest.make_nonce(time.time())
        challenge = Challenge("Digest", REALM, nonce, "MD5", ("auth",))
        return build_authorization(
            challenge, method, uri, username(i), PASSWORD, 1, secrets.token_hex(4)
        )

    async def register_run(self, devices: list[int], run: Run) -> None:
        first, second = [], []
        for i in devices:
            call_id = f"reg-{self.tag()}"
            addr = (PHONE_HOST, phone_port(i))
            first.append((self.register(i, call_id, 1, self.branch(), None), addr))
            auth = self.credentials(i, "REGISTER", f"sip:{self.hostport}")
            second.append((self.register(i, call_id, 2, self.branch(), auth), addr))
        out = await self.feed(run, "REGISTER -> 401", first)
        check(out, len(devices), 401)
        out = await self.feed(run, "REGISTER+auth -> 200", second)
        check(out, len(devices), 200)
        if self.profiler is not None:
            self.profiler.enable()
        clock = Clock()
        await self.server.store.flush()
        run.add("bindings write-behind (per registration)", len(devices), *clock.elapsed())
        if self.profiler is not None:
            self.profiler.disable()

    # -- calls ---------------------------------------------------------------------------
    async def call_run(self, pairs: list[tuple[int, int]], run: Run) -> None:
        calls = []
        invites1 = []
        for caller, callee in pairs:
            c = CallState(caller, callee, f"call-{self.tag()}", self.tag())
            calls.append(c)
            invites1.append((self.invite(c, 1, self.branch(), None), c.addr))
        out = await self.feed(run, "INVITE -> 407", invites1)
        by_call = responses_by_call(out)
        acks, invites2 = [], []
        for c in calls:
            resp = only(by_call[c.call_id], 407)
            acks.append((self.ack_non2xx(c, resp), c.addr))
            auth_uri = f"sip:{username(c.callee)[5:]}@{self.hostport}"
            auth = self.credentials(c.caller, "INVITE", auth_uri)
            invites2.append((self.invite(c, 2, self.branch(), auth), c.addr))
        await self.feed(run, "ACK (407)", acks)
        out = await self.feed(run, "INVITE+auth -> 100, fork", invites2)
        forks = {}
        for data, addr in out:
            m = parse_message(data)
            if isinstance(m, SipRequest) and m.method == "INVITE":
                forks[addr[1]] = m
        ringing, answers = [], []
        for c in calls:
            fork = forks[phone_port(c.callee)]
            c.b_invite = fork
            c.b_tag = self.tag()
            ringing.append((self.uas_response(fork, 180, c.b_tag, c), c.b_addr))
            answers.append((self.uas_response(fork, 200, c.b_tag, c), c.b_addr))
        await self.feed(run, "180 from callee -> 180", ringing)
        out = await self.feed(run, "200 from callee -> 200, ACK", answers)
        by_call = responses_by_call(out)
        acks, byes = [], []
        for c in calls:
            ok = only([r for r in by_call[c.call_id] if r.status == 200], 200)
            c.a_to = ok.get("To") or ""
            c.a_target = (ok.contacts[0].uri) if ok.contacts else f"sip:{self.hostport}"
            acks.append((self.in_dialog(c, "ACK", 2), c.addr))
            byes.append((self.in_dialog(c, "BYE", 3), c.addr))
        await self.feed(run, "ACK (200)", acks)
        out = await self.feed(run, "BYE -> 200, BYE", byes)
        bye_ok = []
        for data, addr in out:
            m = parse_message(data)
            if isinstance(m, SipRequest) and m.method == "BYE":
                c = next(c for c in calls if phone_port(c.callee) == addr[1])
                bye_ok.append((self.uas_response(m, 200, None, c), c.b_addr))
        assert len(bye_ok) == len(calls), f"{len(bye_ok)} BYEs to callees for {len(calls)}"
        await self.feed(run, "200 (BYE) from callee", bye_ok)
        left = len(self.server.calls.calls) if self.server.calls else 0
        assert left == 0, f"{left} calls still up"

    def invite(self, c: CallState, cseq: int, branch: str, auth: str | None) -> bytes:
        user = username(c.caller)
        ext = username(c.callee)[5:]
        headers = [
            ("Via", f"SIP/2.0/UDP {PHONE_HOST}:{c.addr[1]};branch={branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{user}@{self.hostport}>;tag={c.from_tag}"),
            ("To", f"<sip:{ext}@{self.hostport}>"),
            ("Call-ID", c.call_id),
            ("CSeq", f"{cseq} INVITE"),
            ("Contact", f"<sip:{user}@{PHONE_HOST}:{c.addr[1]};transport=UDP>"),
        ]
        if auth is not None:
            headers.append(("Proxy-Authorization", auth))
        headers.append(("Content-Type", "application/sdp"))
        body = SDP.format(ip=PHONE_HOST, port=30000 + 2 * c.caller).encode()
        c.invite_branch = branch
        return msg(f"INVITE sip:{ext}@{self.hostport} SIP/2.0", headers, body)

    def ack_non2xx(self, c: CallState, resp: SipResponse) -> bytes:
        user = username(c.caller)
        ext = username(c.callee)[5:]
        headers = [
            ("Via", f"SIP/2.0/UDP {PHONE_HOST}:{c.addr[1]};branch={c.invite_branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{user}@{self.hostport}>;tag={c.from_tag}"),
            ("To", resp.get("To") or ""),
            ("Call-ID", c.call_id),
            ("CSeq", "1 ACK"),
        ]
        return msg(f"ACK sip:{ext}@{self.hostport} SIP/2.0", headers)

    def in_dialog(self, c: CallState, method: str, cseq: int) -> bytes:
        user = username(c.caller)
        headers = [
            ("Via", f"SIP/2.0/UDP {PHONE_HOST}:{c.addr[1]};branch={self.branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{user}@{self.hostport}>;tag={c.from_tag}"),
            ("To", c.a_to),
            ("Call-ID", c.call_id),
            ("CSeq", f"{cseq} {method}"),
        ]
        return msg(f"{method} {c.a_target} SIP/2.0", headers)

    def uas_response(self, req: SipRequest, status: int, to_tag: str | None, c: CallState) -> bytes:
        reasons = {180: "Ringing", 200: "OK"}
        headers: list[tuple[str, str]] = []
        for name, value in req.headers:
            if name in ("Via", "From", "Call-ID", "CSeq"):
                headers.append((name, value))
            elif name == "To":
                headers.append((name, f"{value};tag={to_tag}" if to_tag else value))
        body = b""
        if req.method == "INVITE":
            user = username(c.callee)
            headers.append(("Contact", f"<sip:{user}@{PHONE_HOST}:{c.b_addr[1]}>"))
            if status == 200:
                headers.append(("Content-Type", "application/sdp"))
                body = SDP.format(ip=PHONE_HOST, port=30000 + 2 * c.callee).encode()
        return msg(f"SIP/2.0 {status} {reasons[status]}", headers, body)


@dataclass
class CallState:
    caller: int
    callee: int
    call_id: str
    from_tag: str
    invite_branch: str = ""
    b_invite: SipRequest | None = None
    b_tag: str = ""
    a_to: str = ""
    a_target: str = ""

    @property
    def addr(self) -> tuple[str, int]:
        return (PHONE_HOST, phone_port(self.caller))

    @property
    def b_addr(self) -> tuple[str, int]:
        return (PHONE_HOST, phone_port(self.callee))


def responses_by_call(out: list[tuple[bytes, tuple[str, int]]]) -> dict[str, list[SipResponse]]:
    found: dict[str, list[SipResponse]] = {}
    for data, _ in out:
        m = parse_message(data)
        if isinstance(m, SipResponse):
            found.setdefault(m.call_id, []).append(m)
    return found


def only(responses: list[SipResponse], status: int) -> SipResponse:
    wanted = [r for r in responses if r.status == status]
    if not wanted:
        raise AssertionError(f"expected a {status}, got {[r.status for r in responses]}")
    return wanted[0]


def check(out: list[tuple[bytes, tuple[str, int]]], count: int, status: int) -> None:
    statuses = [parse_message(d) for d, _ in out]
    good = sum(1 for m in statuses if isinstance(m, SipResponse) and m.status == status)
    if good != count:
        other = sorted({getattr(m, "status", 0) for m in statuses})
        raise AssertionError(f"expected {count} x {status}, got {good} (statuses {other})")


def report(title: str, runs: list[Run], per: str, units: int) -> None:
    """Per step, the lowest cost seen over the runs (the least disturbed by other load):
    wall-clock, CPU of the event loop's thread, CPU of the whole process."""
    print(f"\n{title}: lowest of {len(runs)} runs per step, µs per message")
    print(f"  {'step':44s} {'msgs':>6s} {'wall':>8s} {'cpu':>8s} {'process':>8s}")
    wall_total = cpu_total = proc_total = 0.0
    received = 0
    for name, first in runs[0].phases.items():
        n = max(first.messages, 1)
        wall = min(r.phases[name].wall for r in runs)
        cpu = min(r.phases[name].cpu for r in runs)
        proc = min(r.phases[name].proc for r in runs)
        wall_total += wall
        cpu_total += cpu
        proc_total += proc
        if "write-behind" not in name:
            received += first.messages
        print(
            f"  {name:44s} {first.messages:6d} {wall / n * 1e6:8.1f} {cpu / n * 1e6:8.1f} "
            f"{proc / n * 1e6:8.1f}"
        )
    print(
        f"  {'all received messages (incl. write-behind)':44s} {received:6d} "
        f"{wall_total / received * 1e6:8.1f} {cpu_total / received * 1e6:8.1f} "
        f"{proc_total / received * 1e6:8.1f}"
    )
    print(
        f"  per {per}: wall {wall_total / units * 1e6:.0f} µs, cpu {cpu_total / units * 1e6:.0f} µs"
        f" -> {units / cpu_total:,.0f} {per}s per CPU-second"
    )
    gc_share = sum(p.gc for r in runs for p in r.phases.values()) / sum(r.cpu for r in runs)
    full = sum(p.gc_full for r in runs for p in r.phases.values())
    print(f"  garbage collector: {gc_share:.1%} of the CPU time, {full} full collections")
    cpus = sorted(r.cpu / units * 1e6 for r in runs)
    print(f"  each run, cpu µs per {per}: " + ", ".join(f"{c:.0f}" for c in cpus))


async def main_async(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="clickphone-hotpath-"))
    database = Database(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    devices = max(args.count, 2 * args.calls) + 2
    await provision(database, devices, PASSWORD)
    media = LocalMediaController(
        RelayConfig(bind_ip=SERVER_HOST, port_min=40000, port_max=49999, rtp_timeout=300)
    )
    await media.__aenter__()
    server = SipServer(
        SipServerConfig(
            host=SERVER_HOST,
            port=0,
            tcp=False,
            realm=REALM,
            secret=hashlib.sha256(b"hotpath").digest(),
            advertised_host=SERVER_HOST,
            media_ip=SERVER_HOST,
            auth_max_failures=10**9,
            max_pending_registers=10**9,
        ),
        database,
        media,
        bus=EventBus(),
    )
    await server.start()
    if args.tune_gc:
        tune_gc()
    # The bench writes the bindings itself (timed separately): stop the background writer.
    await server.store.stop()
    udp = server.endpoint.transports.udp
    assert udp is not None
    real = udp.transport
    fake = FakeUdpTransport()
    udp.transport = fake  # type: ignore[assignment]
    profiler = cProfile.Profile() if args.profile else None
    bench = Bench(server, fake, profiler)
    try:
        if args.only in (None, "register"):
            runs = []
            for _ in range(args.runs):
                run = Run()
                await bench.register_run(list(range(1, args.count + 1)), run)
                runs.append(run)
            report(f"REGISTER, {args.count} devices", runs, "registration", args.count)
        if args.only in (None, "call"):
            # Callees must be registered: register every device once (untimed).
            await bench.register_run(list(range(1, 2 * args.calls + 1)), Run())
            pairs = [(2 * k + 1, 2 * k + 2) for k in range(args.calls)]
            runs = []
            for _ in range(args.runs):
                run = Run()
                await bench.call_run(pairs, run)
                runs.append(run)
            report(f"Calls, {args.calls} per run", runs, "call", args.calls)
        if profiler is not None:
            if args.profile_out:
                profiler.dump_stats(args.profile_out)
            print("\ncProfile of the timed batches, top 25 by internal time:")
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(25)
            print("top 25 by cumulative time:")
            stats.sort_stats("cumulative").print_stats(40)
            if args.callers:
                stats.sort_stats("tottime").print_callers(args.callers)
    finally:
        udp.transport = real
        await server.stop()
        await media.close()
        await database.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["register", "call"])
    parser.add_argument("--count", type=int, default=1000, help="registrations per run")
    parser.add_argument("--calls", type=int, default=200, help="calls per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print a cProfile top 25")
    parser.add_argument("--profile-out", help="with --profile: also write the stats here")
    parser.add_argument("--callers", help="with --profile: also who calls functions matching this")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument(
        "--gc-threshold", type=int, help="gc.set_threshold(N) for generation 0 (default: Python's)"
    )
    parser.add_argument(
        "--tune-gc", action="store_true", help="clickphone.sipserver.tune_gc() after start"
    )
    args = parser.parse_args(argv)
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.loop == "uvloop":
        import uvloop

        uvloop.install()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
