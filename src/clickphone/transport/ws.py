"""SIP over WebSocket (RFC 7118): browsers and WebRTC-style softphones.

A WebSocket listener feeds the same ``MessageSink`` as the UDP/TCP/TLS transports:

- the opening handshake must negotiate the ``sip`` subprotocol (RFC 7118 §4.1); a client
  that does not offer it is refused with HTTP 400; with ``origins`` set, a browser whose
  ``Origin`` is not listed is refused with 403 (clients that send no Origin, i.e. not
  browsers, are let in);
- every text or binary message carries exactly one SIP message (§5.1), so there is no
  stream framing; a Content-Length, when present, must match the body;
- each connection is its own hop: ``Peer("WS"|"WSS", remote host, remote port)``.
  Responses and requests to that peer are written to that connection and nowhere else — a
  WebSocket client cannot be dialled back (its Contact is usually ``…@x.invalid``). When the
  connection goes, sends to its peer fail at once (a transport error for the transaction
  layer) and the ``SipTransports.on_ws_closed`` listeners hear of it (the registrar drops
  the bindings made through it);
- a message larger than ``max_size`` closes the connection (1009); bytes that are not SIP
  at all close it (1002); a SIP-looking message that fails to parse is answered 4xx like on
  the other transports and the connection stays up;
- WebSocket pings keep NAT/proxy state alive and detect dead peers; a double-CRLF message
  (RFC 5626 keep-alive, as SIP.js sends) is answered with a CRLF.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Sequence

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.typing import Origin, Subprotocol

from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import SipRequest, SipResponse
from clickphone.sip.parser import MAX_MESSAGE_SIZE, parse_message
from clickphone.sip.transaction import Peer
from clickphone.transport.sip import SipTransports, salvage_error_response

log = logging.getLogger("clickphone.sip.transport")

SUBPROTOCOL = Subprotocol("sip")
WS_TRANSPORTS = frozenset({"WS", "WSS"})
MAX_OUTBOX = 1000  # messages queued to one slow connection before we give up on it


def parse_frame(data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> SipRequest | SipResponse:
    """Parse one WebSocket message as one SIP message (RFC 7118 §5.1).

    Unlike on a datagram, octets after the body are an error rather than discarded: a
    Content-Length, when present, must match the body exactly.
    """
    message = parse_message(data, max_size=max_size)
    if message.get("Content-Length") is not None:
        start = len(data) - len(data.lstrip(b"\r\n"))
        end = data.find(b"\r\n\r\n", start)
        available = len(data) - end - 4 if end >= 0 else 0
        if available != len(message.body):
            raise SipPeerError(
                f"Content-Length {len(message.body)} but the frame has {available} body bytes",
                400,
            )
    return message


class WsConnection:
    """One accepted WebSocket connection: a SIP hop with an ordered outbox."""

    def __init__(self, ws: ServerConnection, peer: Peer) -> None:
        self.ws = ws
        self.peer = peer
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop())

    def send(self, data: bytes) -> None:
        if self._writer is None or self._writer.done():
            return
        if self._outbox.qsize() >= MAX_OUTBOX:
            log.warning("x ws %s:%s not reading; closing", self.peer.host, self.peer.port)
            self.close(CloseCode.TRY_AGAIN_LATER, "too much queued")
            return
        self._outbox.put_nowait(data)

    def close(self, code: int, reason: str) -> None:
        task = asyncio.ensure_future(self.ws.close(code, reason))
        task.add_done_callback(_ignore_result)

    async def _write_loop(self) -> None:
        while True:
            data = await self._outbox.get()
            try:
                # SIP is text; a body that is not UTF-8 goes in a binary message (§5.1).
                await self.ws.send(data, text=_is_utf8(data))
            except ConnectionClosed:
                return

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _ignore_result(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()


class WsListener:
    """A listening WebSocket server (``WS``, or ``WSS`` with an SSL context)."""

    def __init__(
        self,
        owner: SipTransports,
        *,
        secure: bool = False,
        origins: Sequence[str] = (),
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        max_size: int = MAX_MESSAGE_SIZE,
    ) -> None:
        self.owner = owner
        self.label = "WSS" if secure else "WS"
        self.origins = tuple(origins)
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_size = max_size
        self.server: Server | None = None

    async def start(
        self, host: str, port: int, context: ssl.SSLContext | None = None
    ) -> tuple[str, int]:
        # Browsers always send Origin; SIP softphones usually do not (None admits them).
        origins: list[Origin | None] | None = (
            [*(Origin(o) for o in self.origins), None] if self.origins else None
        )
        self.server = await serve(
            self._handle,
            host,
            port,
            subprotocols=[SUBPROTOCOL],
            origins=origins,
            compression=None,
            max_size=self.max_size,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=2,
            server_header=None,
            ssl=context,
            reuse_address=True,
        )
        sockname = next(iter(self.server.sockets)).getsockname()
        return str(sockname[0]), int(sockname[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        host, port = ws.remote_address[:2]
        peer = Peer(self.label, str(host), int(port))
        conn = WsConnection(ws, peer)
        conn.start()
        connections = self.owner.ws_connections
        connections[peer] = conn
        log.debug("- ws %s:%s connected (%s)", peer.host, peer.port, self.label)
        try:
            while True:
                data = await ws.recv(decode=False)
                if not self._on_message(conn, data):
                    self.owner.stats["malformed"] += 1
                    await ws.close(CloseCode.PROTOCOL_ERROR, "not a SIP message")
                    return
        except ConnectionClosed:
            pass
        finally:
            await conn.stop()
            if connections.get(peer) is conn:
                del connections[peer]
            log.debug("- ws %s:%s closed", peer.host, peer.port)
            self.owner.ws_closed(peer)

    def _on_message(self, conn: WsConnection, data: bytes) -> bool:
        """Handle one message; False: it is not SIP at all (close the connection)."""
        if not data.strip(b"\r\n"):
            if b"\r\n\r\n" in data:
                conn.send(b"\r\n")  # RFC 5626 §4.4.1 keep-alive ping -> pong
            return True
        try:
            message = parse_frame(data, max_size=self.max_size)
        except SipPeerError as exc:
            reply = salvage_error_response(data, exc)
            if reply is None:
                return False
            self.owner.stats["malformed"] += 1
            if log.isEnabledFor(logging.DEBUG):
                log.debug("x malformed ws message from %s: %s", conn.peer.host, exc)
            conn.send(reply)
            return True
        self.owner.deliver(message, conn.peer)
        return True
