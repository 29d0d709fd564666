"""Sans-I/O SIP transaction layer (RFC 3261 §17, RFC 6026), time passed in.

One :class:`TransactionLayer` serves one SIP endpoint. Nothing here touches a socket or a
clock: the I/O adapter

* feeds every parsed message with :meth:`TransactionLayer.receive` (``msg, peer, now``) and
  acts on the returned events;
* sends what :meth:`TransactionLayer.datagrams_to_send` returns (serialized messages, with
  the retransmissions, each with its destination :class:`Peer`);
* sleeps until :meth:`TransactionLayer.next_timer` and then calls
  :meth:`TransactionLayer.handle_timer`;
* reports a broken connection with :meth:`TransactionLayer.transport_error`.

The transaction user (UA core, registrar, B2BUA) creates client transactions with
:meth:`TransactionLayer.send_request` and answers server transactions with
:meth:`TransactionLayer.send_response`. The layer adds nothing to requests: the caller puts
the top Via with a branch from :func:`new_branch`. ACKs for non-2xx final responses are
generated here (§17.1.1.3); ACKs for 2xx are the UAC core's (see ``dialog.py``) and go out
with :meth:`TransactionLayer.send_stateless`. For 2xx to INVITE the layer also runs the UAS
core's 2xx retransmission (§13.3.1.4) until the ACK arrives, or reports :class:`AckTimeout`.

Responses from a server transaction go back to the peer the request came from (symmetric
response routing, as with ``rport``); the transport adapter may apply §18.2.2 instead.
Malformed messages (no Via, no CSeq, ...) raise :class:`~clickphone.sip.errors.SipPeerError`
from ``receive``; the adapter answers 400 to a request and drops a response.
"""

from __future__ import annotations

import heapq
import logging
import secrets
from dataclasses import dataclass
from typing import NamedTuple

from clickphone.sip.errors import SipLocalError
from clickphone.sip.message import SipRequest, SipResponse, make_response
from clickphone.sip.state import (
    INITIAL_STATE,
    TxEvent,
    TxRole,
    TxState,
    allowed,
    response_event,
    transition,
)

logger = logging.getLogger(__name__)

MAGIC_COOKIE = "z9hG4bK"
_SKELETON_HEADERS = frozenset({"Via", "From", "To", "Call-ID", "CSeq"})
RELIABLE_TRANSPORTS = frozenset({"TCP", "TLS", "WS", "WSS", "SCTP", "TLS-SCTP"})


class Peer(NamedTuple):
    """The other end of a hop: transport name (UDP, TCP, TLS, WS, WSS), host and port."""

    transport: str
    host: str
    port: int

    @property
    def reliable(self) -> bool:
        return self.transport.upper() in RELIABLE_TRANSPORTS


@dataclass(frozen=True)
class Timers:
    """RFC 3261 timer base values in seconds (§17.1.1.1, Table 4)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    @property
    def timeout(self) -> float:
        """Timers B, F, H, J (unreliable), L and M, and the 2xx ACK wait: 64*T1."""
        return 64 * self.t1


def new_branch() -> str:
    """A fresh RFC 3261 branch: the magic cookie plus a random token."""
    return MAGIC_COOKIE + secrets.token_hex(10)


# -- transactions ----------------------------------------------------------------------------


class _TimerOwner:
    """Something with named timers in the layer's heap (a transaction or a retransmitter)."""

    # Slots throughout: thousands of transactions wait in their timers at any time.
    __slots__ = ("_timers",)

    def __init__(self) -> None:
        # name -> (deadline, heap sequence number); an entry in the heap is live only if its
        # sequence number is still the one recorded here.
        self._timers: dict[str, tuple[float, int]] = {}

    def timer(self, name: str) -> float | None:
        """The deadline of timer ``name`` ("A", "B", ...) or None if it is not running."""
        entry = self._timers.get(name)
        return None if entry is None else entry[0]


class Transaction(_TimerOwner):
    """State common to the four transaction kinds. Read the attributes, don't set them."""

    __slots__ = ("_interval", "key", "last_response", "peer", "request", "role", "state")
    role: TxRole

    def __init__(self, request: SipRequest, peer: Peer, key: tuple[str, ...]) -> None:
        super().__init__()
        self.request = request
        self.peer = peer
        self.key = key
        self.state: TxState = INITIAL_STATE[self.role]
        self.last_response: SipResponse | None = None
        self._interval = 0.0

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def branch(self) -> str | None:
        return self.request.top_via.branch

    @property
    def call_id(self) -> str:
        return self.request.call_id

    @property
    def terminated(self) -> bool:
        return self.state is TxState.TERMINATED

    def _apply(self, event: TxEvent) -> TxState:
        old = self.state
        self.state = transition(self.role, old, event)
        if logger.isEnabledFor(logging.DEBUG) and old is not self.state:
            logger.debug(
                "- %s %s tx %s: %s -> %s on %s",
                self.call_id,
                self.role,
                self.method,
                old,
                self.state,
                event,
            )
        return self.state

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.role} {self.method} {self.state} {self.key}>"


class ClientTransaction(Transaction):
    """A request we sent and its responses (§17.1)."""

    __slots__ = ("_ack_bytes", "_request_bytes", "ack")

    def __init__(self, request: SipRequest, peer: Peer, key: tuple[str, ...]) -> None:
        self.role = TxRole.INVITE_CLIENT if request.method == "INVITE" else TxRole.NON_INVITE_CLIENT
        super().__init__(request, peer, key)
        self._request_bytes = request.to_bytes()
        self.ack: SipRequest | None = None  # the ACK we generated for a non-2xx final
        self._ack_bytes = b""

    def timeout_response(self, status: int = 408) -> SipResponse:
        """The response the TU acts on after :class:`TransactionTimeout` (408, §8.1.3.1) or
        :class:`TransportFailure` (use 503)."""
        return make_response(self.request, status)


class ServerTransaction(Transaction):
    """A request we received and the responses the TU sends for it (§17.2)."""

    __slots__ = ("_response_bytes",)

    def __init__(self, request: SipRequest, peer: Peer, key: tuple[str, ...]) -> None:
        self.role = TxRole.INVITE_SERVER if request.method == "INVITE" else TxRole.NON_INVITE_SERVER
        super().__init__(request, peer, key)
        self._response_bytes = b""

    def _release(self) -> None:
        """Completed non-INVITE (waiting in Timer J): only the key, the peer and the response
        bytes matter now (retransmitted requests get the bytes again). Keep a skeleton of the
        request (method, Request-URI and the headers a response copies) and drop the rest:
        thousands of REGISTERs wait here at any time."""
        request = self.request
        keep = [header for header in request.headers if header[0] in _SKELETON_HEADERS]
        self.request = SipRequest(request.method, request.uri, keep, canonical=True)
        self.last_response = None


class Uas2xxRetransmitter(_TimerOwner):
    """The UAS core's 2xx-to-INVITE retransmission until the ACK (§13.3.1.4).

    Retransmits at T1, 2*T1, ... capped at T2 and gives up after 64*T1 with
    :class:`AckTimeout`. Owned and driven by the :class:`TransactionLayer`.
    """

    __slots__ = ("_bytes", "_interval", "key", "peer", "response", "stopped", "tx")

    def __init__(
        self, tx: ServerTransaction, response: SipResponse, key: tuple[str, int, str, str]
    ) -> None:
        super().__init__()
        self.tx = tx
        self.response = response
        self.key = key
        self.peer = tx.peer
        self._bytes = response.to_bytes()
        self._interval = 0.0
        self.stopped = False


# -- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RequestReceived:
    """A new request (not ACK, not CANCEL): answer it with ``send_response(tx, ...)``."""

    tx: ServerTransaction
    request: SipRequest
    peer: Peer


@dataclass(frozen=True, eq=False)
class CancelReceived:
    """A CANCEL; ``invite_tx`` is the INVITE server transaction it targets, if any.

    :meth:`TransactionLayer.answer_cancel` does the usual thing (200 to the CANCEL, 487 to
    the INVITE, or 481 when nothing matches).
    """

    cancel_tx: ServerTransaction
    invite_tx: ServerTransaction | None
    request: SipRequest
    peer: Peer


@dataclass(frozen=True, eq=False)
class AckReceived:
    """An ACK for a 2xx (it belongs to the dialog layer, not to a transaction).

    ``stopped_retransmission`` is True when it ended our 2xx retransmission, i.e. it is the
    first ACK for a 2xx this layer sent; False for a repeated or unknown ACK.
    """

    request: SipRequest
    peer: Peer
    stopped_retransmission: bool


@dataclass(frozen=True, eq=False)
class ResponseReceived:
    """A response for a client transaction (retransmissions are absorbed)."""

    tx: ClientTransaction
    response: SipResponse


@dataclass(frozen=True, eq=False)
class StrayResponse:
    """A response that no live transaction wants.

    For a 2xx to INVITE, ``tx`` is the INVITE client transaction in the RFC 6026 Accepted
    state when there is one (a retransmitted 2xx, or one from another fork), else None. The
    UAC core re-sends its ACK (or ACKs and BYEs an unwanted fork).
    """

    response: SipResponse
    peer: Peer
    tx: ClientTransaction | None


@dataclass(frozen=True, eq=False)
class TransactionTimeout:
    """Timer B/F (client: the TU treats it as a 408) or Timer H (server: no ACK came)."""

    tx: Transaction


@dataclass(frozen=True, eq=False)
class TransportFailure:
    """The transport reported an error for this transaction's peer (§17.1.4, §17.2.4)."""

    tx: Transaction


@dataclass(frozen=True, eq=False)
class AckTimeout:
    """No ACK for our 2xx to INVITE within 64*T1 (§13.3.1.4): the UAS should send BYE."""

    tx: ServerTransaction
    response: SipResponse


Event = (
    RequestReceived
    | CancelReceived
    | AckReceived
    | ResponseReceived
    | StrayResponse
    | TransactionTimeout
    | TransportFailure
    | AckTimeout
)


# -- helpers ---------------------------------------------------------------------------------


def make_ack_for_non2xx(invite: SipRequest, response: SipResponse) -> SipRequest:
    """The ACK a client INVITE transaction sends for a 300-699 response (§17.1.1.3).

    Same Request-URI, Call-ID, From and CSeq number as the INVITE; To from the response (with
    its tag); only the INVITE's top Via (so the same branch); the INVITE's Route headers.
    """
    cseq_num, _ = invite.cseq
    headers: list[tuple[str, str]] = [("Via", str(invite.top_via))]
    for name, value in invite.headers:
        if name == "Route":
            headers.append((name, value))
    headers += [
        ("Max-Forwards", "70"),
        ("From", invite.get("From") or ""),
        ("To", response.get("To") or invite.get("To") or ""),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{cseq_num} ACK"),
    ]
    return SipRequest("ACK", invite.uri, headers)


def _server_key(request: SipRequest) -> tuple[str, ...]:
    """Server transaction key (§17.2.3); ACK maps to its INVITE, CANCEL keeps its own."""
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        return ("3261", branch, via.sent_by.lower(), method)
    # RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq number and top Via. The To tag
    # is left out: absent on the INVITE, ours on the ACK for a non-2xx.
    cseq_num, _ = request.cseq
    return (
        "2543",
        request.uri,
        request.from_.tag or "",
        request.call_id,
        str(cseq_num),
        str(via).lower(),
        method,
    )


def _retransmit_key(msg: SipRequest | SipResponse) -> tuple[str, int, str, str]:
    """(Call-ID, CSeq number, From tag, To tag): ties an ACK to the 2xx it acknowledges."""
    return (msg.call_id, msg.cseq[0], msg.from_.tag or "", msg.to.tag or "")


# -- the layer -------------------------------------------------------------------------------


class TransactionLayer:
    """All client and server transactions of one SIP endpoint (see the module docstring).

    ``auto_trying``: answer each new INVITE with 100 Trying at once (§17.2.1), which also
    stops the peer's INVITE retransmissions.
    """

    def __init__(self, timers: Timers | None = None, *, auto_trying: bool = True) -> None:
        self.timers = timers or Timers()
        self.auto_trying = auto_trying
        self._client: dict[tuple[str, ...], ClientTransaction] = {}
        self._server: dict[tuple[str, ...], ServerTransaction] = {}
        self._pending_2xx: dict[tuple[str, int, str, str], Uas2xxRetransmitter] = {}
        self._heap: list[tuple[float, int, _TimerOwner, str]] = []
        self._seq = 0
        self._out: list[tuple[bytes, Peer]] = []

    # -- inspection ----------------------------------------------------------------------
    @property
    def transactions(self) -> list[Transaction]:
        """Live transactions (terminated ones are removed at once)."""
        return [*self._client.values(), *self._server.values()]

    @property
    def pending_2xx(self) -> list[Uas2xxRetransmitter]:
        """2xx responses still being retransmitted while waiting for their ACK."""
        return list(self._pending_2xx.values())

    def find_server_transaction(self, request: SipRequest) -> ServerTransaction | None:
        return self._server.get(_server_key(request))

    # -- output --------------------------------------------------------------------------
    def datagrams_to_send(self) -> list[tuple[bytes, Peer]]:
        """Messages to transmit, in order; the list is handed over and the queue emptied."""
        out, self._out = self._out, []
        return out

    def send_stateless(self, message: SipRequest | SipResponse, peer: Peer) -> None:
        """Queue a message outside any transaction (the ACK for a 2xx, a stateless reply)."""
        self._out.append((message.to_bytes(), peer))

    # -- timers --------------------------------------------------------------------------
    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` should be called next, or None if nothing is pending."""
        heap = self._heap
        while heap:
            when, seq, owner, name = heap[0]
            if owner._timers.get(name) == (when, seq):
                return when
            heapq.heappop(heap)
        return None

    def handle_timer(self, now: float) -> list[Event]:
        """Fire every timer due at ``now`` (retransmissions, timeouts)."""
        events: list[Event] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, seq, owner, name = heapq.heappop(heap)
            if owner._timers.get(name) != (when, seq):
                continue
            del owner._timers[name]
            if isinstance(owner, Uas2xxRetransmitter):
                self._fire_2xx(owner, name, now, events)
            elif isinstance(owner, ClientTransaction):
                self._fire_client(owner, name, now, events)
            elif isinstance(owner, ServerTransaction):
                self._fire_server(owner, name, now, events)
        return events

    def _start(self, owner: _TimerOwner, name: str, at: float) -> None:
        self._seq += 1
        owner._timers[name] = (at, self._seq)
        heapq.heappush(self._heap, (at, self._seq, owner, name))

    @staticmethod
    def _stop(owner: _TimerOwner, *names: str) -> None:
        for name in names:
            owner._timers.pop(name, None)

    def _terminate(self, tx: Transaction) -> None:
        tx.state = TxState.TERMINATED
        tx._timers.clear()
        table: dict[tuple[str, ...], ClientTransaction] | dict[tuple[str, ...], ServerTransaction]
        table = self._client if isinstance(tx, ClientTransaction) else self._server
        if table.get(tx.key) is tx:
            del table[tx.key]

    def _fire_client(self, tx: ClientTransaction, name: str, now: float, ev: list[Event]) -> None:
        t = self.timers
        if name == "A":
            tx._apply(TxEvent.TIMER_A)
            self._out.append((tx._request_bytes, tx.peer))
            tx._interval *= 2
            self._start(tx, "A", now + tx._interval)
        elif name == "E":
            tx._apply(TxEvent.TIMER_E)
            self._out.append((tx._request_bytes, tx.peer))
            if tx.state is TxState.TRYING:
                tx._interval = min(2 * tx._interval, t.t2)
            else:
                tx._interval = t.t2
            self._start(tx, "E", now + tx._interval)
        elif name in ("B", "F"):
            tx._apply(TxEvent.TIMER_B if name == "B" else TxEvent.TIMER_F)
            self._terminate(tx)
            ev.append(TransactionTimeout(tx))
        else:  # D, K, M
            tx._apply(TxEvent(f"Timer {name}"))
            self._terminate(tx)

    def _fire_server(self, tx: ServerTransaction, name: str, now: float, ev: list[Event]) -> None:
        if name == "G":
            tx._apply(TxEvent.TIMER_G)
            self._out.append((tx._response_bytes, tx.peer))
            tx._interval = min(2 * tx._interval, self.timers.t2)
            self._start(tx, "G", now + tx._interval)
        elif name == "H":
            tx._apply(TxEvent.TIMER_H)
            self._terminate(tx)
            ev.append(TransactionTimeout(tx))
        else:  # I, J, L
            tx._apply(TxEvent(f"Timer {name}"))
            self._terminate(tx)

    def _fire_2xx(self, r: Uas2xxRetransmitter, name: str, now: float, ev: list[Event]) -> None:
        if name == "retransmit":
            self._out.append((r._bytes, r.peer))
            r._interval = min(2 * r._interval, self.timers.t2)
            self._start(r, "retransmit", now + r._interval)
        else:  # "timeout"
            self._stop_2xx(r)
            ev.append(AckTimeout(r.tx, r.response))

    def _stop_2xx(self, r: Uas2xxRetransmitter) -> None:
        r.stopped = True
        r._timers.clear()
        if self._pending_2xx.get(r.key) is r:
            del self._pending_2xx[r.key]

    # -- client side ---------------------------------------------------------------------
    def send_request(self, request: SipRequest, peer: Peer, now: float) -> ClientTransaction:
        """Start a client transaction for ``request`` (which already has its top Via)."""
        if request.method == "ACK":
            raise SipLocalError("ACK is not sent in a transaction: use send_stateless()")
        branch = request.top_via.branch
        if not branch:
            raise SipLocalError(f"{request.method} has no branch in its top Via")
        key = (branch, request.method)
        if key in self._client:
            raise SipLocalError(f"a client transaction for {key} already exists")
        tx = ClientTransaction(request, peer, key)
        self._client[key] = tx
        self._out.append((tx._request_bytes, peer))
        t = self.timers
        if tx.role is TxRole.INVITE_CLIENT:
            if not peer.reliable:
                tx._interval = t.t1
                self._start(tx, "A", now + t.t1)
            self._start(tx, "B", now + t.timeout)
        else:
            if not peer.reliable:
                tx._interval = t.t1
                self._start(tx, "E", now + t.t1)
            self._start(tx, "F", now + t.timeout)
        return tx

    def _receive_response(self, resp: SipResponse, peer: Peer, now: float) -> list[Event]:
        branch = resp.top_via.branch or ""
        _, method = resp.cseq
        tx = self._client.get((branch, method))
        if tx is None:
            return [StrayResponse(resp, peer, None)]
        event = response_event(resp.status, sending=False) if 100 <= resp.status <= 699 else None
        if event is None or not allowed(tx.role, tx.state, event):
            return []  # late provisional, response after completion: absorbed
        old = tx.state
        new = tx._apply(event)
        t = self.timers
        if tx.role is TxRole.INVITE_CLIENT:
            if old is TxState.ACCEPTED:
                return [StrayResponse(resp, peer, tx)]
            if old is TxState.COMPLETED:  # retransmitted final response: ACK again
                self._out.append((tx._ack_bytes, tx.peer))
                return []
            tx.last_response = resp
            self._stop(tx, "A", "B")
            if new is TxState.ACCEPTED:
                self._start(tx, "M", now + t.timeout)
            elif new is TxState.COMPLETED:
                tx.ack = make_ack_for_non2xx(tx.request, resp)
                tx._ack_bytes = tx.ack.to_bytes()
                self._out.append((tx._ack_bytes, tx.peer))
                if tx.peer.reliable:
                    tx._apply(TxEvent.TIMER_D)
                    self._terminate(tx)
                else:
                    self._start(tx, "D", now + max(32.0, t.timeout))
            return [ResponseReceived(tx, resp)]
        tx.last_response = resp
        if new is TxState.COMPLETED:
            self._stop(tx, "E", "F")
            if tx.peer.reliable:
                tx._apply(TxEvent.TIMER_K)
                self._terminate(tx)
            else:
                self._start(tx, "K", now + t.t4)
        return [ResponseReceived(tx, resp)]

    # -- server side ---------------------------------------------------------------------
    def _receive_request(self, req: SipRequest, peer: Peer, now: float) -> list[Event]:
        key = _server_key(req)
        tx = self._server.get(key)
        if req.method == "ACK":
            return self._receive_ack(req, peer, tx, now)
        if tx is not None:
            if allowed(tx.role, tx.state, TxEvent.RECV_REQUEST):
                state = tx._apply(TxEvent.RECV_REQUEST)
                if state in (TxState.PROCEEDING, TxState.COMPLETED) and tx._response_bytes:
                    self._out.append((tx._response_bytes, tx.peer))
            return []
        tx = ServerTransaction(req, peer, key)
        self._server[key] = tx
        if req.method == "CANCEL":
            invite_tx = self._server.get((*key[:-1], "INVITE"))
            return [CancelReceived(tx, invite_tx, req, peer)]
        if req.method == "INVITE" and self.auto_trying:
            self.send_response(tx, make_response(req, 100), now)
        return [RequestReceived(tx, req, peer)]

    def _receive_ack(
        self, ack: SipRequest, peer: Peer, tx: ServerTransaction | None, now: float
    ) -> list[Event]:
        if tx is not None and tx.state is not TxState.ACCEPTED:
            # ACK for our non-2xx final response: it ends the transaction here
            if allowed(tx.role, tx.state, TxEvent.RECV_ACK):
                old = tx.state
                tx._apply(TxEvent.RECV_ACK)
                if old is TxState.COMPLETED:
                    self._stop(tx, "G", "H")
                    if tx.peer.reliable:
                        tx._apply(TxEvent.TIMER_I)
                        self._terminate(tx)
                    else:
                        self._start(tx, "I", now + self.timers.t4)
            return []
        if tx is not None:
            tx._apply(TxEvent.RECV_ACK)
        retransmitter = self._pending_2xx.get(_retransmit_key(ack))
        if retransmitter is not None:
            self._stop_2xx(retransmitter)
        return [AckReceived(ack, peer, retransmitter is not None)]

    def send_response(self, tx: ServerTransaction, response: SipResponse, now: float) -> None:
        """Send ``response`` within server transaction ``tx``.

        Raises :class:`SipLocalError` when the transaction cannot send it (already final,
        terminated). A 2xx to INVITE moves the transaction to Accepted and starts the 2xx
        retransmission that only the ACK (or :class:`AckTimeout`) stops.
        """
        if tx.terminated:
            raise SipLocalError(
                f"illegal transition: {tx.role} transaction in state {tx.state} cannot handle "
                f"event '{response_event(response.status, sending=True)}'"
            )
        old = tx.state
        new = tx._apply(response_event(response.status, sending=True))
        data = response.to_bytes()
        tx.last_response = response
        tx._response_bytes = data
        self._out.append((data, tx.peer))
        t = self.timers
        if tx.role is TxRole.INVITE_SERVER:
            if new is TxState.ACCEPTED and old is not TxState.ACCEPTED:
                self._start(tx, "L", now + t.timeout)
                r = Uas2xxRetransmitter(tx, response, _retransmit_key(response))
                old_r = self._pending_2xx.get(r.key)
                if old_r is not None:
                    self._stop_2xx(old_r)
                self._pending_2xx[r.key] = r
                r._interval = t.t1
                self._start(r, "retransmit", now + t.t1)
                self._start(r, "timeout", now + t.timeout)
            elif new is TxState.ACCEPTED:
                # the TU re-sent its 2xx: restart the retransmission from it
                r2 = self._pending_2xx.get(_retransmit_key(response))
                if r2 is not None:
                    r2._bytes = data
                    r2.response = response
            elif new is TxState.COMPLETED:
                if not tx.peer.reliable:
                    tx._interval = t.t1
                    self._start(tx, "G", now + t.t1)
                self._start(tx, "H", now + t.timeout)
        elif new is TxState.COMPLETED:
            if tx.peer.reliable:
                tx._apply(TxEvent.TIMER_J)
                self._terminate(tx)
            else:
                self._start(tx, "J", now + t.timeout)
                tx._release()

    def answer_cancel(
        self, event: CancelReceived, now: float, *, to_tag: str | None = None
    ) -> bool:
        """Answer a CANCEL the usual way (§9.2); return True if the INVITE got a 487.

        200 OK to the CANCEL when its INVITE transaction exists (481 otherwise); then 487
        Request Terminated to the INVITE if it has had no final response yet. The 487 reuses
        the To tag of the last provisional response, else ``to_tag``.
        """
        invite_tx = event.invite_tx
        if invite_tx is None:
            self.send_response(event.cancel_tx, make_response(event.request, 481), now)
            return False
        self.send_response(event.cancel_tx, make_response(event.request, 200), now)
        if invite_tx.state is not TxState.PROCEEDING:
            return False
        last = invite_tx.last_response
        tag = (last.to.tag if last is not None else None) or to_tag
        self.send_response(invite_tx, make_response(invite_tx.request, 487, to_tag=tag), now)
        return True

    # -- input ---------------------------------------------------------------------------
    def receive(self, msg: SipRequest | SipResponse, peer: Peer, now: float) -> list[Event]:
        """Feed one parsed message received from ``peer``; return what the TU must handle."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("< %s %r from %s", msg.get("Call-ID"), msg, peer)
        if isinstance(msg, SipRequest):
            return self._receive_request(msg, peer, now)
        return self._receive_response(msg, peer, now)

    def transport_error(self, peer: Peer, now: float) -> list[Event]:
        """The transport to ``peer`` failed: end its transactions with TransportFailure."""
        events: list[Event] = []
        for tx in self.transactions:
            if tx.peer == peer and allowed(tx.role, tx.state, TxEvent.TRANSPORT_ERROR):
                tx._apply(TxEvent.TRANSPORT_ERROR)
                self._terminate(tx)
                events.append(TransportFailure(tx))
        return events
