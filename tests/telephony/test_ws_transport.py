"""SIP over WebSocket (RFC 7118): a `websockets` client on loopback registers, pings, calls
and is called; the connection is the only way back to it."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from _peers import require_binary
from clickphone.bus.bus import EventBus
from clickphone.config import load_settings
from clickphone.db.models import Base
from clickphone.db.session import Database
from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import SipRequest, SipResponse
from clickphone.sip.parser import parse_message
from clickphone.sip.transaction import Peer
from clickphone.telephony import TelephonyService
from clickphone.transport.ws import parse_frame
from telephony.miniua import MiniUa, UdpLink, WsLink
from telephony.pbx import Pbx, start_pbx, stop_pbx

SIP = Subprotocol("sip")


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[Pbx]:
    server = await start_pbx(tmp_path, ws_port=0, ws_ping_interval=5.0)
    try:
        yield server
    finally:
        await stop_pbx(server)


def ws_url(pbx: Pbx, label: str = "WS") -> str:
    host, port = pbx.server.endpoint.transports.local[label]
    return f"{label.lower()}://{host}:{port}"


def open_ws(pbx: Pbx, **kwargs: Any) -> Any:
    kwargs.setdefault("subprotocols", [SIP])
    return connect(ws_url(pbx), open_timeout=5, close_timeout=1, **kwargs)


def ws_ua(pbx: Pbx, ws: ClientConnection, ext: str) -> MiniUa:
    e = pbx.exts[ext]
    return MiniUa(WsLink(ws), e.username, e.password, pbx.hostport)


async def until(predicate: Callable[[], object], timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# -- framing (pure) -------------------------------------------------------------------------

OPTIONS = (
    b"OPTIONS sip:pbx SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK1\r\n"
    b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
)


def test_frame_content_length_must_match_the_body() -> None:
    assert parse_frame(OPTIONS + b"\r\n").method == "OPTIONS"  # type: ignore[union-attr]
    assert parse_frame(OPTIONS + b"Content-Length: 3\r\n\r\nabc").body == b"abc"
    # Content-Length is optional on a WebSocket (one message per frame) ...
    assert parse_frame(OPTIONS + b"\r\nabc").body == b"abc"
    # ... but when present it must be right: too short and too long are both errors.
    with pytest.raises(SipPeerError, match="Content-Length"):
        parse_frame(OPTIONS + b"Content-Length: 1\r\n\r\nabc")
    with pytest.raises(SipPeerError):
        parse_frame(OPTIONS + b"Content-Length: 9\r\n\r\nabc")


# -- registration and pings -----------------------------------------------------------------


async def test_register_with_digest_over_ws_binds_to_the_connection(pbx: Pbx) -> None:
    async with open_ws(pbx) as ws:
        assert ws.subprotocol == "sip"
        ua = ws_ua(pbx, ws, "101")
        challenge, ok = await ua.register()
        assert challenge.status == 401 and challenge.get_all("WWW-Authenticate")
        assert ok.status == 200
        assert ok.get("Contact") == f"{ua.contact};expires=300"
        [binding] = pbx.server.registrar.lookup(ua.user)
        local = ws.local_address
        # The Contact says x.invalid; the binding remembers the connection it came over.
        assert binding.contact.endswith(".invalid;transport=ws")
        assert binding.peer == Peer("WS", "127.0.0.1", local[1])
        assert binding.peer in pbx.server.endpoint.transports.ws_connections
        [event] = pbx.events_of("sip.registration.changed")
        assert event.payload["online"] is True
        assert event.payload["contacts"][0]["transport"] == "WS"
    status = pbx.server.status()
    assert status["ws_address"] == ws_url(pbx).removeprefix("ws://")
    assert status["ws_url"].startswith("ws://127.0.0.1:")


async def test_options_ping_and_crlf_keepalive(pbx: Pbx) -> None:
    async with open_ws(pbx) as ws:
        ua = ws_ua(pbx, ws, "101")
        ok = await ua.options()
        assert ok.status == 200 and "INVITE" in (ok.get("Allow") or "")
        # The response retraces our Via with the connection's address stamped on it.
        assert ";received=127.0.0.1" in (ok.get("Via") or "")
        await ws.send("\r\n\r\n")  # RFC 5626 ping (what SIP.js sends) -> CRLF pong
        assert await asyncio.wait_for(ws.recv(), 2) == "\r\n"
        # Content-Length present but wrong: answered 400, the connection stays up.
        await ws.send((OPTIONS + b"Content-Length: 1\r\n\r\nabc").decode())
        bad = parse_message(await asyncio.wait_for(ws.recv(decode=False), 2))
        assert isinstance(bad, SipResponse) and bad.status == 400
        assert (await ua.options()).status == 200


async def test_missing_or_wrong_subprotocol_is_refused(pbx: Pbx) -> None:
    for subprotocols in (None, ["chat"]):
        with pytest.raises(InvalidStatus) as info:
            async with open_ws(pbx, subprotocols=subprotocols):
                pass
        assert info.value.response.status_code == 400
    assert not pbx.server.endpoint.transports.ws_connections


async def test_garbage_closes_that_connection_only(pbx: Pbx) -> None:
    async with open_ws(pbx) as good, open_ws(pbx) as bad:
        before = pbx.server.endpoint.transports.stats["malformed"]
        await bad.send(b"\x00\xff\xfe garbage \x01\x02")
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(bad.recv(), 3)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1002
        assert info.value.rcvd.reason == "not a SIP message"
        assert pbx.server.endpoint.transports.stats["malformed"] == before + 1
        # The server and the other connection carry on.
        assert (await ws_ua(pbx, good, "102").options()).status == 200
    async with open_ws(pbx) as again:
        assert (await ws_ua(pbx, again, "102").options()).status == 200


async def test_frame_larger_than_a_sip_message_closes_with_1009(pbx: Pbx) -> None:
    async with open_ws(pbx) as ws:
        await ws.send("OPTIONS sip:pbx SIP/2.0\r\nX-Pad: " + "a" * 70_000 + "\r\n\r\n")
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 3)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009


async def test_closed_connection_takes_its_binding_with_it(pbx: Pbx) -> None:
    alice = pbx.exts["101"]
    async with open_ws(pbx) as ws:
        assert (await ws_ua(pbx, ws, "101").register())[1].status == 200
        assert pbx.server.registrar.lookup(alice.username)
    await until(lambda: not pbx.server.registrar.lookup(alice.username))
    await until(lambda: len(pbx.events_of("sip.registration.changed")) == 2)
    gone = pbx.events_of("sip.registration.changed")[-1]
    assert gone.payload["username"] == alice.username and gone.payload["online"] is False
    assert not pbx.server.registrar.by_connection
    # Nobody left to ring: a call to 101 is not sent into the void.
    link = await UdpLink((pbx.host, pbx.port)).open()
    try:
        bob = MiniUa(link, pbx.exts["102"].username, pbx.exts["102"].password, pbx.hostport)
        resp, _ = await bob.call("101")
        assert resp.status == 480
    finally:
        link.close()


async def test_ws_binding_does_not_outlive_a_restart(tmp_path: Path) -> None:
    pbx = await start_pbx(tmp_path, ws_port=0)
    alice = pbx.exts["101"]
    async with open_ws(pbx) as ws:
        assert (await ws_ua(pbx, ws, "101").register())[1].status == 200
        await pbx.server.registrar.store.flush()  # persisted like any binding
        # the server stops while the browser is still connected
        await stop_pbx(pbx, dispose=False)
    again = await start_pbx(tmp_path, ws_port=0, database=pbx.database, provision_exts=False)
    try:
        assert again.server.registrar.lookup(alice.username) == []
        await again.server.registrar.store.flush()
        assert await again.server.registrar.store.load(0) == []
    finally:
        await stop_pbx(again)


# -- calls ----------------------------------------------------------------------------------


async def test_call_from_ws_client_to_udp_phone_and_bye_over_ws(pbx: Pbx) -> None:
    link = await UdpLink((pbx.host, pbx.port)).open()
    try:
        bob = MiniUa(link, pbx.exts["102"].username, pbx.exts["102"].password, pbx.hostport)
        assert (await bob.register())[1].status == 200
        async with open_ws(pbx) as ws:
            alice = ws_ua(pbx, ws, "101")
            assert (await alice.register())[1].status == 200
            calling = asyncio.create_task(alice.call("102"))
            b_leg = await bob.answer()
            assert (b_leg.invite.get("Via") or "").startswith("SIP/2.0/UDP ")
            resp, a_leg = await calling
            assert resp.status == 200 and resp.body.startswith(b"v=0")
            # Our Contact towards a WS peer says how to reach us: over this WebSocket.
            assert a_leg.remote_target.endswith(";transport=ws")
            assert a_leg.remote_target.startswith(f"sip:{pbx.host}:")
            await until(lambda: bool(pbx.server.calls and pbx.server.calls.calls))
            # Alice hangs up over the WebSocket; Bob gets the BYE over UDP.
            bye_task = asyncio.create_task(alice.bye(a_leg))
            await bob.expect_bye()
            assert (await bye_task).status == 200
        await until(lambda: bool(pbx.events_of("call.ended")))
    finally:
        link.close()


async def test_call_from_udp_phone_reaches_ws_client_over_its_connection(pbx: Pbx) -> None:
    link = await UdpLink((pbx.host, pbx.port)).open()
    try:
        bob = MiniUa(link, pbx.exts["102"].username, pbx.exts["102"].password, pbx.hostport)
        async with open_ws(pbx) as ws:
            alice = ws_ua(pbx, ws, "101")
            assert (await alice.register())[1].status == 200
            calling = asyncio.create_task(bob.call("101"))
            a_leg = await alice.answer()
            invite = a_leg.invite
            assert isinstance(invite, SipRequest)
            # Sent to the registered Contact (x.invalid), delivered on the WebSocket.
            assert invite.uri == pbx.server.registrar.lookup(alice.user)[0].contact
            assert ".invalid" in invite.uri
            assert (invite.get("Via") or "").startswith(f"SIP/2.0/WS {pbx.host}:")
            assert a_leg.remote_target.endswith(";transport=ws")
            resp, b_leg = await calling
            assert resp.status == 200
            # Bob hangs up; the BYE comes down the WebSocket.
            bye_task = asyncio.create_task(bob.bye(b_leg))
            bye = await alice.expect_bye()
            assert (bye.get("Via") or "").startswith("SIP/2.0/WS ")
            assert (await bye_task).status == 200
    finally:
        link.close()


async def test_ws_client_vanishing_mid_call_ends_it(pbx: Pbx) -> None:
    link = await UdpLink((pbx.host, pbx.port)).open()
    try:
        bob = MiniUa(link, pbx.exts["102"].username, pbx.exts["102"].password, pbx.hostport)
        async with open_ws(pbx) as ws:
            alice = ws_ua(pbx, ws, "101")
            assert (await alice.register())[1].status == 200
            calling = asyncio.create_task(bob.call("101"))
            await alice.answer()
            resp, b_leg = await calling
            assert resp.status == 200
        # The browser tab closed. Bob's BYE towards it cannot go anywhere: Bob gets his
        # answer, the call ends, and the BYE to the dead connection fails at once as a
        # transport error instead of lingering until timer F (32 s).
        bye = await asyncio.wait_for(bob.bye(b_leg), 5)
        assert bye.status == 200
        await until(lambda: bool(pbx.events_of("call.ended")))
        layer = pbx.server.endpoint.layer

        def byes_to_ws() -> list[Any]:
            return [
                tx
                for tx in layer._client.values()
                if tx.peer.transport == "WS" and tx.request.method == "BYE" and not tx.terminated
            ]

        await until(lambda: not byes_to_ws(), timeout=1.0)
    finally:
        link.close()


# -- origins and TLS ------------------------------------------------------------------------


async def test_origin_check_refuses_other_sites(tmp_path: Path) -> None:
    pbx = await start_pbx(tmp_path, ws_port=0, ws_origins=("https://phone.example",))
    try:
        with pytest.raises(InvalidStatus) as info:
            async with open_ws(pbx, origin="https://evil.example"):
                pass
        assert info.value.response.status_code == 403
        async with open_ws(pbx, origin="https://phone.example") as ws:
            assert (await ws_ua(pbx, ws, "101").options()).status == 200
        async with open_ws(pbx) as ws:  # not a browser: no Origin at all
            assert (await ws_ua(pbx, ws, "101").options()).status == 200
    finally:
        await stop_pbx(pbx)


def self_signed_cert(tmp_path: Path) -> tuple[Path, Path]:
    openssl = require_binary("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


async def test_register_over_wss(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    pbx = await start_pbx(tmp_path, wss_port=0, tls_cert=str(cert), tls_key=str(key))
    try:
        assert "TLS" not in pbx.server.endpoint.transports.local  # only WSS was asked for
        context = ssl.create_default_context(cafile=str(cert))
        async with connect(ws_url(pbx, "WSS"), subprotocols=[SIP], ssl=context) as ws:
            ua = ws_ua(pbx, ws, "101")
            assert (await ua.register())[1].status == 200
            [binding] = pbx.server.registrar.lookup(ua.user)
            assert binding.peer.transport == "WSS"
        assert pbx.server.status()["wss_url"].startswith("wss://")
    finally:
        await stop_pbx(pbx)


# -- configuration and wiring ---------------------------------------------------------------


def test_ws_settings_from_environment_and_transports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = load_settings(data_dir=tmp_path)
    assert (s.ws_listen_port, s.wss_listen_port, s.ws_origins) == (None, None, ())  # off
    monkeypatch.setenv("CLICKPHONE_SIP_WS_PORT", "8088")
    monkeypatch.setenv("CLICKPHONE_SIP_WS_ORIGINS", "https://a.example, https://b.example/")
    s = load_settings(data_dir=tmp_path)
    assert s.ws_listen_port == 8088
    assert s.ws_origins == ("https://a.example", "https://b.example")
    monkeypatch.delenv("CLICKPHONE_SIP_WS_PORT")
    s = load_settings(data_dir=tmp_path, sip_transports=["udp", "tcp", "ws", "wss"])
    assert (s.ws_listen_port, s.wss_listen_port) == (5066, 7443)  # the usual ports


async def test_telephony_service_starts_ws_and_health_shows_it(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, sip_host="127.0.0.1", sip_port=0, sip_ws_port=0,
        media_mode="inprocess", public_ip="127.0.0.1",
    )  # fmt: skip
    database = Database(settings.effective_database_url)
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    service = TelephonyService(settings, database, EventBus())
    try:
        await service.start()
        status = service.status()
        assert status["ok"] and status["ws_address"].startswith("127.0.0.1:")
        port = int(status["ws_address"].rsplit(":", 1)[1])
        assert port != 0 and status["ws_url"] == f"ws://127.0.0.1:{port}"
        async with connect(f"ws://127.0.0.1:{port}", subprotocols=[SIP]) as ws:
            ua = MiniUa(WsLink(ws), "nobody", "x", f"127.0.0.1:{port}")
            assert (await ua.options()).status == 200
    finally:
        await service.stop()
        await database.dispose()
