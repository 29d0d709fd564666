"""SIP over TLS: the same server, a stream with an SSL context (OPTIONS and REGISTER)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

from _peers import require_binary
from clickphone.sip.auth import build_authorization, parse_challenge
from clickphone.sip.message import SipRequest, SipResponse
from clickphone.sip.parser import StreamParser
from telephony.pbx import start_pbx, stop_pbx


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    openssl = require_binary("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def register(user: str, port: int, cseq: int, auth: str | None = None) -> bytes:
    headers = [
        ("Via", f"SIP/2.0/TLS 127.0.0.1:{port};branch=z9hG4bKtls{cseq}"),
        ("Max-Forwards", "70"),
        ("From", f"<sips:{user}@127.0.0.1>;tag=t1"),
        ("To", f"<sips:{user}@127.0.0.1>"),
        ("Call-ID", "tls-call-1"),
        ("CSeq", f"{cseq} REGISTER"),
        ("Contact", f"<sips:{user}@127.0.0.1:{port}>"),
        ("Expires", "300"),
    ]
    if auth:
        headers.append(("Authorization", auth))
    return SipRequest("REGISTER", "sips:127.0.0.1", headers).to_bytes()


async def read_response(reader: asyncio.StreamReader, parser: StreamParser) -> SipResponse:
    while True:
        data = await asyncio.wait_for(reader.read(65536), 5)
        assert data, "connection closed"
        for item in parser.feed(data):
            if isinstance(item, SipResponse) and item.status >= 200:
                return item


async def test_register_over_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    pbx = await start_pbx(tmp_path, tls_port=0, tls_cert=str(cert), tls_key=str(key))
    try:
        tls_port = pbx.server.endpoint.transports.local["TLS"][1]
        client_ctx = ssl.create_default_context(cafile=str(cert))
        reader, writer = await asyncio.open_connection("127.0.0.1", tls_port, ssl=client_ctx)
        local_port = writer.get_extra_info("sockname")[1]
        parser = StreamParser()
        e = pbx.exts["101"]
        writer.write(register(e.username, local_port, 1))
        challenge = await read_response(reader, parser)
        assert challenge.status == 401
        ch = parse_challenge(challenge.get_all("WWW-Authenticate")[0])
        auth = build_authorization(ch, "REGISTER", "sips:127.0.0.1", e.username, e.password, 1, "c")
        writer.write(register(e.username, local_port, 2, auth))
        ok = await read_response(reader, parser)
        assert ok.status == 200
        [binding] = pbx.server.registrar.lookup(e.username)
        assert binding.peer.transport == "TLS"
        writer.close()
        await writer.wait_closed()
    finally:
        await stop_pbx(pbx)
