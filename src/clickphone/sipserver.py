"""The SIP server: transports + transaction layer + registrar + B2BUA + media, wired together.

It is one of the services `clickphone serve` starts with the HTTP app; tests start it alone on
an ephemeral port. Every request is checked (RFC 3261 §8.2) before any feature sees it; the
transaction layer absorbs retransmissions; REGISTER goes to the registrar; INVITE, CANCEL,
ACK and in-dialog requests go to the call manager; out-of-dialog OPTIONS is answered here
(keep-alive pings from phones and trunks).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event as BusEvent
from clickphone.calls.b2bua import ALLOW, CallManager, CallSettings, FlowRunner
from clickphone.calls.records import CallRecorder
from clickphone.calls.routing import CallRouter, CompositeRouter, ExtensionRouter
from clickphone.db.session import Database
from clickphone.media.control import MediaController
from clickphone.registrar.auth import SipAuthenticator
from clickphone.registrar.limits import AuthFailureLimiter
from clickphone.registrar.service import Registrar
from clickphone.registrar.store import DeviceDirectory, RegistrationStore
from clickphone.sip.auth import DigestServer
from clickphone.sip.message import make_response
from clickphone.sip.parser import check_request
from clickphone.sip.transaction import Event, Peer, RequestReceived
from clickphone.transport.endpoint import SipEndpoint

log = logging.getLogger("clickphone.sip")


@dataclass
class SipServerConfig:
    host: str = "0.0.0.0"
    port: int = 5060
    tcp: bool = True
    tls_port: int | None = None  # SIP over TLS when set (0: any free port) with the files below
    tls_cert: str | None = None
    tls_key: str | None = None
    # SIP over WebSocket (RFC 7118) when set (0: any free port); WSS uses the TLS files above
    ws_port: int | None = None
    wss_port: int | None = None
    ws_origins: tuple[str, ...] = ()  # browsers' Origin allowed to connect; empty: any
    ws_ping_interval: float = 20.0
    realm: str = "clickphone"
    secret: bytes = b""
    advertised_host: str | None = None  # what goes in Via/Contact; default: detected
    media_ip: str | None = None  # what goes in SDP; default: advertised host
    auth_max_failures: int = 10
    auth_window: float = 60.0
    auth_block_for: float = 300.0
    expiry_sweep_interval: float = 30.0
    nat_keepalive_interval: float = 20.0  # CRLF to UDP phones behind NAT keeps their pinhole
    max_pending_registers: int = 2000  # above this, REGISTER gets 503 + Retry-After
    calls: CallSettings | None = None
    # Tune the process's garbage collector for signalling throughput once started (see
    # tune_gc): for the serving process, not for tests that start many servers in one.
    tune_gc: bool = False


def detect_host(bind_host: str) -> str:
    """An address phones can reach us at when none is configured."""
    if bind_host not in ("0.0.0.0", "::", ""):
        return bind_host
    try:
        addr = socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
    return addr


def tune_gc(gen0_threshold: int = 50_000) -> None:
    """Make the cyclic garbage collector cheap for a busy signalling server.

    Every SIP message allocates a few dozen containers (header lists, parsed views,
    transactions, tasks) and thousands of them stay alive for a while (Timer J, dialogs,
    cached credentials); with Python's default threshold (700) the collector runs every few
    messages and keeps re-scanning the survivors — measured 10-30 % of the CPU under load.
    ``gc.freeze()`` moves everything alive after start-up (modules, ORM metadata, preloaded
    credentials) out of its sight for good, and a higher generation-0 threshold makes the
    young collections rarer. Reference counting still frees almost everything at once;
    only garbage cycles wait longer. Process-wide: call it once, in the serving process.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, max(gen1, 20), max(gen2, 100))


class SipServer:
    def __init__(
        self,
        config: SipServerConfig,
        database: Database,
        media: MediaController,
        *,
        bus: EventBus | None = None,
        routers: Sequence[CallRouter] = (),
    ) -> None:
        self.config = config
        self.database = database
        self.media = media
        self.bus = bus
        self.endpoint = SipEndpoint(self._on_event)
        self.directory = DeviceDirectory(database)
        self.store = RegistrationStore(database)
        self.limiter = AuthFailureLimiter(
            max_failures=config.auth_max_failures,
            window=config.auth_window,
            block_for=config.auth_block_for,
        )
        secret = config.secret or secrets.token_bytes(32)
        self.digest = DigestServer(config.realm, secret)
        self.authenticator = SipAuthenticator(
            self.directory,
            self.digest,
            self.limiter,
            on_blocked=self._on_auth_blocked,
            decoy_key=hashlib.sha256(b"decoy:" + secret).digest(),
        )
        self.registrar = Registrar(self.authenticator, self.directory, self.store, bus=bus)
        self.recorder = CallRecorder(database)
        self.extension_router = ExtensionRouter(self.authenticator, self.directory, self.registrar)
        # Routers asked before the extension router (trunks, numbers, call flows).
        self.routers: list[CallRouter] = list(routers)
        if bus is not None:
            # Credentials or extensions changed through the API: forget cached lookups.
            for pattern in ("device.*", "employee.*"):
                bus.subscribe(pattern, self._on_directory_change)
        self.calls: CallManager | None = None
        self.flows: FlowRunner | None = None  # the call-flow runtime (install_flows)
        self.address: tuple[str, int] | None = None
        self.started_at: float | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._registers_pending = 0
        self._sweeper: asyncio.Task[None] | None = None
        self._pinger: asyncio.Task[None] | None = None

    async def start(self) -> tuple[str, int]:
        cfg = self.config
        tls = None
        if (cfg.tls_port is not None or cfg.wss_port is not None) and cfg.tls_cert:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(cfg.tls_cert, cfg.tls_key or None)
        self.address = await self.endpoint.listen(
            cfg.host,
            cfg.port,
            tcp=cfg.tcp,
            tls=tls if cfg.tls_port is not None else None,
            tls_port=cfg.tls_port or 0,
        )
        await self._listen_ws(tls)
        advertised = cfg.advertised_host or detect_host(cfg.host)
        self.calls = CallManager(
            self.endpoint,
            CompositeRouter([*self.routers, self.extension_router]),
            self.media,
            advertised_host=advertised,
            media_ip=cfg.media_ip or advertised,
            bus=self.bus,
            settings=cfg.calls,
            recorder=self.recorder,
            flows=self.flows,
        )
        await self.recorder.recover(time.time())
        self.recorder.start()
        self.calls.start()
        await self.directory.preload()
        await self.registrar.start()
        if cfg.tune_gc:
            tune_gc()
        self._sweeper = asyncio.create_task(self._sweep())
        self._pinger = asyncio.create_task(self._nat_keepalive())
        self.started_at = time.time()
        log.info("SIP listening on %s:%s (udp%s)", *self.address, "+tcp" if cfg.tcp else "")
        return self.address

    async def _listen_ws(self, tls: ssl.SSLContext | None) -> None:
        cfg = self.config
        transports = self.endpoint.transports
        transports.on_ws_closed.append(self._on_ws_closed)
        for secure, port in ((False, cfg.ws_port), (True, cfg.wss_port)):
            if port is None:
                continue
            if secure and tls is None:
                log.warning("x SIP over WSS needs a TLS certificate (tls_cert); not listening")
                continue
            host, bound = await transports.listen_ws(
                cfg.host,
                port,
                tls if secure else None,
                origins=cfg.ws_origins,
                ping_interval=cfg.ws_ping_interval or None,
            )
            log.info("SIP over %s on %s:%s", "WSS" if secure else "WS", host, bound)

    def _on_ws_closed(self, peer: Peer) -> None:
        gone = self.registrar.drop_connection(peer)
        if gone:
            self._spawn(self.registrar.forget(gone))

    async def stop(self) -> None:
        for task in (self._sweeper, self._pinger):
            if task is not None:
                task.cancel()
        if self.calls is not None:
            await self.calls.stop()
        for task in list(self._tasks):
            task.cancel()
        await self.recorder.stop()
        await self.registrar.stop()
        await self.endpoint.close()

    def status(self) -> dict[str, Any]:
        return {
            "listening": self.address is not None,
            "address": f"{self.address[0]}:{self.address[1]}" if self.address else None,
            # what phones should use as their SIP server (the bound address may be 0.0.0.0)
            "public_address": (
                f"{self.calls.advertised_host}:{self.address[1]}"
                if self.address and self.calls
                else None
            ),
            **self._ws_status(),
            "registrations": len(self.registrar.table),
            "active_calls": len(self.calls.calls) if self.calls else 0,
            "malformed_messages": self.endpoint.transports.stats["malformed"],
        }

    def _ws_status(self) -> dict[str, str]:
        """Bound address and the URL browsers use, per WebSocket listener."""
        out: dict[str, str] = {}
        for label, (host, port) in self.endpoint.transports.local.items():
            if label in ("WS", "WSS") and self.calls is not None:
                scheme, public = label.lower(), self.calls.advertised_host
                public = f"[{public}]" if ":" in public else public
                out[f"{scheme}_address"] = f"{host}:{port}"
                out[f"{scheme}_url"] = f"{scheme}://{public}:{port}"
        return out

    # -- dispatch ------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, RequestReceived):
            req = event.request
            problem = check_request(req, forwarding=req.method == "INVITE" and not req.to.tag)
            if problem is not None:
                status, reason = problem
                self.endpoint.send_response(event.tx, make_response(req, status, reason))
                return
            if req.method == "REGISTER":
                if self._registers_pending >= self.config.max_pending_registers:
                    # A registration storm (e.g. after an outage): shed load, phones retry.
                    self.endpoint.send_response(
                        event.tx,
                        make_response(req, 503, extra_headers=[("Retry-After", "5")]),
                    )
                    return
                self._registers_pending += 1
                self._spawn(self._register(event))
                return
            if req.method == "OPTIONS" and not req.to.tag:
                self.endpoint.send_response(
                    event.tx,
                    make_response(
                        req, 200, extra_headers=[("Allow", ALLOW), ("Accept", "application/sdp")]
                    ),
                )
                return
        if self.calls is not None and self.calls.handle_event(event):
            return
        if isinstance(event, RequestReceived):
            status = 405 if event.request.method in ("SUBSCRIBE", "PUBLISH", "MESSAGE") else 501
            self.endpoint.send_response(
                event.tx,
                make_response(event.request, status, extra_headers=[("Allow", ALLOW)]),
            )

    async def _register(self, event: RequestReceived) -> None:
        try:
            response = await self.registrar.handle(event.request, event.peer)
        except Exception:
            log.exception("x registrar failed call-id=%s", event.request.get("Call-ID"))
            response = make_response(event.request, 500)
        finally:
            self._registers_pending -= 1
        if event.peer.transport in ("WS", "WSS"):
            if event.peer not in self.endpoint.transports.ws_connections:
                # The connection closed while we were authenticating: nothing can reach it.
                self._on_ws_closed(event.peer)
        if not event.tx.terminated:
            self.endpoint.send_response(event.tx, response)

    async def _on_directory_change(self, event: BusEvent) -> None:
        payload = event.payload
        if event.type.startswith("device.") and "device_id" in payload:
            self.directory.forget(
                device_id=payload["device_id"], username=payload.get("sip_username")
            )
        elif event.type.startswith("employee.") and "employee_id" in payload:
            self.directory.forget(employee_id=payload["employee_id"])
        else:
            self.directory.invalidate()

    def _on_auth_blocked(self, source: str, username: str) -> None:
        log.warning("x SIP auth failures: blocking %s (last username %r)", source, username)
        if self.bus is not None:
            self._spawn(
                self.bus.publish(
                    BusEvent("sip.auth.blocked", {"source": source, "username": username})
                )
            )

    async def _nat_keepalive(self) -> None:
        """Send a CRLF keep-alive to every UDP binding behind NAT (its Contact address is
        not where its packets come from), so the NAT keeps the pinhole open for calls."""
        while True:
            await asyncio.sleep(self.config.nat_keepalive_interval)
            now = time.time()
            for bindings in list(self.registrar.table.by_user.values()):
                for b in bindings:
                    if b.nat and b.peer.transport == "UDP" and b.expires_at > now:
                        self.endpoint.transports.send(b"\r\n\r\n", b.peer)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.config.expiry_sweep_interval)
            try:
                gone = self.registrar.expire()
                if gone:
                    await self.registrar.store.purge_expired(time.time())
                self.limiter.prune(time.time())
            except Exception:
                log.exception("x registration sweep failed")
