"""asyncio SIP transports (UDP and TCP) feeding the sans-I/O SIP layer.

The transports turn bytes into parsed messages and back; they know nothing of transactions.
They do the transport-level duties of RFC 3261 §18 and RFC 3581:

- a request whose bytes are malformed is answered statelessly with the status the parser
  hinted (400, 413, 505, ...) when enough of it survives to address a response; otherwise it
  is dropped; malformed responses are always dropped;
- ``received``/``rport`` are stamped on the top Via of every request (symmetric response
  routing: responses go back to the address the request came from);
- CRLF keep-alives: a double-CRLF ping on a stream is answered with a single CRLF
  (RFC 5626 §4.4.1), stray CRLFs on datagrams are ignored.

TLS is the TCP connection class with an SSL context; WebSocket (RFC 7118, transport/ws.py)
feeds the same ``MessageSink``, one SIP message per WebSocket message, and its peers are
reachable only over the connection they came in on.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import SipMessage, SipRequest, SipResponse, canonical_name
from clickphone.sip.parser import KeepAlive, StreamParser, parse_message
from clickphone.sip.transaction import Peer

if TYPE_CHECKING:
    from clickphone.transport.ws import WsConnection, WsListener

log = logging.getLogger("clickphone.sip.transport")

MAX_DATAGRAM = 65535


MessageSink = Callable[[SipMessage, Peer], None]


def stamp_via(request: SipRequest, peer: Peer) -> None:
    """RFC 3261 §18.2.1 + RFC 3581 §4: add received= (and rport=) to the top Via."""
    for index, (name, value) in enumerate(request.headers):
        if name != "Via":
            continue
        first, sep, rest = _split_first_via(value)
        lowered = first.lower()
        sent_host = first.split(None, 1)[1].split(";", 1)[0].strip() if " " in first else ""
        host_only = (
            sent_host.rsplit(":", 1)[0]
            if not sent_host.startswith("[")
            else (sent_host.split("]", 1)[0] + "]")
        )
        if host_only.strip("[]") != peer.host and ";received=" not in lowered:
            first += f";received={peer.host}"
        if ";rport" in lowered:
            parts = first.split(";")
            parts = [f"rport={peer.port}" if p.strip().lower() == "rport" else p for p in parts]
            first = ";".join(parts)
            if ";received=" not in first.lower():
                first += f";received={peer.host}"
        request.headers[index] = (name, first + sep + rest)
        return


def _split_first_via(value: str) -> tuple[str, str, str]:
    """Split a Via header line into its first hop and the rest (comma-separated hops)."""
    if '"' not in value:
        return value.partition(",")
    in_quotes = False
    for i, ch in enumerate(value):
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == "," and not in_quotes:
            return value[:i], ",", value[i + 1 :]
    return value, "", ""


_RESPONSE_COPY = ("Via", "From", "To", "Call-ID", "CSeq")


def salvage_error_response(data: bytes, error: SipPeerError) -> bytes | None:
    """Build a stateless error response to a request that failed to parse, if we can.

    Only a request with a recognisable request line and the headers needed to route a
    response (Via, From, To, Call-ID, CSeq) gets an answer; anything else returns None
    (the datagram is dropped).
    """
    try:
        text = data.decode("utf-8", errors="replace")
    except Exception:  # pragma: no cover - decode with replace never raises
        return None
    head = text.split("\r\n\r\n", 1)[0].replace("\r\n", "\n")
    lines = head.split("\n")
    if not lines:
        return None
    start = lines[0].split()
    if len(start) != 3 or start[0].upper().startswith("SIP/") or start[0] == "ACK":
        return None
    if not start[2].upper().startswith("SIP/"):
        return None
    found: dict[str, list[str]] = {}
    for line in lines[1:]:
        if line[:1] in (" ", "\t") or ":" not in line:
            continue
        name, value = line.split(":", 1)
        cname = canonical_name(name.strip())
        if cname == "Via" or (cname in _RESPONSE_COPY and cname not in found):
            # every Via (the response retraces them); one of each other header
            found.setdefault(cname, []).append(value.strip())
    if any(name not in found for name in _RESPONSE_COPY):
        return None
    status = error.status_hint if 400 <= error.status_hint < 700 else 400
    reason = str(error).replace("\r", " ").replace("\n", " ")[:80] or "Bad Request"
    response = SipResponse(status, reason)
    for name in _RESPONSE_COPY:
        for value in found[name]:
            response.add(name, value)
    return response.to_bytes()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransports) -> None:
        self.owner = owner
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        peer = Peer("UDP", str(addr[0]), int(addr[1]))
        if not data.strip(b"\r\n\x00 "):
            return  # keep-alive (CRLF or STUN-less ping): nothing to do
        try:
            message = parse_message(data)
        except SipPeerError as exc:
            self.owner.stats["malformed"] += 1
            if log.isEnabledFor(logging.DEBUG):
                log.debug("x malformed datagram from %s:%s: %s", peer.host, peer.port, exc)
            reply = salvage_error_response(data, exc)
            if reply is not None and self.transport is not None:
                self.transport.sendto(reply, (peer.host, peer.port))
            return
        self.owner.deliver(message, peer)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc)


class _TcpConnection(asyncio.Protocol):
    """One stream connection (TCP, or TLS when the server/connection has an SSL context)."""

    def __init__(self, owner: SipTransports, label: str = "TCP") -> None:
        self.owner = owner
        self.label = label
        self.parser = StreamParser()
        self.transport: asyncio.Transport | None = None
        self.peer: Peer | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = Peer(self.label, str(host), int(port))
        self.owner.tcp_connections[self.peer] = self

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None and self.transport is not None
        for item in self.parser.feed(data):
            if isinstance(item, KeepAlive):
                self.transport.write(b"\r\n")
            elif isinstance(item, SipPeerError):
                self.owner.stats["malformed"] += 1
                raw = getattr(item, "raw", b"") or b""
                reply = salvage_error_response(raw, item) if raw else None
                if reply is not None:
                    self.transport.write(reply)
                if getattr(item, "fatal", True):
                    self.transport.close()
                    return
            else:
                self.owner.deliver(item, self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.owner.tcp_connections.pop(self.peer, None)
            self.owner.on_connection_lost(self.peer)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


class SipTransports:
    """The listening sockets of one SIP endpoint and its outgoing TCP connections."""

    def __init__(
        self,
        sink: MessageSink,
        *,
        on_connection_lost: Callable[[Peer], None] | None = None,
    ) -> None:
        self._sink = sink
        self._on_connection_lost = on_connection_lost
        self.udp: _UdpProtocol | None = None
        self.tcp_server: asyncio.Server | None = None
        self.tls_server: asyncio.Server | None = None
        self.tls_client_context: ssl.SSLContext | None = None
        self.tcp_connections: dict[Peer, _TcpConnection] = {}
        self._pending_tcp: dict[Peer, list[bytes]] = {}
        self.local: dict[str, tuple[str, int]] = {}
        self.stats: dict[str, int] = {"malformed": 0, "received": 0, "sent": 0}
        self._tasks: set[asyncio.Task[None]] = set()
        # WebSocket (RFC 7118): accepted connections by peer; listeners told when one closes
        self.ws_servers: list[WsListener] = []
        self.ws_connections: dict[Peer, WsConnection] = {}
        self.on_ws_closed: list[Callable[[Peer], None]] = []

    def deliver(self, message: SipMessage, peer: Peer) -> None:
        self.stats["received"] += 1
        if isinstance(message, SipRequest):
            try:
                stamp_via(message, peer)
            except (IndexError, ValueError):
                pass  # a Via too broken to stamp is rejected by the layer above
        try:
            self._sink(message, peer)
        except SipPeerError as exc:
            # The message parsed but the layer above found it unacceptable (e.g. a broken Via).
            if isinstance(message, SipRequest) and message.method != "ACK":
                reply = salvage_error_response(message.to_bytes(), exc)
                if reply is not None:
                    self.send(reply, peer)

    def on_connection_lost(self, peer: Peer) -> None:
        if self._on_connection_lost is not None:
            self._on_connection_lost(peer)

    def ws_closed(self, peer: Peer) -> None:
        """A WebSocket connection ended: its transactions fail, its bindings go."""
        self.on_connection_lost(peer)
        for listener in list(self.on_ws_closed):
            listener(peer)

    async def listen_udp(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), local_addr=(host, port)
        )
        self.udp = protocol
        sockname = transport.get_extra_info("sockname")
        self.local["UDP"] = (str(sockname[0]), int(sockname[1]))
        return self.local["UDP"]

    async def listen_tcp(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self.tcp_server = await loop.create_server(
            lambda: _TcpConnection(self), host, port, reuse_address=True
        )
        sockname = self.tcp_server.sockets[0].getsockname()
        self.local["TCP"] = (str(sockname[0]), int(sockname[1]))
        return self.local["TCP"]

    async def listen_tls(self, host: str, port: int, context: ssl.SSLContext) -> tuple[str, int]:
        """SIP over TLS (RFC 3261 §26.3.1; ``sips:`` and ``transport=tls``). Outgoing TLS
        connections use ``tls_client_context`` (the system's verified defaults if unset)."""
        loop = asyncio.get_running_loop()
        self.tls_server = await loop.create_server(
            lambda: _TcpConnection(self, "TLS"), host, port, ssl=context, reuse_address=True
        )
        sockname = self.tls_server.sockets[0].getsockname()
        self.local["TLS"] = (str(sockname[0]), int(sockname[1]))
        return self.local["TLS"]

    async def listen_ws(
        self,
        host: str,
        port: int,
        ssl: ssl.SSLContext | None = None,
        *,
        origins: Sequence[str] = (),
        ping_interval: float | None = 20.0,
    ) -> tuple[str, int]:
        """SIP over WebSocket (RFC 7118), WSS with ``ssl``; see transport/ws.py."""
        from clickphone.transport.ws import WsListener

        listener = WsListener(
            self,
            secure=ssl is not None,
            origins=origins,
            ping_interval=ping_interval,
            ping_timeout=ping_interval,
        )
        address = await listener.start(host, port, ssl)
        self.ws_servers.append(listener)
        self.local[listener.label] = address
        return address

    def send(self, data: bytes, peer: Peer) -> None:
        self.stats["sent"] += 1
        if peer.transport == "UDP":
            if self.udp is not None and self.udp.transport is not None:
                self.udp.transport.sendto(data, (peer.host, peer.port))
            return
        if peer.transport in ("WS", "WSS"):
            ws = self.ws_connections.get(peer)
            if ws is not None:
                ws.send(data)
            else:  # a WebSocket client cannot be dialled back: the hop is gone
                asyncio.get_running_loop().call_soon(self.on_connection_lost, peer)
            return
        key = peer
        conn = self.tcp_connections.get(key)
        if conn is not None:
            conn.send(data)
            return
        pending = self._pending_tcp.get(key)
        if pending is not None:
            pending.append(data)
            return
        self._pending_tcp[key] = [data]
        task = asyncio.ensure_future(self._connect_tcp(peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect_tcp(self, peer: Peer) -> None:
        key = peer
        loop = asyncio.get_running_loop()
        tls = peer.transport == "TLS"
        context = (self.tls_client_context or ssl.create_default_context()) if tls else None
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _TcpConnection(self, peer.transport),
                    peer.host,
                    peer.port,
                    ssl=context,
                ),
                5.0,
            )
        except (OSError, TimeoutError, ssl.SSLError):
            self._pending_tcp.pop(key, None)
            self.on_connection_lost(peer)
            return
        for data in self._pending_tcp.pop(key, []):
            protocol.send(data)

    async def close(self) -> None:
        if self.udp is not None and self.udp.transport is not None:
            self.udp.transport.close()
        for server in (self.tcp_server, self.tls_server):
            if server is not None:
                server.close()
        for conn in list(self.tcp_connections.values()):
            if conn.transport is not None:
                conn.transport.close()
        for server in (self.tcp_server, self.tls_server):
            if server is not None:
                await server.wait_closed()
        for listener in self.ws_servers:
            await listener.close()
        for task in list(self._tasks):
            task.cancel()
