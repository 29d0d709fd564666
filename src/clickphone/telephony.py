"""Telephony as a service of `clickphone serve`: the media plane plus the SIP server.

By default the media relay runs in its own uvloop worker process (so relaying RTP never
competes with signaling and the API for one event loop); ``CLICKPHONE_MEDIA_MODE=inprocess``
runs it in the server's loop instead (small installs, debugging).
"""

from __future__ import annotations

import hashlib
import logging
from functools import partial
from typing import Any

from clickphone.bus.bus import EventBus
from clickphone.calls.b2bua import CallSettings
from clickphone.calls.flowroute import install_flows
from clickphone.calls.flowrun import FlowEngine
from clickphone.calls.originate import CallbackOriginator
from clickphone.config import Settings, parse_hostport
from clickphone.db.session import Database
from clickphone.flows.resolver import FlowResolver
from clickphone.mail import smtp_send
from clickphone.media.client import WorkerMediaController
from clickphone.media.control import MediaController
from clickphone.media.relay import LocalMediaController, RelayConfig
from clickphone.media.rtpengine import RtpengineMediaController
from clickphone.media.worker import WorkerProcess, start_worker
from clickphone.sipserver import SipServer, SipServerConfig, detect_host
from clickphone.trunks.wiring import Pstn

log = logging.getLogger("clickphone.telephony")


class TelephonyService:
    """Starts the media plane, then the SIP server; stops them in reverse order."""

    def __init__(self, settings: Settings, database: Database, bus: EventBus) -> None:
        self.settings = settings
        self.database = database
        self.bus = bus
        self.media: MediaController | None = None
        self.worker: WorkerProcess | None = None
        self.sip: SipServer | None = None
        self.pstn: Pstn | None = None  # trunks: router + registrations with carriers
        self.error: str | None = None
        self.flows: FlowEngine | None = None  # the call-flow runtime
        # click-to-call and "Call back" (app.state.originator)
        self.originator = CallbackOriginator(lambda: self.sip)

    def _media_ip(self) -> str:
        s = self.settings
        return s.media_ip or s.public_ip or detect_host(s.sip_host)

    async def _start_media(self) -> MediaController:
        s = self.settings
        bind_ip = "127.0.0.1" if s.sip_host in ("127.0.0.1", "localhost") else "0.0.0.0"
        if s.media_mode == "rtpengine":
            host, port = parse_hostport(s.rtpengine_ng, "127.0.0.1")
            dtmf = (
                parse_hostport(s.rtpengine_dtmf_listen, "127.0.0.1")
                if s.rtpengine_dtmf_listen
                else None
            )
            return await RtpengineMediaController.connect(
                host, port, dtmf_listen=dtmf, rtp_timeout=s.rtp_timeout
            )
        if s.media_mode == "inprocess":
            local = LocalMediaController(
                RelayConfig(
                    bind_ip=bind_ip,
                    port_min=s.media_port_min,
                    port_max=s.media_port_max,
                    rtp_timeout=s.rtp_timeout,
                )
            )
            await local.__aenter__()
            return local
        self.worker = await start_worker(
            "--bind-ip",
            bind_ip,
            "--ports",
            f"{s.media_port_min}-{s.media_port_max}",
            "--rtp-timeout",
            str(s.rtp_timeout),
        )
        return await WorkerMediaController.connect(self.worker.host, self.worker.port)

    async def start(self) -> None:
        s = self.settings
        self.media = await self._start_media()
        secret = hashlib.sha256(b"sip-digest-nonce:" + s.ensure_secret_key().encode()).digest()
        self.sip = SipServer(
            SipServerConfig(
                host=s.sip_host,
                port=s.sip_port,
                tcp="tcp" in [t.lower() for t in s.sip_transports],
                tls_port=s.sip_tls_port if s.sip_tls_cert else None,
                tls_cert=str(s.sip_tls_cert) if s.sip_tls_cert else None,
                tls_key=str(s.sip_tls_key) if s.sip_tls_key else None,
                ws_port=s.ws_listen_port,
                wss_port=s.wss_listen_port if s.sip_tls_cert else None,
                ws_origins=s.ws_origins,
                realm=s.sip_realm,
                secret=secret,
                advertised_host=s.public_ip,
                media_ip=self._media_ip(),
                calls=CallSettings(ring_timeout=s.ring_timeout, max_duration=s.max_call_duration),
                tune_gc=True,  # serve is one long-lived process: fewer, later GC passes
            ),
            self.database,
            self.media,
            bus=self.bus,
        )
        self.pstn = Pstn(self.sip, self.database, self.bus, secret_key=s.ensure_secret_key())
        mailer = partial(smtp_send, s) if s.smtp_configured else None
        self.flows = install_flows(
            self.sip,
            FlowResolver(self.database, s.data_dir),
            data_dir=s.data_dir,
            bus=self.bus,
            trunk_router=self.pstn.router,
            mailer=mailer,
            mail_from=s.smtp_from,
        )
        try:
            host, port = await self.sip.start()
        except OSError as exc:
            self.error = f"cannot listen for SIP on {s.sip_host}:{s.sip_port}: {exc.strerror}"
            await self._stop_media()
            raise RuntimeError(self.error) from exc
        await self.pstn.start()
        ws = "".join(
            f"; SIP over {label} on port {addr[1]}"
            for label, addr in self.sip.endpoint.transports.local.items()
            if label in ("WS", "WSS")
        )
        print(f"SIP (udp+tcp) on {host}:{port}{ws}; media relay: {s.media_mode}", flush=True)

    async def _stop_media(self) -> None:
        if self.media is not None:
            await self.media.close()
            self.media = None
        if self.worker is not None:
            await self.worker.stop()
            self.worker = None

    async def stop(self) -> None:
        if self.pstn is not None:
            await self.pstn.stop()
            self.pstn = None
        if self.sip is not None:
            await self.sip.stop()
            self.sip = None
        await self._stop_media()

    def status(self) -> dict[str, Any]:
        if self.sip is None:
            return {"ok": False, "listening": False, "error": self.error}
        return {"ok": True, **self.sip.status(), "media": self.settings.media_mode}
