"""SmppLink against a real third-party SMSC (smpp34's server, see ``smsc.py``) on loopback."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import smpp34
from smsc import ESME_RBINDFAIL, ESME_RINVPASWD, TestSmsc

from clickphone.messaging import smpp
from clickphone.messaging.gsm import Concat
from clickphone.messaging.smpp import (
    DeliveryReceipt,
    InboundSms,
    SmppAccount,
    SmppLink,
    SmsRejected,
    SmsUnavailable,
    parse_receipt,
)

pytestmark = pytest.mark.timeout(15)

SYSTEM_ID, PASSWORD = "clickphone", "s3cr3t!"
OUR_DID, PHONE = "+74951234567", "+79161234567"
ESME_RX_T_APPN = 0x64


class Recorder:
    """Collects what the link hands over; ``fail`` makes the callbacks raise."""

    def __init__(self) -> None:
        self.inbound: list[InboundSms] = []
        self.receipts: list[DeliveryReceipt] = []
        self.fail = False
        self._changed = asyncio.Event()

    async def on_inbound(self, sms: InboundSms) -> None:
        if self.fail:
            raise RuntimeError("database is down")
        self.inbound.append(sms)
        self._changed.set()

    async def on_receipt(self, receipt: DeliveryReceipt) -> None:
        if self.fail:
            raise RuntimeError("database is down")
        self.receipts.append(receipt)
        self._changed.set()

    async def wait(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                pass


class LogRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def _rec(self, level: str) -> Callable[..., None]:
        def record(event: str, *args: Any, **kw: Any) -> None:
            self.events.append((level, event, kw))

        return record

    def __getattr__(self, level: str) -> Callable[..., None]:
        return self._rec(level)

    def log(self, level: int, event: str, **kw: Any) -> None:
        self.events.append((str(level), event, kw))


@pytest.fixture
async def smsc() -> AsyncIterator[TestSmsc]:
    async with TestSmsc(system_id=SYSTEM_ID, password=PASSWORD) as s:
        yield s


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
async def make_link(rec: Recorder) -> AsyncIterator[Callable[..., Awaitable[SmppLink]]]:
    links: list[SmppLink] = []

    async def make(smsc: TestSmsc, *, password: str = PASSWORD, wait: bool = True) -> SmppLink:
        account = SmppAccount(smsc.host, smsc.port, SYSTEM_ID, password, submit_timeout=3.0)
        link = SmppLink(
            account, name="carrier", on_inbound=rec.on_inbound, on_receipt=rec.on_receipt
        )
        links.append(link)
        await link.start()
        if wait:
            assert await link.wait_bound(5), "the link did not bind"
        return link

    yield make
    for link in links:
        await link.stop()


async def test_binds_and_submits_latin(smsc: TestSmsc, make_link: Any) -> None:
    link = await make_link(smsc)
    assert link.bound
    assert smsc.binds[-1].accepted and smsc.binds[-1].system_id == SYSTEM_ID
    result = await link.submit(OUR_DID, PHONE, "Hello from ClickPhone {ok}")
    [sub] = await smsc.wait_submits(1)
    assert (sub.source, sub.destination) == ("74951234567", "79161234567")  # '+' stripped
    assert (sub.source_ton, sub.source_npi, sub.dest_ton, sub.dest_npi) == (1, 1, 1, 1)
    assert sub.data_coding == 0 and sub.esm_class == 0 and sub.udh is None
    assert sub.registered_delivery == 1
    assert sub.text == "Hello from ClickPhone {ok}"
    assert result.provider_ids == [sub.message_id] and result.parts == 1
    assert result.data_coding == 0


async def test_cyrillic_goes_ucs2(smsc: TestSmsc, make_link: Any) -> None:
    link = await make_link(smsc)
    result = await link.submit(OUR_DID, PHONE, "Привет, Щука! 😀")
    [sub] = await smsc.wait_submits(1)
    assert sub.data_coding == 8 and result.data_coding == 8
    assert sub.text == "Привет, Щука! 😀"
    assert sub.short_message == "Привет, Щука! 😀".encode("utf-16-be")


async def test_long_text_three_parts(smsc: TestSmsc, make_link: Any) -> None:
    link = await make_link(smsc)
    text = "".join(f"line {i:03d} of a long message. " for i in range(20))[:420]  # 420 septets
    result = await link.submit(OUR_DID, PHONE, text)
    subs = await smsc.wait_submits(3)
    assert len(subs) == 3 and result.parts == 3
    assert all(s.esm_class & 0x40 and s.data_coding == 0 for s in subs)
    assert all(s.registered_delivery == 1 for s in subs)
    [ref] = {s.udh.reference for s in subs if s.udh}
    assert [s.udh for s in subs] == [Concat(ref, 3, i) for i in (1, 2, 3)]
    assert "".join(s.text for s in subs) == text
    assert result.provider_ids == [s.message_id for s in subs]
    assert len(set(result.provider_ids)) == 3
    # the next long text gets another reference
    await link.submit(OUR_DID, PHONE, text)
    more = await smsc.wait_submits(6)
    assert more[3].udh and subs[0].udh and more[3].udh.reference != subs[0].udh.reference


async def test_receipts_delivered_and_failed(smsc: TestSmsc, make_link: Any, rec: Recorder) -> None:
    bad = "+79990001122"
    smsc.undeliverable.add(bad.lstrip("+"))
    link = await make_link(smsc)
    ok = await link.submit(OUR_DID, PHONE, "one")
    failed = await link.submit(OUR_DID, bad, "two")
    await rec.wait(lambda: len(rec.receipts) == 2)
    by_id = {r.provider_id: r for r in rec.receipts}
    assert by_id[ok.provider_ids[0]].state == "delivered"
    assert by_id[failed.provider_ids[0]].state == "failed"
    assert by_id[failed.provider_ids[0]].error == "001"
    assert "stat:UNDELIV" in by_id[failed.provider_ids[0]].raw
    receipts = await smsc.wait_receipts(2)
    assert [r.status for r in receipts] == [0, 0]  # acknowledged


async def test_receipt_tlvs_win(smsc: TestSmsc, make_link: Any, rec: Recorder) -> None:
    smsc.receipt_style = "tlv"  # the text carries a wrong id, the TLVs the right one
    smsc.undeliverable.add("79990001122")
    link = await make_link(smsc)
    result = await link.submit(OUR_DID, "+79990001122", "three")
    await rec.wait(lambda: len(rec.receipts) == 1)
    assert rec.receipts[0].provider_id == result.provider_ids[0]
    assert rec.receipts[0].state == "failed"


async def test_smsc_rejection(smsc: TestSmsc, make_link: Any) -> None:
    smsc.reject["79990000000"] = smpp34.ESME_RINVDSTADR
    link = await make_link(smsc)
    with pytest.raises(SmsRejected) as err:
        await link.submit(OUR_DID, "+79990000000", "nobody")
    assert err.value.status == 0x0B and err.value.name == "ESME_RINVDSTADR"
    assert link.bound  # a rejection is no reason to reconnect
    assert (await link.submit(OUR_DID, PHONE, "still fine")).parts == 1


async def test_wrong_password_then_accepted(
    smsc: TestSmsc, make_link: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = LogRecorder()
    monkeypatch.setattr(smpp, "log", logs)
    smsc.password = "other"
    link = await make_link(smsc, wait=False)
    await smsc.wait_until(lambda: len(smsc.binds) >= 1, 5, "a bind")
    assert smsc.binds[0].status == ESME_RINVPASWD
    assert not await link.wait_bound(0.3)
    assert not link.bound
    warnings = [e for e in logs.events if e[1] == "smpp.bind_failed"]
    assert warnings and warnings[0][0] == "warning"
    assert warnings[0][2]["status"] == "ESME_RINVPASWD"
    assert PASSWORD not in repr(logs.events)
    with pytest.raises(SmsUnavailable):
        await link.submit(OUR_DID, PHONE, "not yet")
    smsc.password = PASSWORD  # the carrier fixes the account: the retry (1 s later) binds
    assert await link.wait_bound(5)
    assert (await link.submit(OUR_DID, PHONE, "now")).parts == 1


async def test_unknown_system_id_is_refused(smsc: TestSmsc, make_link: Any) -> None:
    smsc.system_id = "someone-else"
    link = await make_link(smsc, wait=False)
    await smsc.wait_until(lambda: len(smsc.binds) >= 1, 5, "a bind")
    assert smsc.binds[0].status == ESME_RBINDFAIL and not link.bound


async def test_mo_single(smsc: TestSmsc, make_link: Any, rec: Recorder) -> None:
    await make_link(smsc)
    mo = await smsc.send_mo(PHONE, OUR_DID, "Привет!")
    assert mo.acknowledged
    assert rec.inbound == [InboundSms(PHONE, OUR_DID, "Привет!")]


async def test_mo_multipart_reported_once(smsc: TestSmsc, make_link: Any, rec: Recorder) -> None:
    await make_link(smsc)
    latin = "Call me back about the invoice, please. " * 6  # 240 septets: 2 parts
    mo = await smsc.send_mo(PHONE, OUR_DID, latin)
    assert len(mo.statuses) == 2 and mo.acknowledged
    cyr = "Перезвоните, пожалуйста, по поводу счёта 😀 " * 4  # UCS-2, 3 parts
    mo = await smsc.send_mo(PHONE, OUR_DID, cyr, reference=0x1234, udh16=True, order=[2, 0, 1])
    assert len(mo.statuses) == 3 and mo.acknowledged
    await rec.wait(lambda: len(rec.inbound) >= 2)
    assert [m.text for m in rec.inbound] == [latin, cyr]
    assert all(m.source == PHONE and m.destination == OUR_DID for m in rec.inbound)


async def test_failing_callback_is_retried_not_lost(
    smsc: TestSmsc, make_link: Any, rec: Recorder
) -> None:
    await make_link(smsc)
    rec.fail = True
    mo = await smsc.send_mo(PHONE, OUR_DID, "lost?")
    assert mo.statuses == [ESME_RX_T_APPN]  # temporary error: the SMSC will retry
    assert rec.inbound == []
    rec.fail = False
    mo = await smsc.send_mo(PHONE, OUR_DID, "lost?")  # the SMSC's retry
    assert mo.acknowledged and [m.text for m in rec.inbound] == ["lost?"]


async def test_failing_callback_on_last_part_keeps_the_parts(
    smsc: TestSmsc, make_link: Any, rec: Recorder
) -> None:
    await make_link(smsc)
    text = "x" * 200
    await smsc.send_mo(PHONE, OUR_DID, text, order=[0])
    rec.fail = True
    assert (await smsc.send_mo(PHONE, OUR_DID, text, order=[1])).statuses[1] == ESME_RX_T_APPN
    rec.fail = False
    assert (await smsc.send_mo(PHONE, OUR_DID, text, order=[1])).statuses[1] == 0
    assert [m.text for m in rec.inbound] == [text]


async def test_failing_receipt_callback(smsc: TestSmsc, make_link: Any, rec: Recorder) -> None:
    link = await make_link(smsc)
    rec.fail = True
    await link.submit(OUR_DID, PHONE, "receipt please")
    [receipt] = await smsc.wait_receipts(1)
    assert receipt.status == ESME_RX_T_APPN
    assert link.bound


async def test_smsc_restart_rebinds(smsc: TestSmsc, make_link: Any) -> None:
    link = await make_link(smsc)
    await link.submit(OUR_DID, PHONE, "before")
    await smsc.restart()
    await smsc.wait_until(lambda: sum(b.accepted for b in smsc.binds) == 2, 8, "a re-bind")
    assert await link.wait_bound(5)
    result = await link.submit(OUR_DID, PHONE, "after")
    subs = await smsc.wait_submits(2)
    assert subs[-1].text == "after" and result.provider_ids == [subs[-1].message_id]
    assert sum(b.accepted for b in smsc.binds) == 2


async def test_submit_while_not_bound_fails_fast(rec: Recorder) -> None:
    async with TestSmsc(system_id=SYSTEM_ID, password=PASSWORD) as s:
        port = s.port
    account = SmppAccount("127.0.0.1", port, SYSTEM_ID, PASSWORD)  # nobody listens now
    link = SmppLink(account, name="down", on_inbound=rec.on_inbound, on_receipt=rec.on_receipt)
    await link.start()
    try:
        started = time.monotonic()
        with pytest.raises(SmsUnavailable):
            await link.submit(OUR_DID, PHONE, "hello")
        assert time.monotonic() - started < 0.5
        assert not link.bound
    finally:
        await link.stop()
        await link.stop()  # idempotent


async def test_stop_unbinds(smsc: TestSmsc, make_link: Any) -> None:
    link = await make_link(smsc)
    await smsc.wait_bound()
    await link.stop()
    assert not link.bound
    await smsc.wait_until(lambda: not smsc.sessions, 5, "the session to end")
    with pytest.raises(SmsUnavailable):
        await link.submit(OUR_DID, PHONE, "after stop")


def test_password_length_checked_without_echo() -> None:
    async def noop(_: Any) -> None:
        return None

    with pytest.raises(ValueError) as err:
        SmppLink(
            SmppAccount("h", 1, "sys", "much-too-long-pw"),
            name="x",
            on_inbound=noop,
            on_receipt=noop,
        )
    assert "much-too-long-pw" not in str(err.value)
    assert "much-too-long-pw" not in repr(SmppAccount("h", 1, "sys", "much-too-long-pw"))


# receipts from other SMSCs (pure)


def test_parse_receipt_variants() -> None:
    text = (
        "id:0A1B2C sub:001 dlvrd:000 submit date:2401311200 done date:240131120305 "
        "stat:EXPIRED err:0x1F text:Hello"
    )
    r = parse_receipt(text, {})
    assert r == DeliveryReceipt("0A1B2C", "expired", "0x1F", text)
    assert parse_receipt("id:7 stat:REJECTD err:000", {}).state == "rejected"  # type: ignore[union-attr]
    assert parse_receipt("id:7 stat:ACCEPTD", {}).state == "accepted"  # type: ignore[union-attr]
    assert parse_receipt("id:7 stat:ENROUTE", {}).state == "accepted"  # type: ignore[union-attr]
    assert parse_receipt("id:7 stat:DELETED", {}).state == "failed"  # type: ignore[union-attr]
    assert parse_receipt("id:7 stat:WHATEVER", {}).state == "unknown"  # type: ignore[union-attr]
    # TLVs win: receipted_message_id and message_state (8 = rejected)
    r = parse_receipt("id:wrong stat:DELIVRD", {0x001E: b"right\0", 0x0427: bytes([8])})
    assert r is not None and (r.provider_id, r.state) == ("right", "rejected")
    r = parse_receipt("", {0x001E: b"abc\0", 0x0427: bytes([2]), 0x0423: bytes([3, 0, 27])})
    assert r is not None and (r.provider_id, r.state, r.error) == ("abc", "delivered", "3:27")
    assert parse_receipt("stat:DELIVRD", {}) is None


# a vendor-specific status (0x400-0x4FF) from a minimal raw SMSC: smpp34 maps those to
# ESME_RSYSERR, and aiosmpplib alone cannot parse the header at all


async def test_vendor_status_rejects_without_reconnect(rec: Recorder) -> None:
    binds = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal binds
        try:
            while True:
                length, command, _status, seq = struct.unpack("!IIII", await reader.readexactly(16))
                await reader.readexactly(length - 16)
                if command == 0x09:
                    binds += 1
                    body = b"RAW\0"
                    writer.write(struct.pack("!IIII", 16 + len(body), 0x80000009, 0, seq) + body)
                elif command == 0x04:
                    writer.write(struct.pack("!IIII", 17, 0x80000004, 0x401, seq) + b"\0")
                elif command in (0x15, 0x06):
                    writer.write(struct.pack("!IIII", 16, command | 0x80000000, 0, seq))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = SmppLink(
        SmppAccount("127.0.0.1", port, SYSTEM_ID, PASSWORD),
        name="raw",
        on_inbound=rec.on_inbound,
        on_receipt=rec.on_receipt,
    )
    await link.start()
    try:
        assert await link.wait_bound(5)
        with pytest.raises(SmsRejected) as err:
            await link.submit(OUR_DID, PHONE, "hi")
        assert err.value.status == 0x401 and err.value.name == "vendor 0x401"
        assert link.bound and binds == 1
    finally:
        await link.stop()
        server.close()
        await server.wait_closed()
