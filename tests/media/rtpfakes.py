"""Fake RTP endpoints (plain asyncio UDP sockets on 127.0.0.1) for the media tests.

(A module of its own: ``from conftest import`` is ambiguous between conftest files.)"""

from __future__ import annotations

import asyncio
from typing import cast

from clickphone.rtp.dtmf import TelephoneEvent
from clickphone.rtp.g711 import ulaw_encode
from clickphone.rtp.packet import RtpPacket
from clickphone.rtp.tone import sine_pcm16
from clickphone.sip.sdp import SessionDescription

TICK = 0.05
RTP_TIMEOUT = 0.4


class Endpoint(asyncio.DatagramProtocol):
    """A phone's RTP socket: records what it receives, sends a G.711 tone on demand."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.seq = 0
        self.ts = 0

    @classmethod
    async def open(cls) -> Endpoint:
        ep = cls()
        await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: ep, local_addr=("127.0.0.1", 0)
        )
        return ep

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # the selector datagram transport is not a DatagramTransport subclass: cast
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((data, addr))

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def sdp(self, *, port: int | None = None, direction: str = "sendrecv") -> bytes:
        p = self.port if port is None else port
        return (
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {p} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
            "a=ice-ufrag:abcd\r\na=candidate:1 1 UDP 1 192.0.2.1 9 typ host\r\n"
            f"a={direction}\r\n"
        ).encode()

    def send_tone(self, dest: tuple[str, int], freq: float, frames: int = 1) -> None:
        assert self.transport is not None
        for _ in range(frames):
            pcm = sine_pcm16(freq, 0.02, amplitude=0.3, start_sample=self.ts)
            pkt = RtpPacket(0, self.seq, self.ts, 0x1234, payload=ulaw_encode(pcm))
            self.transport.sendto(pkt.serialize(), dest)
            self.seq += 1
            self.ts += 160

    def send_dtmf(self, dest: tuple[str, int], digit_event: int) -> None:
        assert self.transport is not None
        ts = self.ts
        for i in range(1, 4):
            ev = TelephoneEvent(digit_event, False, 10, 160 * i)
            self.transport.sendto(
                RtpPacket(101, self.seq, ts, 0x1234, payload=ev.serialize()).serialize(), dest
            )
            self.seq += 1
        end = TelephoneEvent(digit_event, True, 10, 800)
        for _ in range(3):  # the End packet is sent three times (RFC 4733 §2.5.1.4)
            self.transport.sendto(
                RtpPacket(101, self.seq, ts, 0x1234, payload=end.serialize()).serialize(), dest
            )
            self.seq += 1
        self.ts += 960

    async def recv(self, wait: float = 2.0) -> tuple[bytes, tuple[str, int]]:
        return await asyncio.wait_for(self.received.get(), wait)

    def drain(self) -> list[bytes]:
        out = []
        while not self.received.empty():
            out.append(self.received.get_nowait()[0])
        return out

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def relay_port(sdp: bytes) -> int:
    audio = SessionDescription.parse(sdp).audio()
    assert audio is not None
    return audio.port
