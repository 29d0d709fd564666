"""A tiny raw SIP-over-UDP client for tests: build requests, answer digest challenges."""

from __future__ import annotations

import asyncio
import secrets

from clickphone.sip.auth import build_authorization, parse_challenge
from clickphone.sip.message import SipRequest, SipResponse
from clickphone.sip.parser import parse_message


class _Proto(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.queue.put_nowait(data)


class UdpSipClient:
    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.proto = _Proto()
        self.port = 0
        self.cseq = 0
        self.call_id = secrets.token_hex(8)

    async def __aenter__(self) -> UdpSipClient:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self.proto, local_addr=("127.0.0.1", 0)
        )
        self.transport = transport  # type: ignore[assignment]
        self.port = transport.get_extra_info("sockname")[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.transport is not None:
            self.transport.close()

    def send_raw(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data, self.server)

    async def receive(self, timeout: float = 2.0) -> SipResponse:
        """The next final response (provisionals are skipped)."""
        while True:
            data = await asyncio.wait_for(self.proto.queue.get(), timeout)
            msg = parse_message(data)
            assert isinstance(msg, SipResponse), msg
            if msg.status >= 200:
                return msg

    def register(
        self,
        user: str,
        *,
        expires: int = 300,
        contact: str | None = None,
        authorization: str | None = None,
    ) -> SipRequest:
        self.cseq += 1
        host = f"{self.server[0]}:{self.server[1]}"
        headers = [
            (
                "Via",
                f"SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{secrets.token_hex(6)};rport",
            ),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{user}@{host}>;tag={secrets.token_hex(4)}"),
            ("To", f"<sip:{user}@{host}>"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} REGISTER"),
            ("Contact", contact or f"<sip:{user}@127.0.0.1:{self.port}>"),
            ("Expires", str(expires)),
            ("User-Agent", "raw-test-client"),
        ]
        if authorization is not None:
            headers.append(("Authorization", authorization))
        return SipRequest("REGISTER", f"sip:{host}", headers)

    async def register_with_auth(
        self,
        user: str,
        password: str,
        *,
        expires: int = 300,
        algorithm: str | None = None,
        contact: str | None = None,
    ) -> SipResponse:
        self.send_raw(self.register(user, expires=expires, contact=contact).to_bytes())
        challenge_resp = await self.receive()
        if challenge_resp.status != 401:
            return challenge_resp
        challenges = [parse_challenge(v) for v in challenge_resp.get_all("WWW-Authenticate")]
        assert challenges, challenge_resp.headers
        chosen = challenges[0]
        if algorithm is not None:
            chosen = next(c for c in challenges if c.algorithm.upper() == algorithm.upper())
        host = f"sip:{self.server[0]}:{self.server[1]}"
        auth = build_authorization(
            chosen, "REGISTER", host, user, password, 1, secrets.token_hex(4)
        )
        self.send_raw(
            self.register(user, expires=expires, contact=contact, authorization=auth).to_bytes()
        )
        return await self.receive()
