"""A SIP endpoint: the sans-I/O transaction layer driven by real sockets and the loop's clock.

Received messages go through the transaction layer; its events are handed to the owner of
the client transaction they concern (a callback given to :meth:`SipEndpoint.send_request`)
or, for everything else, to the endpoint's ``handler``. Timers are one ``call_at`` on the
loop, re-armed after every step.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from clickphone.sip.message import SipMessage, SipRequest, SipResponse
from clickphone.sip.transaction import (
    ClientTransaction,
    Event,
    Peer,
    ResponseReceived,
    ServerTransaction,
    StrayResponse,
    Timers,
    TransactionLayer,
    TransactionTimeout,
    TransportFailure,
)
from clickphone.transport.sip import SipTransports

log = logging.getLogger("clickphone.sip")

EventHandler = Callable[[Event], None]


class SipEndpoint:
    def __init__(self, handler: EventHandler, *, timers: Timers | None = None) -> None:
        self.handler = handler
        self.layer = TransactionLayer(timers)
        self.transports = SipTransports(self._on_message, on_connection_lost=self._on_lost)
        self._owners: dict[ClientTransaction, EventHandler] = {}
        self._next_sweep = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle -----------------------------------------------------------------------
    async def listen(
        self,
        host: str,
        port: int,
        *,
        tcp: bool = True,
        tls: ssl.SSLContext | None = None,
        tls_port: int = 0,
    ) -> tuple[str, int]:
        """Listen on UDP (and TCP on the same port, TLS on ``tls_port``); return the bound
        UDP address."""
        self._loop = asyncio.get_running_loop()
        udp = await self.transports.listen_udp(host, port)
        if tcp:
            await self.transports.listen_tcp(host, udp[1])
        if tls is not None:
            await self.transports.listen_tls(host, tls_port, tls)
        return udp

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        await self.transports.close()

    def now(self) -> float:
        loop = self._loop or asyncio.get_running_loop()
        return loop.time()

    # -- sending -------------------------------------------------------------------------
    def send_request(
        self, request: SipRequest, peer: Peer, on_event: EventHandler | None = None
    ) -> ClientTransaction:
        tx = self.layer.send_request(request, peer, self.now())
        if on_event is not None:
            self._owners[tx] = on_event
        self.flush()
        return tx

    def send_response(self, tx: ServerTransaction, response: SipResponse) -> None:
        self.layer.send_response(tx, response, self.now())
        self.flush()

    def send_stateless(self, message: SipRequest | SipResponse, peer: Peer) -> None:
        self.layer.send_stateless(message, peer)
        self.flush()

    def flush(self) -> None:
        for data, peer in self.layer.datagrams_to_send():
            self.transports.send(data, peer)
        self._arm_timer()

    # -- receiving -----------------------------------------------------------------------
    def _on_message(self, message: SipMessage, peer: Peer) -> None:
        assert isinstance(message, SipRequest | SipResponse)
        events = self.layer.receive(message, peer, self.now())
        self._dispatch(events)
        self.flush()

    def _on_lost(self, peer: Peer) -> None:
        self._dispatch(self.layer.transport_error(peer, self.now()))
        self.flush()

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self._dispatch(self.layer.handle_timer(self.now()))
        self.flush()

    def _arm_timer(self) -> None:
        when = self.layer.next_timer()
        if when == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = when
        if when is not None:
            loop = self._loop or asyncio.get_running_loop()
            self._timer = loop.call_at(when, self._on_timer)

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            tx: object = None
            if isinstance(event, ResponseReceived | TransactionTimeout | TransportFailure):
                tx = event.tx
            elif isinstance(event, StrayResponse):
                tx = event.tx
            owner = self._owners.get(tx) if isinstance(tx, ClientTransaction) else None
            try:
                (owner or self.handler)(event)
            except Exception:
                log.exception("x unhandled error while handling %s", type(event).__name__)
            if isinstance(tx, ClientTransaction) and tx.terminated:
                self._owners.pop(tx, None)
        # Forget owners of transactions the layer has dropped (timeouts, completion); a sweep
        # costs O(owners), so it runs at most once a second.
        now = self.now()
        if now >= self._next_sweep:
            self._next_sweep = now + 1.0
            for tx in [t for t in self._owners if t.terminated]:
                self._owners.pop(tx, None)
