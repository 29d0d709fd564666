"""sipp (Debian ``sip-tester``) plays the carrier on loopback, an independent SIP stack:

- server mode: it answers ClickPhone's outbound call on an IP trunk, and its scenario checks
  (regexps with ``check_it``) the E.164 Request-URI and the caller ID in From — sipp exits
  non-zero when one does not match;
- client mode: it sends an inbound INVITE to the company's DID from the trunk's address, and
  the call reaches the employee's registered pjsua2 softphone.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from _peers import require, require_binary
from interop.pjua import PjPhone, pjsua2_available
from trunks.pstn_pbx import CALLER_ID, DID, PstnPbx, start_pstn_pbx, stop_pstn_pbx

pytestmark = pytest.mark.interop

SCENARIOS = Path(__file__).parent / "scenarios"
CARRIER_IP = "127.0.0.4"
DIALLED = "+79161234567"


def free_port(host: str = CARRIER_IP) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def bound(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


async def sipp(workdir: Path, scenario: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        require_binary("sipp"),
        *args,
        "-sf", str(SCENARIOS / scenario),
        "-i", CARRIER_IP,
        "-mp", str(free_port()),
        "-m", "1",
        "-timeout", "20s",
        "-timeout_error",
        "-trace_err",
        "-nostdin",
        cwd=workdir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


def error_logs(workdir: Path) -> str:
    return "".join(p.read_text(errors="replace")[-3000:] for p in workdir.glob("*errors.log"))


async def finished(proc: asyncio.subprocess.Process, workdir: Path, timeout: float = 25) -> str:
    """Waits for sipp; returns its report (exit code, stderr, error log) for assertions."""
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
    stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
    errors = await asyncio.to_thread(error_logs, workdir)
    return f"exit {proc.returncode}\n{stderr}\n{errors}"


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[PstnPbx]:
    require_binary("sipp")
    require(pjsua2_available(), "pjsua2-python")
    p = await start_pstn_pbx(tmp_path)
    yield p
    await stop_pstn_pbx(p)


async def eventually(check: Callable[[], Any], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def phone(pbx: PstnPbx, workdir: Path, ext: str, **kw: Any) -> PjPhone:
    e = pbx.exts[ext]
    p = await asyncio.to_thread(
        PjPhone,
        registrar=pbx.hostport,
        user=e.username,
        password=e.password,
        workdir=workdir,
        name=f"ext{ext}",
        **kw,
    )
    p.send("register")
    assert (await asyncio.to_thread(p.wait_for, "reg"))["code"] == 200
    return p


async def wait(p: PjPhone, event: str, pred: Callable[[Any], bool] = lambda e: True) -> Any:
    return await asyncio.to_thread(p.wait_for, event, pred, 15.0)


async def ip_trunk(pbx: PstnPbx, port: int) -> None:
    await pbx.add_trunk(
        name="sipp-carrier",
        kind="ip",
        host=CARRIER_IP,
        port=port,
        allowed_addresses=[f"{CARRIER_IP}/32"],
        options_interval=0,
        priority=10,
    )


async def settled_records(pbx: PstnPbx) -> list[Any]:
    for _ in range(100):
        records = await pbx.records()
        if records and all(r.outcome != "in_progress" for r in records):
            return records
        await asyncio.sleep(0.05)
    raise AssertionError("call records not settled")


async def test_outbound_call_reaches_sipp_with_e164_and_caller_id(
    pbx: PstnPbx, tmp_path: Path
) -> None:
    port = free_port()
    await ip_trunk(pbx, port)
    carrier = await sipp(
        tmp_path,
        "carrier_uas.xml",
        "-p", str(port),
    )  # fmt: skip
    # carrier_uas.xml checks for these two numbers
    assert (DIALLED, CALLER_ID) == ("+79161234567", "+74951234567")
    deadline = time.monotonic() + 5
    while not bound(CARRIER_IP, port):
        assert carrier.returncode is None and time.monotonic() < deadline, "sipp did not start"
        await asyncio.sleep(0.05)
    alice = await phone(pbx, tmp_path, "101")
    try:
        # National format with the tenant's country (RU): the carrier must see +79161234567.
        alice.send("call", uri=f"sip:8(916)123-45-67@{pbx.hostport}")
        await wait(alice, "call_state", lambda e: e["state"] == "CONFIRMED")
        alice.send("hangup")
        await wait(alice, "call_state", lambda e: e["state"] == "DISCONNECTED")
        report = await finished(carrier, tmp_path)
        assert carrier.returncode == 0, report
    finally:
        await asyncio.to_thread(alice.close)
    (record,) = await settled_records(pbx)
    assert (record.direction, record.callee, record.outcome) == ("outgoing", DIALLED, "answered")


async def test_sipp_inbound_call_to_the_did_reaches_the_phone(pbx: PstnPbx, tmp_path: Path) -> None:
    await ip_trunk(pbx, 5060)
    bob = await phone(pbx, tmp_path, "102", auto_answer=200)
    try:
        carrier = await sipp(
            tmp_path,
            "carrier_uac_did.xml",
            pbx.hostport,
            "-p", str(free_port()),
            "-s", DID.lstrip("+"),
            "-key", "caller", "79161234567",
        )  # fmt: skip
        incoming = await wait(bob, "incoming")
        assert "+79161234567" in incoming["remote"]
        assert "Ivan Petrov" in incoming["remote"]  # the company's contact for that number
        report = await finished(carrier, tmp_path)
        assert carrier.returncode == 0, report
        await wait(bob, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await asyncio.to_thread(bob.close)
    (record,) = await settled_records(pbx)
    assert (record.direction, record.callee, record.caller) == ("incoming", DID, "+79161234567")
    assert record.outcome == "answered" and record.callee_employee_id is not None


async def test_registers_with_digest_auth_to_a_sipp_carrier(pbx: PstnPbx, tmp_path: Path) -> None:
    port = free_port()
    carrier = await sipp(tmp_path, "carrier_registrar.xml", "-p", str(port))
    deadline = time.monotonic() + 5
    while not bound(CARRIER_IP, port):
        assert carrier.returncode is None and time.monotonic() < deadline, "sipp did not start"
        await asyncio.sleep(0.05)
    trunk_id = await pbx.add_trunk(
        name="sipp-registrar",
        kind="registration",
        host=CARRIER_IP,
        port=port,
        username="clickphone-trunk",
        password="trunk-Secret-1",
        from_domain="carrier.test",
        register_expires=300,
        options_interval=0,
        priority=10,
    )
    report = await finished(carrier, tmp_path)
    assert carrier.returncode == 0, report  # sipp verified the digest credentials

    def registered() -> bool:
        state = pbx.pstn.registration.state(trunk_id)
        return state is not None and state["registration"] == "registered"

    await eventually(registered)
    state = pbx.pstn.registration.state(trunk_id)
    assert state is not None and state["last_status"] == 200
    assert state["expires_at"] - time.time() <= 121  # the carrier's granted expiry wins


async def test_failover_from_a_sipp_carrier_answering_503_to_the_next(
    pbx: PstnPbx, tmp_path: Path
) -> None:
    first_port, second_port = free_port(), free_port()
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = await sipp(tmp_path / "first", "carrier_503.xml", "-p", str(first_port))
    second = await sipp(tmp_path / "second", "carrier_uas.xml", "-p", str(second_port))
    deadline = time.monotonic() + 5
    while not (bound(CARRIER_IP, first_port) and bound(CARRIER_IP, second_port)):
        assert time.monotonic() < deadline, "sipp did not start"
        await asyncio.sleep(0.05)
    for name, port, priority in (("down", first_port, 10), ("up", second_port, 20)):
        await pbx.add_trunk(
            name=name, kind="ip", host=CARRIER_IP, port=port, priority=priority,
            allowed_addresses=[f"{CARRIER_IP}/32"], options_interval=0,
        )  # fmt: skip
    alice = await phone(pbx, tmp_path, "101")
    try:
        alice.send("call", uri=f"sip:+79161234567@{pbx.hostport}")
        await wait(alice, "call_state", lambda e: e["state"] == "CONFIRMED")
        alice.send("hangup")
        await wait(alice, "call_state", lambda e: e["state"] == "DISCONNECTED")
        first_report = await finished(first, tmp_path / "first")
        second_report = await finished(second, tmp_path / "second")
        assert first.returncode == 0, first_report  # it got the INVITE first and said 503
        assert second.returncode == 0, second_report  # then the next trunk answered
    finally:
        await asyncio.to_thread(alice.close)
    (record,) = await settled_records(pbx)
    assert record.outcome == "answered"
    assert [leg["status"] for leg in record.legs] == [503, 200]
