"""A small carrier on loopback for trunk tests: a registrar that demands digest auth, a
UAS that challenges INVITEs with 407 and then answers (or fails with a chosen status), and
a UAC that sends calls to a DID.

It binds another loopback address (127.0.0.2, 127.0.0.3, ...) so ClickPhone tells its
packets from the phones' on 127.0.0.1, as it would tell a carrier's network from customers.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from clickphone.sip.auth import DigestServer, compute_ha1
from clickphone.sip.message import NameAddr, SipRequest, SipResponse, make_response
from clickphone.sip.parser import parse_message
from clickphone.sip.transaction import new_branch

SDP = (
    "v=0\r\no=carrier 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
)


@dataclass
class Carrier:
    ip: str = "127.0.0.2"
    realm: str = "carrier.test"
    username: str = "clickphone-trunk"
    password: str = "trunk-Secret-1"
    invite_status: int = 200  # final answer to an authenticated INVITE
    challenge_invites: bool = True
    register_expires: int = 300
    port: int = 0
    registers: list[SipRequest] = field(default_factory=list)
    registered: list[float] = field(default_factory=list)  # times of accepted REGISTERs
    invites: list[SipRequest] = field(default_factory=list)  # authenticated INVITEs
    options: int = 0
    byes: int = 0
    responses: list[SipResponse] = field(default_factory=list)  # to our own requests

    def __post_init__(self) -> None:
        self.digest = DigestServer(self.realm, secrets.token_bytes(32))
        self._transport: asyncio.DatagramTransport | None = None
        self._waiters: list[tuple[str, asyncio.Future[SipResponse]]] = []
        self.contact: tuple[str, int] | None = None  # where ClickPhone registered
        self._dialogs: dict[str, tuple[str, str, str]] = {}
        self._last_uri = ""

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> Carrier:
        loop = asyncio.get_running_loop()
        carrier = self

        class Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
                carrier._received(data, (str(addr[0]), int(addr[1])))

        transport, _ = await loop.create_datagram_endpoint(Proto, local_addr=(self.ip, self.port))
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    @property
    def hostport(self) -> str:
        return f"{self.ip}:{self.port}"

    def send(self, msg: SipRequest | SipResponse, addr: tuple[str, int]) -> None:
        assert self._transport is not None
        self._transport.sendto(msg.to_bytes(), addr)

    # -- server side ---------------------------------------------------------------------
    def _lookup(self, username: str, algorithm: str) -> str | None:
        if username != self.username:
            return None
        return compute_ha1(username, self.realm, self.password, algorithm)

    def _authorized(self, req: SipRequest, header: str) -> bool:
        value = req.get(header)
        if value is None:
            return False
        result = self.digest.verify(req.method, value, self._lookup, time.time())
        return bool(result.ok)

    def _challenge(self, req: SipRequest, status: int, addr: tuple[str, int]) -> None:
        name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
        values = self.digest.challenge_headers(["MD5"], time.time())
        self.send(
            make_response(
                req, status, to_tag=secrets.token_hex(4), extra_headers=[(name, v) for v in values]
            ),
            addr,
        )

    def _received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data.strip() == b"":
            return
        msg = parse_message(data)
        if isinstance(msg, SipResponse):
            self._on_response(msg, addr)
            return
        req = msg
        if req.method == "REGISTER":
            self.registers.append(req)
            if not self._authorized(req, "Authorization"):
                self._challenge(req, 401, addr)
                return
            self.registered.append(time.monotonic())
            contact = req.contacts[0].uri if req.contacts else ""
            host_port = contact.split("@", 1)[-1].split(";", 1)[0]
            host, _, port = host_port.partition(":")
            self.contact = (host, int(port or 5060))
            self.send(
                make_response(
                    req,
                    200,
                    to_tag=secrets.token_hex(4),
                    extra_headers=[
                        ("Contact", f"<{contact}>;expires={self.register_expires}"),
                    ],
                ),
                addr,
            )
        elif req.method == "OPTIONS":
            self.options += 1
            self.send(make_response(req, 200, to_tag=secrets.token_hex(4)), addr)
        elif req.method == "INVITE":
            if self.challenge_invites and not self._authorized(req, "Proxy-Authorization"):
                self._challenge(req, 407, addr)
                return
            self.invites.append(req)
            tag = secrets.token_hex(4)
            if self.invite_status >= 300:
                self.send(make_response(req, self.invite_status, to_tag=tag), addr)
                return
            body = SDP.format(ip=self.ip, port=40000).encode()
            self.send(
                make_response(
                    req,
                    200,
                    to_tag=tag,
                    extra_headers=[
                        ("Contact", f"<sip:carrier@{self.hostport}>"),
                        ("Content-Type", "application/sdp"),
                    ],
                    body=body,
                ),
                addr,
            )
        elif req.method == "BYE":
            self.byes += 1
            self.send(make_response(req, 200), addr)
        elif req.method in ("ACK",):
            return
        else:
            self.send(make_response(req, 200), addr)

    # -- client side (calls from the PSTN) -------------------------------------------------
    def _on_response(self, resp: SipResponse, addr: tuple[str, int]) -> None:
        self.responses.append(resp)
        if resp.cseq[1] == "INVITE" and resp.status >= 200:
            self._ack(resp, addr)
        for key, fut in list(self._waiters):
            if key == resp.call_id and resp.status >= 200 and not fut.done():
                fut.set_result(resp)
                self._waiters.remove((key, fut))

    def _ack(self, resp: SipResponse, addr: tuple[str, int]) -> None:
        target = resp.contacts[0].uri if resp.status < 300 and resp.contacts else self._last_uri
        headers = [
            ("Via", f"SIP/2.0/UDP {self.hostport};branch={new_branch()}"),
            ("Max-Forwards", "70"),
            ("From", resp.get("From") or ""),
            ("To", resp.get("To") or ""),
            ("Call-ID", resp.call_id),
            ("CSeq", f"{resp.cseq[0]} ACK"),
        ]
        if resp.status >= 300:
            headers[0] = ("Via", resp.get("Via") or "")
        self.send(SipRequest("ACK", target, headers), addr)
        if resp.status < 300:
            self._dialogs[resp.call_id] = (target, resp.get("From") or "", resp.get("To") or "")

    async def call(
        self, did: str, caller: str, clickphone: tuple[str, int], *, caller_name: str = ""
    ) -> tuple[str, SipResponse]:
        """INVITE ``did`` at ClickPhone from ``caller``: (Call-ID, final response)."""
        call_id = f"{secrets.token_hex(8)}@{self.ip}"
        uri = f"sip:{did}@{clickphone[0]}:{clickphone[1]}"
        self._last_uri = uri
        display = f'"{caller_name}" ' if caller_name else ""
        body = SDP.format(ip=self.ip, port=40002).encode()
        req = SipRequest(
            "INVITE",
            uri,
            [
                ("Via", f"SIP/2.0/UDP {self.hostport};branch={new_branch()}"),
                ("Max-Forwards", "70"),
                ("From", f"{display}<sip:{caller}@{self.ip}>;tag={secrets.token_hex(4)}"),
                ("To", f"<sip:{did}@{self.ip}>"),
                ("Call-ID", call_id),
                ("CSeq", "1 INVITE"),
                ("Contact", f"<sip:{caller}@{self.hostport}>"),
                ("Content-Type", "application/sdp"),
            ],
            body,
        )
        fut: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()
        self._waiters.append((call_id, fut))
        self.send(req, clickphone)
        return call_id, await asyncio.wait_for(fut, 15.0)

    async def hangup(self, call_id: str, clickphone: tuple[str, int]) -> SipResponse:
        target, from_, to = self._dialogs[call_id]
        req = SipRequest(
            "BYE",
            target,
            [
                ("Via", f"SIP/2.0/UDP {self.hostport};branch={new_branch()}"),
                ("Max-Forwards", "70"),
                ("From", from_),
                ("To", to),
                ("Call-ID", call_id),
                ("CSeq", "2 BYE"),
            ],
        )
        fut: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()
        self._waiters.append((call_id, fut))
        self.send(req, clickphone)
        return await asyncio.wait_for(fut, 5.0)


def from_user(req: SipRequest) -> str:
    return NameAddr.parse(req.get("From") or "").uri.split(":", 1)[1].split("@", 1)[0]
