"""baresip (Debian) registers with ClickPhone over MD5 digest and calls another extension.

baresip runs from a generated config directory (``-f DIR``): loopback SIP listener, G.711 only,
a WAV file as its microphone (``aufile``), the in-process ``aubridge`` as its speaker (no sound
device needed), and the ``ctrl_tcp`` module, through which the test sends commands and reads
events (netstring-framed JSON). The callee is a sipp UAS registered as 102.

baresip 1.0 only answers MD5 challenges and fails when a SHA-256 one is present, so the caller
is device 103, which the PBX challenges with MD5 only.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from _peers import require_binary
from telephony.pbx import Pbx, start_pbx, stop_pbx
from telephony.test_sipp import SIPP_EXTS, Sipp, free_port, register, settled

pytestmark = pytest.mark.interop

MODULES = Path("/usr/lib/baresip/modules")


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[Pbx]:
    require_binary("baresip")
    require_binary("sipp")
    p = await start_pbx(tmp_path, exts=SIPP_EXTS)
    yield p
    await stop_pbx(p)


def write_tone(path: Path, freq: float = 800.0, seconds: float = 2.0, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
                for i in range(int(seconds * rate))
            )
        )


def write_config(
    home: Path, *, pbx: Pbx, username: str, password: str, sip_port: int, ctrl_port: int
) -> None:
    home.mkdir()
    write_tone(home / "mic.wav")
    modules = ["g711.so", "aufile.so", "aubridge.so"]
    lines = [
        "poll_method epoll",
        f"sip_listen 127.0.0.1:{sip_port}",
        "call_local_timeout 20",
        "call_max_calls 2",
        f"audio_source aufile,{home / 'mic.wav'}",
        "audio_player aubridge,speaker",
        "audio_alert aubridge,alert",
        "rtp_stats no",
        f"module_path {MODULES}",
        *[f"module {m}" for m in modules],
        "module_tmp account.so",
        "module_app menu.so",
        "module_app ctrl_tcp.so",
        f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}",
    ]
    (home / "config").write_text("\n".join(lines) + "\n")
    (home / "accounts").write_text(
        f"<sip:{username}@{pbx.hostport};transport=udp>"
        f";auth_pass={password};regint=300;audio_codecs=PCMU,PCMA\n"
    )
    (home / "contacts").write_text("")


class Baresip:
    """A baresip process driven through ctrl_tcp (netstring-framed JSON)."""

    def __init__(self, proc: asyncio.subprocess.Process, home: Path) -> None:
        self.proc = proc
        self.home = home
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.events: list[dict[str, Any]] = []
        self._token = 0

    @classmethod
    async def start(cls, home: Path, ctrl_port: int) -> Baresip:
        log = (home / "baresip.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            require_binary("baresip"),
            "-f",
            str(home),
            "-t",
            "30",  # a hard stop of its own, whatever happens to the test
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        self = cls(proc, home)
        for _ in range(250):
            try:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", ctrl_port)
                break
            except OSError:
                assert proc.returncode is None, self.log_text()
                await asyncio.sleep(0.02)
        assert self.writer is not None, self.log_text()
        return self

    def log_text(self) -> str:
        return (self.home / "baresip.log").read_text(errors="replace")[-4000:]

    async def _read(self) -> dict[str, Any]:
        assert self.reader is not None
        length = int((await self.reader.readuntil(b":"))[:-1])
        data = await self.reader.readexactly(length + 1)
        assert data.endswith(b",")
        return dict(json.loads(data[:-1]))

    async def command(self, command: str, params: str = "") -> dict[str, Any]:
        assert self.writer is not None
        self._token += 1
        token = str(self._token)
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.writer.write(b"%d:%s," % (len(body), body))
        await self.writer.drain()
        async with asyncio.timeout(5):
            while True:
                msg = await self._read()
                if msg.get("response") and msg.get("token") == token:
                    return msg
                self.events.append(msg)

    async def event(self, type_: str, timeout: float = 10.0) -> dict[str, Any]:
        for msg in self.events:
            if msg.get("type") == type_:
                self.events.remove(msg)
                return msg
        try:
            async with asyncio.timeout(timeout):
                while True:
                    msg = await self._read()
                    if msg.get("event") and msg.get("type") == type_:
                        return msg
                    self.events.append(msg)
        except TimeoutError:
            pytest.fail(f"baresip: no {type_} event; saw {self.events}\n{self.log_text()}")

    async def close(self) -> None:
        if self.proc.returncode is None and self.writer is not None:
            try:
                await self.command("quit")
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                pass
        if self.writer is not None:
            self.writer.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 3)
        except TimeoutError:
            os.kill(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()


async def test_baresip_registers_md5_and_calls(pbx: Pbx, tmp_path: Path) -> None:
    callee_port = free_port()
    await register(pbx, tmp_path, "102", callee_port)
    uas = await Sipp.start("uas_answer.xml", tmp_path, port=callee_port)
    await uas.listening(callee_port)

    carol = pbx.exts["103"]
    ctrl_port = free_port(kind=1)  # SOCK_STREAM
    home = tmp_path / "baresip"
    write_config(
        home,
        pbx=pbx,
        username=carol.username,
        password=carol.password,
        sip_port=free_port(),
        ctrl_port=ctrl_port,
    )
    phone = await Baresip.start(home, ctrl_port)
    try:
        # baresip registers at start-up, maybe before ctrl_tcp is connected: watch the PBX.
        for _ in range(500):
            if pbx.server.registrar.lookup("carol103"):
                break
            await asyncio.sleep(0.02)
        (binding,) = pbx.server.registrar.lookup("carol103")
        assert "baresip" in binding.user_agent.lower()

        reply = await phone.command("dial", f"sip:102@{pbx.hostport}")
        assert reply.get("ok") is True, reply
        await phone.event("CALL_ESTABLISHED")
        assert pbx.server.calls is not None
        assert [c["state"] for c in pbx.server.calls.active_calls()] == ["answered"]
        await asyncio.sleep(0.5)
        await phone.command("hangup")
        await phone.event("CALL_CLOSED")
        await uas.expect_success()
        await settled(pbx)
    finally:
        uas.kill()
        await phone.close()

    started = pbx.events_of("call.started")
    assert [(e.payload["caller"], e.payload["callee"]) for e in started] == [("103", "102")]
    assert len(pbx.events_of("call.answered")) == 1
    assert [e.payload["reason"] for e in pbx.events_of("call.ended")] == ["hangup by caller"]
