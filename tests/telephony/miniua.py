"""A minimal SIP user agent for tests, over a WebSocket (RFC 7118) or UDP link.

Enough of a phone to register with digest, place a call (answering the 407), answer one,
ACK, and hang up — written out by hand so a test can look at every message on the wire.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from websockets.asyncio.client import ClientConnection

from clickphone.sip.auth import build_authorization, parse_challenge
from clickphone.sip.message import NameAddr, SipRequest, SipResponse, make_response
from clickphone.sip.parser import parse_message

SipMsg = SipRequest | SipResponse


def sdp(port: int) -> bytes:
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    ).encode()


class Link(Protocol):
    via: str  # "SIP/2.0/WS abc.invalid" / "SIP/2.0/UDP 127.0.0.1:40000"
    contact_host: str  # "abc.invalid;transport=ws" / "127.0.0.1:40000"

    async def send(self, data: bytes) -> None: ...

    async def recv(self, timeout: float) -> bytes: ...


class WsLink:
    """One SIP message per WebSocket text message; the client's address is unknowable."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        name = secrets.token_hex(4)
        self.via = f"SIP/2.0/WS {name}.invalid"
        self.contact_host = f"{name}.invalid;transport=ws"

    async def send(self, data: bytes) -> None:
        await self.ws.send(data.decode())

    async def recv(self, timeout: float) -> bytes:
        return await asyncio.wait_for(self.ws.recv(decode=False), timeout)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.queue.put_nowait(data)


class UdpLink:
    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.proto = _Datagrams()
        self.transport: asyncio.DatagramTransport | None = None
        self.via = self.contact_host = ""

    async def open(self) -> UdpLink:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self.proto, local_addr=("127.0.0.1", 0)
        )
        self.transport = transport
        port = transport.get_extra_info("sockname")[1]
        self.via = f"SIP/2.0/UDP 127.0.0.1:{port};rport"
        self.contact_host = f"127.0.0.1:{port}"
        return self

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data, self.server)

    async def recv(self, timeout: float) -> bytes:
        while True:
            data = await asyncio.wait_for(self.proto.queue.get(), timeout)
            if data.strip(b"\r\n"):
                return data  # (CRLF keep-alives are skipped)


@dataclass
class Dialog:
    call_id: str
    local: str  # our From/To value with our tag
    remote: str  # theirs with their tag
    remote_target: str
    cseq: int
    invite: SipMsg  # the INVITE (sent or received)
    answer: SipMsg | None = None  # the 200 OK (sent or received)


@dataclass
class MiniUa:
    link: Link
    user: str
    password: str
    domain: str  # "127.0.0.1:5060"
    cseq: int = 0
    backlog: list[SipMsg] = field(default_factory=list)
    reg_call_id: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"

    @property
    def contact(self) -> str:
        return f"<sip:{self.user}@{self.link.contact_host}>"

    # -- wire ----------------------------------------------------------------------------
    async def send(self, message: SipMsg) -> None:
        await self.link.send(message.to_bytes())

    async def next(self, match: Callable[[SipMsg], bool], timeout: float = 5.0) -> SipMsg:
        """The next received message ``match`` accepts; others wait in the backlog."""
        for i, msg in enumerate(self.backlog):
            if match(msg):
                return self.backlog.pop(i)
        async with asyncio.timeout(timeout):
            while True:
                msg = parse_message(await self.link.recv(timeout))
                if match(msg):
                    return msg
                self.backlog.append(msg)

    async def final(self, request: SipRequest, timeout: float = 5.0) -> SipResponse:
        """The final response to ``request`` (provisionals skipped)."""
        call_id, cseq = request.call_id, request.cseq

        def match(m: SipMsg) -> bool:
            return (
                isinstance(m, SipResponse)
                and m.status >= 200
                and m.call_id == call_id
                and m.cseq == cseq
            )

        msg = await self.next(match, timeout)
        assert isinstance(msg, SipResponse)
        return msg

    async def incoming(self, method: str, timeout: float = 5.0) -> SipRequest:
        msg = await self.next(lambda m: isinstance(m, SipRequest) and m.method == method, timeout)
        assert isinstance(msg, SipRequest)
        return msg

    def request(
        self,
        method: str,
        uri: str,
        *,
        call_id: str,
        from_: str,
        to: str,
        cseq: int | None = None,
        branch: str | None = None,
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> SipRequest:
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        headers = [
            ("Via", f"{self.link.via};branch={branch or 'z9hG4bK' + secrets.token_hex(6)}"),
            ("Max-Forwards", "70"),
            ("From", from_),
            ("To", to),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} {method}"),
            *(extra or []),
        ]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        return SipRequest(method, uri, headers, body)

    def _authorize(self, challenge: SipResponse, method: str, uri: str) -> tuple[str, str]:
        header = "WWW-Authenticate" if challenge.status == 401 else "Proxy-Authenticate"
        ch = parse_challenge(challenge.get_all(header)[0])
        value = build_authorization(ch, method, uri, self.user, self.password, 1, "0a4f113b")
        return ("Authorization" if challenge.status == 401 else "Proxy-Authorization", value)

    # -- registration --------------------------------------------------------------------
    async def register(self, expires: int = 300) -> tuple[SipResponse, SipResponse]:
        """REGISTER; the challenge and the final answer to the authenticated retry."""
        uri = f"sip:{self.domain}"
        tag = secrets.token_hex(4)

        def build(auth: list[tuple[str, str]]) -> SipRequest:
            return self.request(
                "REGISTER", uri, call_id=self.reg_call_id, from_=f"<{self.aor}>;tag={tag}",
                to=f"<{self.aor}>",
                extra=[("Contact", self.contact), ("Expires", str(expires)), *auth],
            )  # fmt: skip

        first = build([])
        await self.send(first)
        challenge = await self.final(first)
        if challenge.status != 401:
            return challenge, challenge
        second = build([self._authorize(challenge, "REGISTER", uri)])
        await self.send(second)
        return challenge, await self.final(second)

    async def options(self) -> SipResponse:
        req = self.request(
            "OPTIONS", f"sip:{self.domain}", call_id=secrets.token_hex(8),
            from_=f"<{self.aor}>;tag={secrets.token_hex(4)}", to=f"<sip:{self.domain}>",
        )  # fmt: skip
        await self.send(req)
        return await self.final(req)

    # -- calls ---------------------------------------------------------------------------
    async def call(self, number: str, rtp_port: int = 40000) -> tuple[SipResponse, Dialog]:
        """INVITE ``number`` (answering the 407) up to its final response; ACK it."""
        uri = f"sip:{number}@{self.domain}"
        call_id = secrets.token_hex(8)
        local = f"<{self.aor}>;tag={secrets.token_hex(4)}"

        def build(auth: list[tuple[str, str]]) -> SipRequest:
            return self.request(
                "INVITE", uri, call_id=call_id, from_=local, to=f"<{uri}>",
                extra=[("Contact", self.contact), *auth], body=sdp(rtp_port),
            )  # fmt: skip

        invite = build([])
        await self.send(invite)
        resp = await self.final(invite)
        if resp.status == 407:
            await self.send(self._ack_non2xx(invite, resp))
            invite = build([self._authorize(resp, "INVITE", uri)])
            await self.send(invite)
            resp = await self.final(invite, timeout=10)
        if resp.status >= 300:
            await self.send(self._ack_non2xx(invite, resp))
        contact = resp.get("Contact")
        dialog = Dialog(
            call_id=call_id,
            local=local,
            remote=resp.get("To") or "",
            remote_target=NameAddr.parse(contact).uri if contact else uri,
            cseq=invite.cseq[0],
            invite=invite,
            answer=resp,
        )
        if 200 <= resp.status < 300:
            ack = self.request(
                "ACK", dialog.remote_target, call_id=call_id, from_=local, to=dialog.remote,
                cseq=dialog.cseq,
            )  # fmt: skip
            await self.send(ack)
        return resp, dialog

    def _ack_non2xx(self, invite: SipRequest, resp: SipResponse) -> SipRequest:
        branch = (invite.get("Via") or "").split("branch=", 1)[1].split(";", 1)[0]
        return self.request(
            "ACK", invite.uri, call_id=invite.call_id, from_=invite.get("From") or "",
            to=resp.get("To") or "", cseq=invite.cseq[0], branch=branch,
        )  # fmt: skip

    async def answer(self, rtp_port: int = 40002, timeout: float = 5.0) -> Dialog:
        """Wait for an INVITE, ring, answer 200 with SDP and wait for the ACK."""
        invite = await self.incoming("INVITE", timeout)
        tag = secrets.token_hex(4)
        await self.send(make_response(invite, 180, to_tag=tag))
        ok = make_response(
            invite,
            200,
            to_tag=tag,
            extra_headers=[("Contact", self.contact), ("Content-Type", "application/sdp")],
            body=sdp(rtp_port),
        )
        await self.send(ok)
        await self.incoming("ACK", timeout)
        contact = invite.get("Contact") or ""
        return Dialog(
            call_id=invite.call_id,
            local=ok.get("To") or "",
            remote=invite.get("From") or "",
            remote_target=NameAddr.parse(contact).uri,
            cseq=0,
            invite=invite,
            answer=ok,
        )

    async def bye(self, dialog: Dialog) -> SipResponse:
        dialog.cseq += 1
        bye = self.request(
            "BYE", dialog.remote_target, call_id=dialog.call_id, from_=dialog.local,
            to=dialog.remote, cseq=dialog.cseq,
        )  # fmt: skip
        await self.send(bye)
        return await self.final(bye)

    async def expect_bye(self, timeout: float = 5.0) -> SipRequest:
        bye = await self.incoming("BYE", timeout)
        await self.send(make_response(bye, 200))
        return bye
