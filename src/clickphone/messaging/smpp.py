"""The link to one carrier's SMSC over SMPP 3.4: bind, submit SMS, take MO messages and
delivery receipts.

Built on aiosmpplib's ``ESME``, which owns the TCP connection, the transceiver bind, the
sequence numbers, ``enquire_link`` keep-alives, the ``submit_sm`` PDU and the reconnect
loop (paced by :class:`_Backoff`: 1 s doubling to 30 s, for ever). Nothing of aiosmpplib
leaves this module; callers see :class:`SmppLink` and the small dataclasses below.

Outbound, :meth:`SmppLink.submit` encodes with :mod:`clickphone.messaging.gsm` (GSM 7-bit or
UCS-2, UDH concatenation) and sends one ``submit_sm`` per part, pre-encoded, asking for a
receipt on every part; it waits for each ``submit_sm_resp`` and returns the SMSC's message
ids, or raises :class:`SmsRejected` (non-zero status) / :class:`SmsUnavailable` (not bound,
timed out, connection lost). A part that timed out is never sent late: the broker drops it
and the ``sending`` hook refuses it.

Inbound, every ``deliver_sm`` is read from its raw PDU here (see :class:`_Esme` for why
aiosmpplib's own parsing is bypassed). A delivery receipt (esm_class message type 0x04)
becomes a :class:`DeliveryReceipt`; anything else is an MO message, reassembled from its
UDH parts (keyed by source and reference, kept 10 minutes) and handed over once as an
:class:`InboundSms`. The ``deliver_sm_resp`` goes out only after the callback returned: OK
on success, ``ESME_RX_T_APPN`` (temporary, the SMSC retries) when it raised, so nothing is
lost. A bind the SMSC refuses leaves :attr:`SmppLink.bound` False and logs a warning with
the SMPP status name; the password is never logged.

aiosmpplib 0.7 needs a few narrow overrides (all in :class:`_Esme`), each for a defect that
would lose or loop messages with real carriers (or leak sockets):

* its ``deliver_sm`` handling always answers ``ESME_ROK`` (or drops the connection when a
  hook raises), reads a 16-bit concatenation reference (IEI 0x08) as 32 bits so such
  parts never join, and raises out of the receive loop on a receipt whose dates carry
  seconds (``YYMMDDhhmmss``), which reconnects and gets the same receipt again;
* it cannot parse a PDU header with a vendor-specific ``command_status`` (0x400-0x4FF),
  which would turn a plain rejection into a reconnect loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import re
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmpplib import (
    ESME,
    NPI,
    TON,
    AbstractBroker,
    AbstractHook,
    AbstractRetryTimer,
    DeliverSmResp,
    GenericNack,
    PhoneNumber,
    SmppCommand,
    SmppCommandStatus,
    SmppMessage,
    SubmitSm,
    SubmitSmResp,
)
from aiosmpplib.correlator import SimpleCorrelator

from clickphone.logging import get_logger
from clickphone.messaging import gsm

__all__ = [
    "DeliveryReceipt",
    "InboundSms",
    "SmppAccount",
    "SmppLink",
    "SmsRejected",
    "SmsUnavailable",
    "SubmitResult",
    "parse_receipt",
]

log = get_logger(__name__)

ESME_ROK = 0x00
ESME_RSYSERR = 0x08
ESME_RX_T_APPN = 0x64  # temporary application error: the SMSC will retry
ESME_RX_P_APPN = 0x65  # permanent application error: retrying cannot help
ESME_RUNKNOWNERR = 0xFF

TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_NETWORK_ERROR_CODE = 0x0423
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_MESSAGE_STATE = 0x0427

MULTIPART_TTL = 600.0  # seconds an incomplete MO text waits for its other parts
CALLBACK_TIMEOUT = 30.0  # an inbound callback slower than this is answered "retry later"
BACKOFF_MIN = 1.0
BACKOFF_MAX = 30.0

# ── public API ─────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class SmppAccount:
    host: str
    port: int
    system_id: str
    password: str = field(default="", repr=False)
    system_type: str = ""
    source_ton: int = 1  # our DIDs go out as international numbers
    source_npi: int = 1
    dest_ton: int = 1
    dest_npi: int = 1
    enquire_link_seconds: float = 30.0
    submit_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class SubmitResult:
    provider_ids: list[str]
    parts: int
    data_coding: int


@dataclass(frozen=True, slots=True)
class InboundSms:
    source: str  # E.164 with '+' when the SMSC said TON=1 (international)
    destination: str
    text: str


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    provider_id: str
    state: str  # delivered | failed | expired | rejected | unknown | accepted
    error: str
    raw: str


class SmsRejected(Exception):
    """The SMSC refused a part (``submit_sm_resp`` status != 0). ``accepted_ids`` holds
    the ids of the parts it took before that (usually none)."""

    def __init__(self, status: int, name: str = "", accepted_ids: list[str] | None = None):
        self.status = status
        self.name = name or _status_name(status)
        self.accepted_ids = accepted_ids or []
        super().__init__(f"SMSC rejected the message: {self.name} (0x{status:08X})")


class SmsUnavailable(Exception):
    """The message did not reach the SMSC: not bound, no answer in time, connection lost."""


InboundCallback = Callable[[InboundSms], Awaitable[None]]
ReceiptCallback = Callable[[DeliveryReceipt], Awaitable[None]]


def _status_name(status: int) -> str:
    try:
        return str(SmppCommandStatus(status).name)
    except ValueError:
        if 0x400 <= status <= 0x4FF:
            return f"vendor 0x{status:X}"
        return f"0x{status:X}"


# ── delivery receipts ──────────────────────────────────────────────────────────────────

_STAT_STATE = {
    "DELIVRD": "delivered",
    "UNDELIV": "failed",
    "DELETED": "failed",
    "EXPIRED": "expired",
    "REJECTD": "rejected",
    "ACCEPTD": "accepted",
    "ENROUTE": "accepted",
}
_MESSAGE_STATE = {
    1: "accepted",  # ENROUTE
    2: "delivered",
    3: "expired",
    4: "failed",  # DELETED
    5: "failed",  # UNDELIVERABLE
    6: "accepted",
    7: "unknown",
    8: "rejected",
}
_RECEIPT_FIELD = re.compile(r"\b(id|stat|err):(\S*)", re.IGNORECASE)


def parse_receipt(text: str, tlvs: dict[int, bytes]) -> DeliveryReceipt | None:
    """A receipt from its text (``id:... stat:DELIVRD err:000 ...``) and TLVs; the
    ``receipted_message_id`` and ``message_state`` TLVs win over the text. None when it
    names no message id."""
    fields: dict[str, str] = {}
    for key, value in _RECEIPT_FIELD.findall(text):
        fields.setdefault(key.lower(), value)
    provider_id = fields.get("id", "")
    if TLV_RECEIPTED_MESSAGE_ID in tlvs:
        tlv_id = tlvs[TLV_RECEIPTED_MESSAGE_ID].split(b"\0", 1)[0].decode("latin-1").strip()
        provider_id = tlv_id or provider_id
    if not provider_id:
        return None
    state = _STAT_STATE.get(fields.get("stat", "").upper(), "unknown")
    state_tlv = tlvs.get(TLV_MESSAGE_STATE)
    if state_tlv:
        state = _MESSAGE_STATE.get(state_tlv[0], state)
    error = fields.get("err", "")
    if not error and len(tlvs.get(TLV_NETWORK_ERROR_CODE, b"")) == 3:
        net = tlvs[TLV_NETWORK_ERROR_CODE]
        error = f"{net[0]}:{int.from_bytes(net[1:3], 'big')}"
    return DeliveryReceipt(provider_id=provider_id, state=state, error=error, raw=text)


# ── raw deliver_sm ────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class _Deliver:
    source: str
    source_ton: int
    destination: str
    dest_ton: int
    esm_class: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]

    @property
    def is_receipt(self) -> bool:
        # message type bits 2-5: 0001 SMSC delivery receipt, 1000 intermediate notification
        return self.esm_class & 0x3C in (0x04, 0x20)


def _parse_deliver_sm(pdu: bytes) -> _Deliver:
    """The fields of a ``deliver_sm`` we need, from the whole PDU (header included).
    Raises ValueError when it is malformed."""
    pos = 16

    def cstr() -> str:
        nonlocal pos
        end = pdu.index(b"\0", pos)
        value = pdu[pos:end].decode("latin-1")
        pos = end + 1
        return value

    try:
        cstr()  # service_type
        src_ton = pdu[pos]
        pos += 2
        source = cstr()
        dst_ton = pdu[pos]
        pos += 2
        destination = cstr()
        esm_class = pdu[pos]
        pos += 3  # esm_class, protocol_id, priority_flag
        cstr()  # schedule_delivery_time
        cstr()  # validity_period
        data_coding = pdu[pos + 2]
        sm_length = pdu[pos + 4]
        pos += 5  # registered_delivery, replace_if_present, data_coding, default_msg_id, length
        short_message = pdu[pos : pos + sm_length]
        if len(short_message) != sm_length:
            raise ValueError("short_message runs past the PDU")
        pos += sm_length
        tlvs: dict[int, bytes] = {}
        while pos + 4 <= len(pdu):
            tag, length = struct.unpack_from("!HH", pdu, pos)
            tlvs[tag] = pdu[pos + 4 : pos + 4 + length]
            pos += 4 + length
    except (IndexError, struct.error) as exc:
        raise ValueError(f"malformed deliver_sm: {exc}") from None
    if not short_message and TLV_MESSAGE_PAYLOAD in tlvs:
        short_message = tlvs[TLV_MESSAGE_PAYLOAD]
    return _Deliver(
        source, src_ton, destination, dst_ton, esm_class, data_coding, short_message, tlvs
    )


def _e164(address: str, ton: int) -> str:
    if ton == 1 and address and not address.startswith("+"):
        return "+" + address
    return address


@dataclass
class _Partial:
    first_seen: float
    total: int
    data_coding: int
    parts: dict[int, bytes] = field(default_factory=dict)


# ── aiosmpplib adapters ───────────────────────────────────────────────────────────────


@dataclass
class _RawDeliverSm(SmppMessage):  # type: ignore[misc]
    """Stands for a ``deliver_sm`` in aiosmpplib's receive loop; the hook reads the PDU."""

    @property
    def smpp_command(self) -> SmppCommand:
        return SmppCommand.DELIVER_SM


class _Esme(ESME):  # type: ignore[misc]
    """aiosmpplib's ESME with these overrides (see the module docstring):

    * ``_handle_request``: a ``deliver_sm`` is not parsed by the library but passed to the
      hook as :class:`_RawDeliverSm` with its PDU, so the link decodes it with ``gsm``;
    * ``_send_data``: the ``deliver_sm_resp`` the library then sends carries the status
      the link chose (OK, or retry later when the callback failed);
    * ``_get_pdu``: a header status aiosmpplib has no enum member for (vendor codes) is
      read as ``ESME_RUNKNOWNERR`` and the real value kept for the link;
    * ``connect`` / ``_disconnect``: the old connection's writer is closed (the library
      only drops it, which leaks the socket until garbage collection).
    """

    _reader: asyncio.StreamReader | None
    _writer: asyncio.StreamWriter | None

    def __init__(self, link: SmppLink, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._link = link

    async def connect(self) -> None:
        if self._session_state != self.bind_mode.session_state:
            self._close_writer()  # the library drops a failed session's writer unclosed
        await super().connect()

    async def _disconnect(self) -> None:
        writer: asyncio.StreamWriter | None = self._writer
        await super()._disconnect()
        if writer is not None:
            writer.close()

    def _close_writer(self) -> None:
        writer: asyncio.StreamWriter | None = self._writer
        self._writer = None
        if writer is not None:
            writer.close()

    async def _handle_request(self, pdu: bytes, header: Any) -> Any:
        if header.smpp_command == SmppCommand.DELIVER_SM:
            return _RawDeliverSm(sequence_num=header.sequence_num)
        return await super()._handle_request(pdu, header)

    async def _send_data(self, smpp_message: Any) -> None:
        if isinstance(smpp_message, DeliverSmResp):
            status = self._link._deliver_status.pop(smpp_message.sequence_num, ESME_ROK)
            smpp_message.command_status = SmppCommandStatus(status)
        await super()._send_data(smpp_message)

    async def _get_pdu(self) -> tuple[bytes, Any]:
        reader = self._reader
        assert reader is not None
        header_data: bytes = await reader.readexactly(16)
        length, _command, status, seq = struct.unpack("!IIII", header_data)
        if status not in _KNOWN_STATUSES:
            self._link._vendor_status[seq] = status
            header_data = header_data[:8] + struct.pack("!I", ESME_RUNKNOWNERR) + header_data[12:]
        header = SmppMessage.parse_header(header_data)
        if length < 16:
            raise ValueError(f"PDU length {length} is shorter than its header")
        body: bytes = await reader.readexactly(length - 16)
        return header_data + body, header


_KNOWN_STATUSES = frozenset(int(s) for s in SmppCommandStatus)


class _Broker(AbstractBroker):  # type: ignore[misc]
    """The queue aiosmpplib's sender drains; a part whose caller gave up is skipped."""

    def __init__(self, link: SmppLink) -> None:
        self._link = link
        self._queue: asyncio.Queue[SubmitSm] = asyncio.Queue()

    async def enqueue(self, message: SmppMessage) -> None:
        self._queue.put_nowait(message)

    async def dequeue(self) -> SmppMessage:
        while True:
            message = await self._queue.get()
            if self._link._wanted(message.log_id):
                return message


class _Correlator(SimpleCorrelator):  # type: ignore[misc]
    """Request/response correlation only: receipts are matched by the messaging service
    from the provider ids, so nothing is kept per submitted message for days."""

    async def put_delivery(self, smsc_message_id: str, submit_sm: SubmitSm) -> None:
        return None


class _Hook(AbstractHook):  # type: ignore[misc]
    def __init__(self, link: SmppLink) -> None:
        self._link = link

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        if isinstance(smpp_message, SubmitSm):
            if not self._link._wanted(smpp_message.log_id):
                # its caller timed out while we were reconnecting: never send it late
                raise ValueError("submit_sm abandoned by its caller")
            self._link._seq_key[smpp_message.sequence_num] = smpp_message.log_id

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        try:
            await self._link._received(smpp_message, pdu)
        except Exception:
            # an exception here would tear the connection down; the link logs and goes on
            log.exception("smpp.hook_failed", link=self._link.name)

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        if isinstance(smpp_message, SubmitSm):
            self._link._resolve(smpp_message.log_id, exc=SmsUnavailable(f"not sent: {error!r}"))


class _Backoff(AbstractRetryTimer):  # type: ignore[misc]
    """1 s doubling to 30 s between connection attempts; called after every session or
    failed attempt, which is also where the link learns the session is gone."""

    def __init__(self, link: SmppLink) -> None:
        self._link = link
        self._delay = BACKOFF_MIN

    async def wait(self) -> None:
        self._link._disconnected()
        delay = self._delay
        self._delay = min(self._delay * 2, BACKOFF_MAX)
        log.info("smpp.reconnect_in", link=self._link.name, seconds=delay)
        await asyncio.sleep(delay)

    def reset(self) -> None:
        self._delay = BACKOFF_MIN

    def next_delay(self) -> float:
        return self._delay


class _LibraryLog(logging.Handler):
    """aiosmpplib logs through its own logger; its warnings and errors come out in ours."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.WARNING)
        self._name = name

    def emit(self, record: logging.LogRecord) -> None:
        log.log(record.levelno, "smpp.library", link=self._name, detail=record.getMessage())


# ── the link ──────────────────────────────────────────────────────────────────────────


class SmppLink:
    """One transceiver session to one SMSC, kept up in the background."""

    def __init__(
        self,
        account: SmppAccount,
        *,
        name: str,
        on_inbound: InboundCallback,
        on_receipt: ReceiptCallback,
    ) -> None:
        if len(account.system_id) > 15:
            raise ValueError("SMPP system_id is longer than 15 characters")
        if len(account.password) > 8:
            raise ValueError("SMPP password is longer than 8 characters (SMPP 3.4 limit)")
        if len(account.system_type) > 12:
            raise ValueError("SMPP system_type is longer than 12 characters")
        self.account = account
        self.name = name
        self._on_inbound = on_inbound
        self._on_receipt = on_receipt
        self._source_ton, self._source_npi = TON(account.source_ton), NPI(account.source_npi)
        self._dest_ton, self._dest_npi = TON(account.dest_ton), NPI(account.dest_npi)
        self._esme = _Esme(
            self,
            smsc_host=account.host,
            smsc_port=account.port,
            system_id=account.system_id,
            password=account.password,
            system_type=account.system_type,
            client_id=name,
            enquire_link_interval=float(account.enquire_link_seconds),
            log_level=logging.WARNING,
            log_metadata={"link": name},
            log_handler=_LibraryLog(name),
            log_include_timestamp=False,
            hook=_Hook(self),
            broker=_Broker(self),
            correlator=_Correlator(name, max_ttl_response=max(float(account.submit_timeout), 1.0)),
            retry_timer=_Backoff(self),
            socket_timeout=max(float(account.submit_timeout), 1.0),
        )
        self._task: asyncio.Task[None] | None = None
        self._bound = asyncio.Event()
        self._keys = itertools.count(1)
        self._reference = itertools.count(random.randrange(256))  # UDH reference, mod 256
        self._pending: dict[str, asyncio.Future[tuple[int, str]]] = {}
        self._seq_key: dict[int, str] = {}
        self._deliver_status: dict[int, int] = {}
        self._vendor_status: dict[int, int] = {}
        self._partials: dict[tuple[str, int, int], _Partial] = {}

    # lifecycle

    async def start(self) -> None:
        if self._task is not None:
            return
        self._esme._is_shutting_down = False
        self._task = asyncio.create_task(self._esme.start(), name=f"smpp:{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        with contextlib.suppress(TimeoutError, OSError):
            await asyncio.wait_for(self._esme.stop(), timeout=2.0)  # unbind when bound
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        self._esme._close_writer()
        self._disconnected()

    @property
    def bound(self) -> bool:
        return self._bound.is_set()

    async def wait_bound(self, timeout: float) -> bool:  # noqa: ASYNC109 (the API's shape)
        try:
            await asyncio.wait_for(self._bound.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # outbound

    async def submit(self, source: str, destination: str, text: str) -> SubmitResult:
        if not self.bound:
            raise SmsUnavailable(f"SMPP link {self.name} is not bound")
        if not text:
            raise ValueError("an SMS needs some text")
        encoded = gsm.segments(text, next(self._reference) & 0xFF)
        src = self._address(source, self._source_ton, self._source_npi)
        dst = self._address(destination, self._dest_ton, self._dest_npi)
        ids: list[str] = []
        for part in encoded.parts:
            status, message_id = await self._submit_part(src, dst, part, encoded)
            if status != ESME_ROK:
                raise SmsRejected(status, accepted_ids=ids)
            ids.append(message_id)
        return SubmitResult(provider_ids=ids, parts=len(ids), data_coding=encoded.data_coding)

    @staticmethod
    def _address(number: str, ton: TON, npi: NPI) -> PhoneNumber:
        number = number.strip().removeprefix("+")
        if not number.isdigit():  # an alphanumeric sender name
            return PhoneNumber(number, TON.ALPHANUMERIC, NPI.UNKNOWN)
        return PhoneNumber(number, ton, npi)

    async def _submit_part(
        self, src: PhoneNumber, dst: PhoneNumber, part: bytes, encoded: gsm.Encoded
    ) -> tuple[int, str]:
        key = f"{self.name}:{next(self._keys)}"
        message = SubmitSm(
            short_message="(pre-encoded)",  # the library needs a text; the bytes below go out
            source=src,
            destination=dst,
            esm_class=0x40 if encoded.multipart else 0x00,
            registered_delivery=0x01,
            encoding="ucs2" if encoded.data_coding == gsm.DC_UCS2 else None,
            auto_message_payload=True,  # never let the library split or re-encode
            log_id=key,
        )
        message.set_encoded_message(part)
        future: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            await self._esme.broker.enqueue(message)
            return await asyncio.wait_for(future, self.account.submit_timeout)
        except TimeoutError:
            raise SmsUnavailable(
                f"no submit_sm_resp from {self.name} in {self.account.submit_timeout:g} s"
            ) from None
        finally:
            self._pending.pop(key, None)

    def _wanted(self, key: str) -> bool:
        future = self._pending.get(key)
        return future is not None and not future.done()

    def _resolve(
        self, key: str, result: tuple[int, str] | None = None, exc: Exception | None = None
    ) -> None:
        future = self._pending.get(key)
        if future is None or future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            assert result is not None
            future.set_result(result)

    def _disconnected(self) -> None:
        if self._bound.is_set():
            log.warning("smpp.unbound", link=self.name, host=self.account.host)
        self._bound.clear()
        self._seq_key.clear()
        self._deliver_status.clear()
        self._vendor_status.clear()
        for key in list(self._pending):
            self._resolve(key, exc=SmsUnavailable(f"SMPP link {self.name} lost its connection"))

    # inbound

    async def _received(self, message: SmppMessage | None, pdu: bytes) -> None:
        command_id, status, seq = struct.unpack_from("!4xIII", pdu) if len(pdu) >= 16 else (0, 0, 0)
        if command_id == SmppCommand.BIND_TRANSCEIVER_RESP:
            # from the raw header: a refusal often has no body, which the library can't parse
            status = self._vendor_status.pop(seq, status)
            if status == ESME_ROK:
                self._esme.retry_timer.reset()
                self._bound.set()
                log.info("smpp.bound", link=self.name, host=self.account.host)
            else:
                log.warning(
                    "smpp.bind_failed",
                    link=self.name,
                    host=self.account.host,
                    system_id=self.account.system_id,
                    status=_status_name(status),
                )
        elif isinstance(message, SubmitSmResp | GenericNack) and not isinstance(
            message, DeliverSmResp
        ):
            key = self._seq_key.pop(message.sequence_num, None)
            if key is None:
                return
            status = int(message.command_status)
            if isinstance(message, GenericNack) and status == ESME_ROK:
                status = ESME_RSYSERR
            status = self._vendor_status.pop(message.sequence_num, status)
            message_id = getattr(message, "message_id", "") or ""
            self._resolve(key, (status, message_id))
        elif isinstance(message, _RawDeliverSm):
            self._deliver_status[message.sequence_num] = await self._deliver(pdu)

    async def _deliver(self, pdu: bytes) -> int:
        """Handle one deliver_sm; the status for its deliver_sm_resp."""
        try:
            deliver = _parse_deliver_sm(pdu)
        except ValueError as exc:
            log.warning("smpp.bad_deliver_sm", link=self.name, error=str(exc))
            return ESME_RX_P_APPN
        if deliver.is_receipt:
            coding = gsm.DC_UCS2 if deliver.data_coding == gsm.DC_UCS2 else gsm.DC_LATIN1
            text = gsm.decode(deliver.short_message, coding)
            receipt = parse_receipt(text, deliver.tlvs)
            if receipt is None:
                log.warning("smpp.receipt_without_id", link=self.name, raw=text[:200])
                return ESME_ROK
            return await self._call(self._on_receipt(receipt), "receipt")
        return await self._mo(deliver)

    async def _mo(self, deliver: _Deliver) -> int:
        concat, payload = gsm.split_udh(deliver.short_message, deliver.esm_class)
        source = _e164(deliver.source, deliver.source_ton)
        destination = _e164(deliver.destination, deliver.dest_ton)
        if concat is None or concat.total == 1:
            text = gsm.decode(payload, deliver.data_coding)
            return await self._call(self._on_inbound(InboundSms(source, destination, text)), "mo")
        now = time.monotonic()
        for k in [k for k, p in self._partials.items() if now - p.first_seen > MULTIPART_TTL]:
            log.warning("smpp.mo_parts_expired", link=self.name, parts=len(self._partials[k].parts))
            del self._partials[k]
        key = (source, concat.reference, concat.total)
        partial = self._partials.setdefault(key, _Partial(now, concat.total, deliver.data_coding))
        partial.parts[concat.seq] = payload
        if len(partial.parts) < partial.total:
            return ESME_ROK
        joined = b"".join(partial.parts[i] for i in range(1, partial.total + 1))
        text = gsm.decode(joined, partial.data_coding)
        status = await self._call(self._on_inbound(InboundSms(source, destination, text)), "mo")
        if status == ESME_ROK:
            # kept until the callback took it: a retried last part completes it again
            self._partials.pop(key, None)
        return status

    async def _call(self, callback: Awaitable[None], kind: str) -> int:
        try:
            await asyncio.wait_for(callback, CALLBACK_TIMEOUT)
        except Exception:
            log.exception("smpp.callback_failed", link=self.name, kind=kind)
            return ESME_RX_T_APPN
        return ESME_ROK
