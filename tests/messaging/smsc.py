"""A carrier's SMSC for tests: the third-party ``smpp34`` SMPP 3.4 server on loopback.

    async with TestSmsc(system_id="clickphone", password="secret") as smsc:
        link = SmppLink(SmppAccount(smsc.host, smsc.port, "clickphone", "secret"), ...)
        ...
        [sub] = await smsc.wait_submits(1, timeout=5)      # what the SMSC received
        assert sub.text == "Hello" and sub.data_coding == 0
        assert (await smsc.wait_receipts(1, timeout=5))[0].status == 0  # receipt acked
        mo = await smsc.send_mo("+79161234567", "+74950000000", "Привет")
        assert mo.acknowledged

What the SMSC does:

* **Bind**: a bind whose system_id differs from ``system_id`` is refused with
  ``ESME_RBINDFAIL``, a wrong ``password`` with ``ESME_RINVPASWD`` (a header-only
  response, then the connection is closed). Both are attributes: change them to make the
  SMSC accept a link that is retrying. Every attempt is in :attr:`binds`.
* **submit_sm**: recorded in :attr:`submits` as a :class:`Submit` (addresses, TON/NPI,
  ``data_coding``, ``esm_class``, the UDH read back by ``gsm.split_udh`` and the part's
  text decoded by ``gsm.decode``) and answered with a fresh message id, unless the
  destination is in ``reject`` (destination -> SMPP status, e.g. ``{"79990000000":
  smpp34.ESME_RINVDSTADR}``), which answers that status instead.
* **Delivery receipts**: after an accepted part that asked for one (registered_delivery
  bit 0), a ``deliver_sm`` with esm_class 0x04 goes back on the same session: ``stat:DELIVRD``
  by default, ``stat:UNDELIV`` for destinations in ``undeliverable``. ``receipt_style``
  is ``"text"`` (the standard ``id:... stat:...`` text only), ``"tlv"`` (also the
  ``receipted_message_id`` and ``message_state`` TLVs, with a different id in the text so a
  test can tell which one was read) or ``"none"``. Each is in :attr:`receipts` with the
  ESME's ``deliver_sm_resp`` status.
* **MO**: :meth:`send_mo` delivers a text to the bound ESME, as several UDH parts when it
  is long (8-bit reference, or 16-bit with ``udh16=True``; ``order`` sends the parts out
  of order), and returns each part's ``deliver_sm_resp`` status. :meth:`deliver` sends any
  other ``deliver_sm``.
* :meth:`restart` is a crash and restart: every connection is cut, the server comes back
  on the same port.

Why a gate in front of smpp34: its Python server accepts every bind (its Rust listener can
check credentials, the Python binding does not expose that), so a small asyncio proxy reads
the first PDU of each connection, refuses bad credentials itself and otherwise passes the
connection through, byte for byte, to the smpp34 server on an internal port. Everything
after the bind (responses, windowing, enquire_link, deliver_sm) is smpp34's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import smpp34

from clickphone.messaging import gsm

ESME_ROK = 0x00
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVDSTADR = 0x0B
BIND_COMMANDS = {0x01, 0x02, 0x09}  # receiver, transmitter, transceiver


@dataclass(frozen=True)
class BindAttempt:
    system_id: str
    accepted: bool
    status: int


@dataclass(frozen=True)
class Submit:
    session_id: str
    source: str
    source_ton: int
    source_npi: int
    destination: str
    dest_ton: int
    dest_npi: int
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes
    udh: gsm.Concat | None
    text: str  # this part's text
    message_id: str | None  # None when rejected
    status: int


@dataclass
class Receipt:
    message_id: str
    stat: str
    destination: str  # the submit's source: receipts go back to the sender
    status: int | None = None  # the ESME's deliver_sm_resp; None while waiting or lost


@dataclass(frozen=True)
class MoResult:
    statuses: list[int | None]  # per part; None when the ESME did not answer

    @property
    def acknowledged(self) -> bool:
        return bool(self.statuses) and all(s == ESME_ROK for s in self.statuses)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _cstrings(body: bytes, count: int) -> list[str]:
    out: list[str] = []
    pos = 0
    for _ in range(count):
        end = body.find(b"\0", pos)
        if end < 0:
            end = len(body)
        out.append(body[pos:end].decode("latin-1"))
        pos = end + 1
    return out


@dataclass
class _Conn:
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


class TestSmsc:
    """See the module docstring."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        system_id: str = "clickphone",
        password: str = "secret",
        host: str = "127.0.0.1",
        reject: dict[str, int] | None = None,
        undeliverable: Sequence[str] = (),
        receipt_style: str = "text",
        smsc_id: str = "TESTSMSC",
    ) -> None:
        self.system_id = system_id
        self.password = password
        self.host = host
        self.port = 0
        self.reject: dict[str, int] = {k.lstrip("+"): v for k, v in (reject or {}).items()}
        self.undeliverable: set[str] = {d.lstrip("+") for d in undeliverable}
        self.receipt_style = receipt_style
        self.smsc_id = smsc_id
        self.binds: list[BindAttempt] = []
        self.submits: list[Submit] = []
        self.receipts: list[Receipt] = []
        self.sessions: dict[str, smpp34.Esme] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._server: smpp34.Server | None = None
        self._front: asyncio.Server | None = None
        self._backend_port = 0
        self._serve_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._conns: list[_Conn] = []

    # lifecycle

    async def __aenter__(self) -> TestSmsc:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the smpp34 server (internal port) and the bind gate (``self.port``; an
        ephemeral one the first time, the same one after :meth:`restart`)."""
        for attempt in range(20):
            port = _free_port(self.host)
            server = smpp34.Server(host=self.host, port=port, system_id=self.smsc_id)
            try:
                await server.start()
            except smpp34.SmppError:  # someone took the port in between: try another
                if attempt == 19:
                    raise
                continue
            self._server, self._backend_port = server, port
            break
        self._serve_task = asyncio.create_task(self._serve(), name="test-smsc")
        self._front = await asyncio.start_server(self._gate, self.host, self.port)
        self.port = int(self._front.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._front is not None:
            self._front.close()
        for conn in self._conns:
            for w in conn.writers:
                w.transport.abort()
        self._conns.clear()
        if self._front is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._front.wait_closed(), 2)
            self._front = None
        for task in [*self._tasks, *([self._serve_task] if self._serve_task else [])]:
            task.cancel()
        for task in [*self._tasks, *([self._serve_task] if self._serve_task else [])]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._serve_task = None
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.stop()
            self._server = None
        self.sessions.clear()

    async def restart(self) -> None:
        """A crash and a restart: all connections cut, back on the same port."""
        await self.stop()
        await self.start()

    # waiting

    async def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait until ``predicate()`` holds; it is checked whenever the SMSC sees something
        (a bind, a submit, a session change, a receipt answered)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"TestSmsc: {what} within {timeout} s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    def _pulse(self) -> None:
        self._changed.set()

    async def wait_submits(self, n: int, timeout: float = 5.0) -> list[Submit]:
        """The first ``n`` submit_sm (all of them once at least ``n`` arrived)."""
        await self.wait_until(lambda: len(self.submits) >= n, timeout, f"{n} submit_sm")
        return list(self.submits)

    async def wait_receipts(self, n: int, timeout: float = 5.0) -> list[Receipt]:
        """Receipts once ``n`` of them have been answered by the ESME."""
        await self.wait_until(
            lambda: sum(r.status is not None for r in self.receipts) >= n,
            timeout,
            f"{n} answered receipts",
        )
        return list(self.receipts)

    async def wait_bound(self, timeout: float = 5.0) -> smpp34.Esme:
        """The most recent session that can take deliver_sm."""
        await self.wait_until(lambda: self._session() is not None, timeout, "a bound ESME")
        esme = self._session()
        assert esme is not None
        return esme

    def _session(self) -> smpp34.Esme | None:
        for esme in reversed(list(self.sessions.values())):
            if esme.can_receive:
                return esme
        return None

    # MO / deliver_sm

    async def deliver(
        self,
        short_message: bytes,
        *,
        source: str,
        destination: str,
        esm_class: int = 0,
        data_coding: int = 0,
        tlvs: list[smpp34.Tlv] | None = None,
        source_ton: int = 1,
        dest_ton: int = 1,
        timeout: float = 5.0,
    ) -> int | None:
        """Send one deliver_sm to the bound ESME; its deliver_sm_resp status (None: none)."""
        esme = await self.wait_bound(timeout)
        try:
            resp = await asyncio.wait_for(
                esme.deliver_sm(
                    destination.lstrip("+"),
                    short_message,
                    source_addr=source.lstrip("+"),
                    source_addr_ton=source_ton,
                    source_addr_npi=1,
                    dest_addr_ton=dest_ton,
                    dest_addr_npi=1,
                    esm_class=esm_class,
                    data_coding=data_coding,
                    tlvs=tlvs or [],
                ),
                timeout,
            )
        except (TimeoutError, smpp34.SmppError):
            return None
        return int(resp.command_status)

    async def send_mo(
        self,
        source: str,
        destination: str,
        text: str,
        *,
        reference: int = 0x5A,
        udh16: bool = False,
        order: Sequence[int] | None = None,
        timeout: float = 5.0,
    ) -> MoResult:
        """A text from a phone to the ESME, encoded by ``gsm.segments`` (several parts
        with a UDH when it is long). ``order`` lists part indexes (0-based) to send them
        in another order."""
        enc = gsm.segments(text, reference & 0xFF)
        parts = list(enc.parts)
        if udh16 and enc.multipart:
            parts = [
                bytes([0x06, 0x08, 0x04, (reference >> 8) & 0xFF, reference & 0xFF, p[4], p[5]])
                + p[6:]
                for p in parts
            ]
        statuses: list[int | None] = [None] * len(parts)
        for i in order if order is not None else range(len(parts)):
            statuses[i] = await self.deliver(
                parts[i],
                source=source,
                destination=destination,
                esm_class=0x40 if enc.multipart else 0x00,
                data_coding=enc.data_coding,
                timeout=timeout,
            )
        return MoResult(statuses)

    # the bind gate

    async def _gate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn([writer])
        self._conns.append(conn)
        try:
            header = await reader.readexactly(16)
            length, command_id, _status, seq = struct.unpack("!IIII", header)
            body = await reader.readexactly(max(length - 16, 0))
            if command_id in BIND_COMMANDS:
                system_id, password = _cstrings(body, 2)
                status = ESME_ROK
                if system_id != self.system_id:
                    status = ESME_RBINDFAIL
                elif password != self.password:
                    status = ESME_RINVPASWD
                self.binds.append(BindAttempt(system_id, status == ESME_ROK, status))
                self._pulse()
                if status != ESME_ROK:
                    writer.write(struct.pack("!IIII", 16, command_id | 0x80000000, status, seq))
                    await writer.drain()
                    return
            b_reader, b_writer = await asyncio.open_connection(self.host, self._backend_port)
            conn.writers.append(b_writer)
            b_writer.write(header + body)
            await asyncio.gather(self._pipe(reader, b_writer), self._pipe(b_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            for w in conn.writers:
                w.close()
            if conn in self._conns:
                self._conns.remove(conn)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.write_eof()

    # the smpp34 side

    async def _serve(self) -> None:
        assert self._server is not None
        while True:
            ev = await self._server.next()
            if isinstance(ev, smpp34.Esme):
                self.sessions[ev.session_id] = ev
            elif isinstance(ev, smpp34.SubmitSmEvent):
                self._submit(ev)
            elif isinstance(ev, smpp34.Unbound):
                self.sessions.pop(ev.session_id, None)
            self._pulse()

    def _submit(self, ev: smpp34.SubmitSmEvent) -> None:
        concat, payload = gsm.split_udh(ev.short_message, ev.esm_class)
        status = self.reject.get(ev.destination_addr.lstrip("+"), ESME_ROK)
        message_id = None
        if status == ESME_ROK:
            message_id = f"{self.smsc_id[:4]}{next(self._ids):06d}"
            ev.accept(message_id)
        else:
            ev.reject(status)
        sub = Submit(
            session_id=ev.session_id,
            source=ev.source_addr,
            source_ton=ev.source_addr_ton,
            source_npi=ev.source_addr_npi,
            destination=ev.destination_addr,
            dest_ton=ev.dest_addr_ton,
            dest_npi=ev.dest_addr_npi,
            esm_class=ev.esm_class,
            data_coding=ev.data_coding,
            registered_delivery=ev.registered_delivery,
            short_message=ev.short_message,
            udh=concat,
            text=gsm.decode(payload, ev.data_coding),
            message_id=message_id,
            status=status,
        )
        self.submits.append(sub)
        if message_id is not None and ev.registered_delivery & 1 and self.receipt_style != "none":
            task = asyncio.create_task(self._receipt(sub))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _receipt(self, sub: Submit) -> None:
        assert sub.message_id is not None
        esme = self.sessions.get(sub.session_id)
        failed = sub.destination.lstrip("+") in self.undeliverable
        stat, err, state = ("UNDELIV", "001", 5) if failed else ("DELIVRD", "000", 2)
        receipt = Receipt(sub.message_id, stat, sub.source)
        self.receipts.append(receipt)
        if esme is None:
            return
        now = time.strftime("%y%m%d%H%M", time.gmtime())
        text_id = sub.message_id
        tlvs: list[smpp34.Tlv] = []
        if self.receipt_style == "tlv":
            text_id = "X" + sub.message_id  # the TLV must win
            tlvs = [
                smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, sub.message_id.encode() + b"\0"),
                smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes([state])),
            ]
        body = (
            f"id:{text_id} sub:001 dlvrd:{'000' if failed else '001'} submit date:{now} "
            f"done date:{now} stat:{stat} err:{err} text:{sub.text[:20]}"
        ).encode("ascii", "replace")
        try:
            resp = await asyncio.wait_for(
                esme.deliver_sm(
                    sub.source,
                    body,
                    source_addr=sub.destination,
                    source_addr_ton=sub.dest_ton,
                    source_addr_npi=sub.dest_npi,
                    dest_addr_ton=sub.source_ton,
                    dest_addr_npi=sub.source_npi,
                    esm_class=0x04,
                    tlvs=tlvs,
                ),
                10,
            )
            receipt.status = int(resp.command_status)
        except (TimeoutError, smpp34.SmppError):
            receipt.status = None
        self._pulse()
