"""SIP signalling benchmark: ClickPhone's SIP server vs Kamailio, both driven by sipp.

For each server (ClickPhone from ``bench/sip_server.py``; Kamailio with
``bench/kamailio/kamailio.cfg``, auth_db over SQLite, usrloc in memory) the script measures:

1. memory per registration: N distinct devices register once (digest MD5); ClickPhone's RSS
   delta / N, Kamailio's shared-memory ``used`` delta / N (``kamcmd core.shmmem``);
3. REGISTER/s: a sipp rate ramp (401 challenge + authenticated REGISTER = one transaction
   pair each); the highest rate with < 1 % failed registrations and >= 90 % of the rate
   achieved;
4. calls/s: INVITE -> 407 -> INVITE with credentials -> 200 -> ACK -> BYE, to a sipp UAS
   registered as the callee; same ramp rule. ClickPhone anchors media on every call
   (B2BUA + relay allocation); Kamailio proxies signalling only (record-routed, no dialog
   state);
2. memory per call: C calls held up at once; ClickPhone RSS delta / C, Kamailio shm delta / C.

Each server is pinned to CPU 1 (one core), sipp to CPU 0. Every step is bounded (sipp
``-timeout``); the script stops what it started by PID and prints a table with the ratios.

    .venv/bin/python bench/sip_bench.py                    # full run (~5 minutes)
    .venv/bin/python bench/sip_bench.py --quick            # short ramps, 2,000 devices
    .venv/bin/python bench/sip_bench.py --only clickphone
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "telephony" / "sipp"
KAMAILIO_CFG = ROOT / "bench" / "kamailio" / "kamailio.cfg"
PASSWORD = "bench-Secret-1"
HOST = "127.0.0.1"
SERVER_CPU = "1"
SIPP_CPU = "0"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def user(i: int) -> str:
    return f"bench{i:04d}"


def taskset(cpu: str) -> list[str]:
    return ["taskset", "-c", cpu] if shutil.which("taskset") and os.cpu_count() != 1 else []


# -- servers under test ---------------------------------------------------------------------


class Server:
    name = ""
    proc: subprocess.Popen[bytes]
    port: int

    def dial(self, i: int) -> str:
        raise NotImplementedError

    def memory_bytes(self) -> int:
        raise NotImplementedError

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ClickPhone(Server):
    name = "ClickPhone"
    memory_kind = "RSS"

    def __init__(self, devices: int, workdir: Path, profile: Path | None = None) -> None:
        self.port = free_port()
        cmd = [
            *taskset(SERVER_CPU),
            sys.executable,
            str(ROOT / "bench" / "sip_server.py"),
            "--port",
            str(self.port),
            "--devices",
            str(devices),
            "--data",
            str(workdir),
        ]
        if profile is not None:
            cmd += ["--profile", str(profile)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError(f"sip_server.py did not start: {line!r}")

    def dial(self, i: int) -> str:
        return f"{i:04d}"  # the device's extension

    def memory_bytes(self) -> int:
        with open(f"/proc/{self.proc.pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def status(self) -> str:
        assert self.proc.stdout is not None
        self.proc.send_signal(signal.SIGUSR1)
        return self.proc.stdout.readline().decode().strip()


class Kamailio(Server):
    name = "Kamailio"
    memory_kind = "shm used"

    def __init__(self, devices: int, workdir: Path) -> None:
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        if not Path(binary).exists():
            raise RuntimeError("kamailio is not installed (apt-get install kamailio)")
        self.port = free_port()
        self.ctl = f"unixs:{workdir / 'ctl.sock'}"
        db = workdir / "auth.db"
        conn = sqlite3.connect(db)
        share = Path("/usr/share/kamailio/db_sqlite")
        conn.executescript((share / "standard-create.sql").read_text())
        conn.executescript((share / "auth_db-create.sql").read_text())
        conn.executemany(
            "INSERT INTO subscriber (username, domain, ha1) VALUES (?, ?, ?)",
            [
                (user(i), HOST, hashlib.md5(f"{user(i)}:{HOST}:{PASSWORD}".encode()).hexdigest())
                for i in range(1, devices + 1)
            ],
        )
        conn.commit()
        conn.close()
        cmd = [
            *taskset(SERVER_CPU),
            binary,
            "-f", str(KAMAILIO_CFG),
            "-DD", "-E",
            "-n", "1",  # one UDP worker process
            "-m", "256", "-M", "16",
            "-A", f"LISTEN=udp:{HOST}:{self.port}",
            "-A", f'DBURL="sqlite://{db}"',
            "-A", f'CTLSOCK="{self.ctl}"',
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=(workdir / "kamailio.log").open("wb")
        )
        for _ in range(100):
            if (workdir / "ctl.sock").exists():
                break
            time.sleep(0.05)
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise RuntimeError(f"kamailio exited; see {workdir / 'kamailio.log'}")

    def dial(self, i: int) -> str:
        return user(i)

    def memory_bytes(self) -> int:
        out = subprocess.run(
            ["kamcmd", "-s", self.ctl, "core.shmmem"], capture_output=True, text=True, check=True
        ).stdout
        for line in out.splitlines():
            key, _, value = line.strip().partition(":")
            if key == "used":
                return int(value)
        raise RuntimeError(f"no shm figure in {out!r}")


# -- sipp -----------------------------------------------------------------------------------


@dataclass
class Run:
    rate: float
    total: int
    ok: int
    failed: int
    seconds: float

    @property
    def failure_pct(self) -> float:
        return 100.0 * (self.total - self.ok) / self.total if self.total else 100.0

    @property
    def achieved(self) -> float:
        """Completed per second over the nominal window (sipp start-up and the last
        call's own duration excluded)."""
        return self.ok / max(self.total / self.rate, self.seconds - 1.5)

    @property
    def passed(self) -> bool:
        """< 1 % failed, and the server kept pace (done within 25 % of the nominal time)."""
        return self.failure_pct < 1.0 and self.seconds <= 1.25 * self.total / self.rate + 1.5


def write_users(path: Path, first: int, count: int) -> None:
    with path.open("w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(first, first + count):
            f.write(f"{user(i)};[authentication username={user(i)} password={PASSWORD}]\n")


def sipp(
    server: Server,
    scenario: str,
    workdir: Path,
    *,
    rate: float,
    total: int,
    users: Path | None = None,
    service: str | None = None,
    hold_ms: int = 0,
    limit: int | None = None,
    max_seconds: float = 60.0,
    background: bool = False,
    local_port: int | None = None,
) -> Run | subprocess.Popen[bytes]:
    stat = workdir / f"stat-{scenario}-{time.monotonic_ns()}.csv"
    cmd = [
        *taskset(SIPP_CPU),
        "sipp", f"{HOST}:{server.port}",
        "-sf", str(SCENARIOS / scenario),
        "-i", HOST, "-p", str(local_port or free_port()), "-mp", str(free_port()),
        "-r", str(rate), "-rp", "1000", "-m", str(total),
        "-d", str(hold_ms),
        "-l", str(limit or max(100, int(rate * 10))),
        "-recv_timeout", "8s",
        "-timeout", f"{int(max_seconds)}s",
        "-trace_stat", "-stf", str(stat), "-fd", "1",
        "-nostdin", "-nd", "-trace_err",
    ]  # fmt: skip
    if users is not None:
        cmd += ["-inf", str(users)]
    if service is not None:
        cmd += ["-s", service, "-auth_uri", f"{service}@{HOST}:{server.port}"]
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    if background:
        return proc
    try:
        proc.wait(max_seconds + 15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    seconds = time.monotonic() - started
    ok = failed = created = 0
    if stat.exists():
        rows = list(csv.DictReader(stat.open(), delimiter=";"))
        if rows:
            last = rows[-1]
            ok = int(last["SuccessfulCall(C)"])
            failed = int(last["FailedCall(C)"])
            created = int(last["TotalCallCreated"])
    return Run(rate, max(total, created), ok, failed, seconds)


def ramp(
    server: Server, workdir: Path, label: str, rates: list[int], seconds: float, **kw: object
) -> tuple[Run | None, list[Run]]:
    best: Run | None = None
    runs: list[Run] = []
    for rate in rates:
        run = sipp(server, workdir=workdir, rate=rate, total=int(rate * seconds), **kw)  # type: ignore[arg-type]
        assert isinstance(run, Run)
        runs.append(run)
        print(
            f"  {server.name:10} {label:9} rate {rate:5}/s: ok {run.ok:6}/{run.total:<6} "
            f"failed {run.failure_pct:5.2f}%  achieved {run.achieved:7.0f}/s  "
            f"{'ok' if run.passed else 'LIMIT'}",
            flush=True,
        )
        if not run.passed:
            break
        best = run
        time.sleep(1.0)  # let retransmission timers and write-behind settle
    return best, runs


def settle(server: Server, limit: float = 40.0) -> None:
    """Wait until the server holds no transaction (Timer J/K: 32 s after the last request
    on UDP), so memory figures are steady state; Kamailio answers REGISTER statelessly."""
    if not isinstance(server, ClickPhone):
        time.sleep(6.0)  # tm's wait timer (5 s) for the proxied transactions
        return
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        status = server.status()
        if " transactions=0" in status and " calls=0" in status:
            break
        time.sleep(1.0)
    print(f"  {server.status()}", flush=True)


def start_callee(server: Server, workdir: Path, port: int, callee: int) -> subprocess.Popen[bytes]:
    reg = subprocess.run(
        [
            "sipp", f"{HOST}:{server.port}", "-sf", str(SCENARIOS / "register.xml"),
            "-i", HOST, "-p", str(port), "-m", "1", "-timeout", "10s",
            "-timeout_error", "-nostdin",
            "-s", user(callee), "-au", user(callee), "-ap", PASSWORD,
        ],
        cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    if reg.returncode != 0:
        raise RuntimeError(f"{server.name}: callee registration failed")
    uas = subprocess.Popen(
        [
            *taskset(SIPP_CPU), "sipp", "-sf", str(SCENARIOS / "bench_uas.xml"),
            "-i", HOST, "-p", str(port), "-mp", str(free_port()),
            "-timeout", "900s", "-nostdin", "-l", "100000",
        ],
        cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)
    return uas


# -- one server -----------------------------------------------------------------------------


@dataclass
class Figures:
    name: str
    memory_kind: str = ""
    register_rate: float = 0.0
    call_rate: float = 0.0
    bytes_per_registration: float = 0.0
    bytes_per_call: float = 0.0
    notes: list[str] = field(default_factory=list)


def measure(kind: str, args: argparse.Namespace, workdir: Path) -> Figures:
    devices = args.devices
    callee = devices + 1  # never in the callers' list, so it has exactly one binding
    server: Server = (
        ClickPhone(devices + 1, workdir, profile=args.profile)
        if kind == "clickphone"
        else Kamailio(devices + 1, workdir)
    )
    figures = Figures(server.name, server.memory_kind)
    uas: subprocess.Popen[bytes] | None = None
    try:
        users = workdir / "users.csv"
        write_users(users, 1, devices)

        # 1. memory per registration: every device registers once (from one sipp port, which
        #    the ramp below reuses, so its REGISTERs refresh these bindings).
        reg_port = free_port()
        time.sleep(0.5)
        before = server.memory_bytes()
        run = sipp(
            server, "bench_register.xml", workdir, rate=args.fill_rate, total=devices,
            users=users, local_port=reg_port, max_seconds=devices / args.fill_rate + 30,
        )  # fmt: skip
        assert isinstance(run, Run)
        settle(server)
        after = server.memory_bytes()
        figures.bytes_per_registration = (after - before) / max(run.ok, 1)
        print(
            f"  {server.name:10} registered {run.ok}/{devices}: {server.memory_kind} "
            f"+{(after - before) / 1024:.0f} KiB = {figures.bytes_per_registration:.0f} B each",
            flush=True,
        )

        # 2. memory per call: hold calls up, sample memory while they are all up.
        uas_port = free_port()
        uas = start_callee(server, workdir, uas_port, callee)
        held, hold_ms = args.held_calls, 12_000
        settle(server)
        before = server.memory_bytes()
        holder = sipp(
            server, "bench_uac.xml", workdir, rate=held / 4, total=held, users=users,
            service=server.dial(callee), hold_ms=hold_ms, limit=held * 2, background=True,
        )  # fmt: skip
        assert isinstance(holder, subprocess.Popen)
        time.sleep(4.0 + 3.0)  # all set up after ~4 s; all still up until ~12 s
        during = server.memory_bytes()
        live = held
        if isinstance(server, ClickPhone):
            status = server.status()
            print(f"  {status}", flush=True)
            live = int(status.split("calls=")[1].split()[0])
        holder.wait(60)
        figures.bytes_per_call = (during - before) / max(live, 1)
        print(
            f"  {server.name:10} {live} calls up: {server.memory_kind} "
            f"+{(during - before) / 1024:.0f} KiB = {figures.bytes_per_call:.0f} B each",
            flush=True,
        )
        settle(server)

        # 3. REGISTER/s ramp.
        best, _ = ramp(
            server, workdir, "REGISTER", args.register_rates, args.seconds,
            scenario="bench_register.xml", users=users, local_port=reg_port,
        )  # fmt: skip
        figures.register_rate = best.achieved if best else 0.0

        # 4. calls/s ramp, to the sipp UAS registered as the callee.
        best, _ = ramp(
            server, workdir, "calls", args.call_rates, args.seconds,
            scenario="bench_uac.xml", users=users, service=server.dial(callee),
        )  # fmt: skip
        figures.call_rate = best.achieved if best else 0.0

    finally:
        if uas is not None and uas.poll() is None:
            uas.kill()
            uas.wait()
        server.stop()
    return figures


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def table(results: list[Figures]) -> str:
    rows = [
        ("REGISTER/s (digest MD5)", "register_rate", "{:.0f}"),
        ("calls/s (INVITE..BYE)", "call_rate", "{:.0f}"),
        ("bytes per registration", "bytes_per_registration", "{:.0f}"),
        ("bytes per live call", "bytes_per_call", "{:.0f}"),
    ]
    names = [r.name for r in results]
    header = f"| {'metric':26} | " + " | ".join(f"{n:>12}" for n in names)
    if len(results) == 2:
        header += " | ClickPhone/Kamailio"
    lines = [header + " |", "|" + "---|" * (len(names) + 1 + (len(results) == 2))]
    for label, attr, fmt in rows:
        values = [getattr(r, attr) for r in results]
        line = f"| {label:26} | " + " | ".join(f"{fmt.format(v):>12}" for v in values)
        if len(results) == 2:
            line += f" | {ratio(values[0], values[1]):>19}"
        lines.append(line + " |")
    kinds = ", ".join(f"{r.name}: {r.memory_kind}" for r in results)
    lines.append(f"\nMemory measured as {kinds}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["clickphone", "kamailio"])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each ramp step")
    parser.add_argument(
        "--register-rates", type=lambda s: [int(x) for x in s.split(",")],
        default=[500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000],
    )  # fmt: skip
    parser.add_argument(
        "--call-rates", type=lambda s: [int(x) for x in s.split(",")],
        default=[50, 100, 200, 300, 400, 500, 700, 1000, 1500, 2000],
    )  # fmt: skip
    parser.add_argument("--held-calls", type=int, default=400)
    parser.add_argument(
        "--fill-rate", type=int, default=250,
        help="REGISTER/s for the first registration of every device (cold credential cache)",
    )  # fmt: skip
    parser.add_argument("--profile", type=Path, help="cProfile output for ClickPhone")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.devices = 2_000
        args.seconds = 2.0
        args.register_rates = [500, 1000, 2000, 3000]
        args.call_rates = [100, 300, 500]
        args.held_calls = 200
    if shutil.which("sipp") is None:
        sys.exit("sipp is not installed (apt-get install sip-tester)")
    kinds = [args.only] if args.only else ["clickphone", "kamailio"]
    results = []
    for kind in kinds:
        print(f"== {kind}", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"sipbench-{kind}-") as tmp:
            results.append(measure(kind, args, Path(tmp)))
    print()
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    print(f"{when} - {os.cpu_count()} CPUs, {args.devices} devices")
    print(table(results))


if __name__ == "__main__":
    main()
