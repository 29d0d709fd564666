"""sipp (Debian ``sip-tester``) against ClickPhone's SIP server, with our own scenario files.

Every sipp run is one call (``-m 1``) with a bounded global timeout and ``-trace_err``; a
test asserts sipp's exit status 0 (every expected message came, nothing unexpected did)
and ClickPhone's own view: registrations, call events and an empty call table at the end.

sipp 3.6.1 answers only MD5 challenges and takes the first one it sees, so the devices here
are provisioned MD5-only (pjsua2 covers SHA-256 in test_pjsua_calls.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from _peers import require_binary
from telephony.pbx import DEFAULT_EXTS, Pbx, start_pbx, stop_pbx

pytestmark = pytest.mark.interop

SCENARIOS = Path(__file__).parent / "sipp"
SIPP_EXTS = [replace(e, algorithms=["MD5"]) for e in DEFAULT_EXTS]
EXT = {e.extension: e for e in SIPP_EXTS}


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[Pbx]:
    require_binary("sipp")
    p = await start_pbx(tmp_path, exts=SIPP_EXTS)
    yield p
    await stop_pbx(p)


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def udp_port_busy(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class Sipp:
    """One sipp process running one scenario file for one call."""

    def __init__(self, proc: asyncio.subprocess.Process, scenario: str, workdir: Path) -> None:
        self.proc = proc
        self.scenario = scenario
        self.workdir = workdir

    @classmethod
    async def start(
        cls,
        scenario: str,
        workdir: Path,
        *,
        port: int,
        target: str | None = None,
        service: str | None = None,
        user: str | None = None,
        password: str | None = None,
        auth_uri: str | None = None,
        timeout: float = 10.0,
    ) -> Sipp:
        args = [
            "-sf", str(SCENARIOS / scenario),
            "-i", "127.0.0.1",
            "-p", str(port),
            "-mp", str(free_port()),
            "-m", "1",
            "-timeout", f"{int(timeout)}s",
            "-timeout_error",
            "-trace_err",
            "-nostdin",
        ]  # fmt: skip
        if service is not None:
            args += ["-s", service]
        if user is not None:
            args += ["-key", "user", user, "-au", user]
        if password is not None:
            args += ["-ap", password]
        if auth_uri is not None:
            # sipp signs "sip:REMOTE_IP:PORT" unless told; ClickPhone checks the digest uri
            # against the Request-URI (RFC 3261 §22.4), so give it the dialled URI.
            args += ["-auth_uri", auth_uri]
        if target is not None:
            args.insert(0, target)
        proc = await asyncio.create_subprocess_exec(
            require_binary("sipp"),
            *args,
            cwd=workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc, scenario, workdir)

    async def listening(self, port: int, timeout: float = 5.0) -> None:
        """Wait until this (UAS) sipp has bound its port."""
        deadline = time.monotonic() + timeout
        while not udp_port_busy(port):
            assert self.proc.returncode is None, await self.report()
            assert time.monotonic() < deadline, f"sipp {self.scenario} did not bind {port}"
            await asyncio.sleep(0.02)

    async def wait(self, timeout: float = 15.0) -> int:
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.kill()
            await self.proc.wait()
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def report(self) -> str:
        stem = Path(self.scenario).stem
        errors = "".join(
            p.read_text(errors="replace")[-3000:] for p in self.workdir.glob(f"{stem}_*errors.log")
        )
        stderr = b""
        if self.proc.stderr is not None and self.proc.returncode is not None:
            stderr = await self.proc.stderr.read()
        return f"sipp {self.scenario} exit {self.proc.returncode}\n{stderr.decode()}\n{errors}"

    async def expect_success(self, timeout: float = 15.0) -> None:
        code = await self.wait(timeout)
        assert code == 0, await self.report()

    def kill(self) -> None:
        if self.proc.returncode is None:
            os.kill(self.proc.pid, signal.SIGKILL)


async def run(scenario: str, workdir: Path, **kw: object) -> Sipp:
    sipp = await Sipp.start(scenario, workdir, **kw)  # type: ignore[arg-type]
    await sipp.wait()
    return sipp


async def register(pbx: Pbx, workdir: Path, ext: str, port: int) -> None:
    e = EXT[ext]
    sipp = await run(
        "register.xml",
        workdir,
        target=pbx.hostport,
        port=port,
        service=e.username,
        user=e.username,
        password=e.password,
    )
    assert sipp.proc.returncode == 0, await sipp.report()
    assert [b.peer.port for b in pbx.server.registrar.lookup(e.username)] == [port]


async def call(
    pbx: Pbx, workdir: Path, *, uas: str, uac: str, dial: str = "102", caller: str = "101"
) -> tuple[Sipp, Sipp | None]:
    """Register 102 from a port, run the UAS scenario on it, then place the call as 101."""
    callee_port = free_port()
    callee: Sipp | None = None
    if uas:
        await register(pbx, workdir, "102", callee_port)
        callee = await Sipp.start(uas, workdir, port=callee_port)
        await callee.listening(callee_port)
    e = EXT[caller]
    uac_run = await Sipp.start(
        uac,
        workdir,
        target=pbx.hostport,
        port=free_port(),
        service=dial,
        user=e.username,
        password=e.password,
        auth_uri=f"{dial}@{pbx.hostport}",
    )
    return uac_run, callee


async def settled(pbx: Pbx, timeout: float = 3.0) -> None:
    """Wait until the call table is empty (the B2BUA finishes a call after its last message)."""
    assert pbx.server.calls is not None
    deadline = time.monotonic() + timeout
    while pbx.server.calls.active_calls():
        assert time.monotonic() < deadline, pbx.server.calls.active_calls()
        await asyncio.sleep(0.02)


def ended_reasons(pbx: Pbx) -> list[str]:
    return [e.payload["reason"] for e in pbx.events_of("call.ended")]


# -- registration ---------------------------------------------------------------------------


async def test_register_md5(pbx: Pbx, tmp_path: Path) -> None:
    port = free_port()
    await register(pbx, tmp_path, "103", port)
    (binding,) = pbx.server.registrar.lookup("carol103")
    assert binding.user_agent == "sipp-clickphone-test"
    assert binding.contact == f"sip:carol103@127.0.0.1:{port};transport=UDP"
    (changed,) = pbx.events_of("sip.registration.changed")
    assert changed.payload["username"] == "carol103" and changed.payload["online"] is True


async def test_register_wrong_password_403(pbx: Pbx, tmp_path: Path) -> None:
    sipp = await run(
        "register_forbidden.xml",
        tmp_path,
        target=pbx.hostport,
        port=free_port(),
        service="bob102",
        user="bob102",
        password="not-bobs-password",
    )
    assert sipp.proc.returncode == 0, await sipp.report()
    assert not pbx.server.registrar.lookup("bob102")
    assert pbx.events_of("sip.registration.changed") == []


# -- calls ----------------------------------------------------------------------------------


async def test_call_answered_caller_hangs_up(pbx: Pbx, tmp_path: Path) -> None:
    uac, uas = await call(pbx, tmp_path, uas="uas_answer.xml", uac="uac_call.xml")
    assert uas is not None
    await uac.expect_success()
    await uas.expect_success()
    await settled(pbx)
    assert [e.type for e in pbx.events if e.type.startswith("call.")] == [
        "call.started",
        "call.answered",
        "call.ended",
    ]
    started = pbx.events_of("call.started")[0].payload
    assert started["caller"] == "101" and started["callee"] == "102"
    assert ended_reasons(pbx) == ["hangup by caller"]


async def test_call_answered_callee_hangs_up(pbx: Pbx, tmp_path: Path) -> None:
    uac, uas = await call(pbx, tmp_path, uas="uas_hangup.xml", uac="uac_callee_bye.xml")
    assert uas is not None
    await uas.expect_success()
    await uac.expect_success()
    await settled(pbx)
    assert ended_reasons(pbx) == ["hangup by callee"]


async def test_cancel_while_ringing(pbx: Pbx, tmp_path: Path) -> None:
    uac, uas = await call(pbx, tmp_path, uas="uas_ring.xml", uac="uac_cancel.xml")
    assert uas is not None
    await uac.expect_success()
    await uas.expect_success()
    await settled(pbx)
    assert pbx.events_of("call.answered") == []
    assert ended_reasons(pbx) == ["cancelled"]


async def test_busy_callee(pbx: Pbx, tmp_path: Path) -> None:
    uac, uas = await call(pbx, tmp_path, uas="uas_busy.xml", uac="uac_rejected_486.xml")
    assert uas is not None
    await uac.expect_success()
    await uas.expect_success()
    await settled(pbx)
    assert ended_reasons(pbx) == ["busy"]


async def test_unknown_number_404(pbx: Pbx, tmp_path: Path) -> None:
    uac, _ = await call(pbx, tmp_path, uas="", uac="uac_rejected_404.xml", dial="999")
    await uac.expect_success()
    assert pbx.events_of("call.started") == []


async def test_nobody_registered_480(pbx: Pbx, tmp_path: Path) -> None:
    assert not pbx.server.registrar.lookup("dave104")
    uac, _ = await call(pbx, tmp_path, uas="", uac="uac_rejected_480.xml", dial="104")
    await uac.expect_success()
    assert pbx.events_of("call.started") == []
