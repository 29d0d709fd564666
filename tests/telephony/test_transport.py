"""Transport duties: Via stamping (RFC 3581), stateless error replies, NAT keep-alives."""

from __future__ import annotations

import asyncio
from pathlib import Path

from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import SipRequest
from clickphone.sip.parser import parse_message
from clickphone.sip.transaction import Peer
from clickphone.transport.sip import salvage_error_response, stamp_via
from telephony.pbx import start_pbx, stop_pbx
from telephony.sipclient import UdpSipClient


def options(via: str) -> SipRequest:
    return SipRequest(
        "OPTIONS",
        "sip:pbx",
        [("Via", via), ("From", "<sip:a@x>;tag=1"), ("To", "<sip:b@x>"),
         ("Call-ID", "c"), ("CSeq", "1 OPTIONS")],
    )  # fmt: skip


def test_stamp_via_adds_received_and_fills_rport() -> None:
    req = options("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport, SIP/2.0/UDP 1.1.1.1")
    stamp_via(req, Peer("UDP", "203.0.113.7", 40123))
    first = req.get_all("Via")[0]
    assert first == "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport=40123;received=203.0.113.7"
    assert req.get_all("Via")[1] == "SIP/2.0/UDP 1.1.1.1"  # only the top hop is ours to stamp


def test_stamp_via_leaves_a_matching_host_alone() -> None:
    req = options("SIP/2.0/UDP 203.0.113.7:5060;branch=z9hG4bK1")
    stamp_via(req, Peer("UDP", "203.0.113.7", 5060))
    assert req.get("Via") == "SIP/2.0/UDP 203.0.113.7:5060;branch=z9hG4bK1"


def test_salvaged_error_response_keeps_routing_headers() -> None:
    raw = (
        b"INVITE sip:102@pbx SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK2\r\n"
        b"Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK3\r\nFrom: <sip:a@x>;tag=1\r\n"
        b"To: <sip:b@x>\r\nTo: <sip:c@x>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"
        b"Content-Length: 99\r\n\r\n"
    )
    reply = salvage_error_response(raw, SipPeerError("bad Content-Length"))
    assert reply is not None
    resp = parse_message(reply)
    assert resp.status == 400  # type: ignore[union-attr]
    assert len(resp.get_all("Via")) == 2 and resp.get_all("To") == ["<sip:b@x>"]
    assert salvage_error_response(b"\x00garbage", SipPeerError("x")) is None


async def test_nat_keepalive_reaches_only_natted_bindings(tmp_path: Path) -> None:
    pbx = await start_pbx(tmp_path, nat_keepalive_interval=0.2)
    try:
        natted, direct = pbx.exts["101"], pbx.exts["102"]
        async with (
            UdpSipClient((pbx.host, pbx.port)) as behind_nat,
            UdpSipClient((pbx.host, pbx.port)) as public,
        ):
            resp = await behind_nat.register_with_auth(
                natted.username, natted.password, contact="<sip:x@10.9.9.9:5060>"
            )
            assert resp.status == 200
            assert (await public.register_with_auth(direct.username, direct.password)).status == 200
            [b1] = pbx.server.registrar.lookup(natted.username)
            [b2] = pbx.server.registrar.lookup(direct.username)
            assert b1.nat and not b2.nat
            assert await asyncio.wait_for(behind_nat.proto.queue.get(), 2.0) == b"\r\n\r\n"
            await asyncio.sleep(0.6)
            assert public.proto.queue.empty()
    finally:
        await stop_pbx(pbx)
