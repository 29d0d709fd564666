"""A pjsua2 softphone driven over stdin/stdout with JSON lines (a real third-party SIP peer).

Run as a subprocess by the interop tests (pjsua2 owns threads and global state, so it never
runs inside the pytest process). Commands, one JSON object per line on stdin:

    {"cmd": "register"}                 {"cmd": "unregister"}
    {"cmd": "call", "uri": "sip:102@127.0.0.1:5060"}
    {"cmd": "answer", "code": 200}      {"cmd": "hangup"}
    {"cmd": "dtmf", "digits": "123"}    {"cmd": "quit"}
    {"cmd": "hold"}  {"cmd": "unhold"}  (re-INVITEs)   {"cmd": "update"}  (UPDATE with SDP)

Events, one JSON object per line on stdout:

    {"event": "ready", "port": 40000}
    {"event": "reg", "code": 200, "expires": 300}
    {"event": "incoming", "from": "...", "call_id": "..."}
    {"event": "call_state", "state": "CONFIRMED", "code": 200, "reason": "OK"}
    {"event": "media", "active": true}
    {"event": "dtmf", "digit": "5"}

With ``--tone HZ`` the agent plays a sine of that frequency into every call; with ``--record
FILE`` it records what it hears in calls into a WAV file (8 kHz mono 16-bit). ``--auto-answer
CODE`` answers incoming calls at once with CODE (180 means ring forever).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import struct
import sys
import threading
import wave
from typing import Any

import pjsua2 as pj

_out_lock = threading.Lock()


def emit(**event: Any) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def write_sine_wav(path: str, freq: float, seconds: float = 2.0, rate: int = 8000) -> None:
    frames = bytearray()
    for n in range(int(seconds * rate)):
        frames += struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * n / rate)))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


class Agent:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ep = pj.Endpoint()
        self.account: Account | None = None
        self.call: Call | None = None
        self.player: pj.AudioMediaPlayer | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        self.tone_wav: str | None = None

    def start(self) -> None:
        ep = self.ep
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "pjsua2-interop"
        cfg.logConfig.level = self.args.log_level
        cfg.logConfig.consoleLevel = self.args.log_level
        cfg.medConfig.noVad = True
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.ecTailLen = 0
        ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = 0
        tcfg.boundAddress = "127.0.0.1"
        kind = pj.PJSIP_TRANSPORT_TCP if self.args.transport == "tcp" else pj.PJSIP_TRANSPORT_UDP
        tid = ep.transportCreate(kind, tcfg)
        port = ep.transportGetInfo(tid).localName.split(":")[-1]
        ep.libStart()
        ep.audDevManager().setNullDev()
        # Only G.711: tone detection on the far side relies on a waveform-preserving codec.
        for codec in ep.codecEnum2():
            prio = 0
            if codec.codecId.startswith("PCMU/"):
                prio = 255
            elif codec.codecId.startswith("PCMA/"):
                prio = 254
            ep.codecSetPriority(codec.codecId, prio)
        if self.args.tone:
            self.tone_wav = os.path.join(self.args.workdir, f"tone-{self.args.tone}.wav")
            write_sine_wav(self.tone_wav, self.args.tone)
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{self.args.user}@{self.args.registrar}"
        acfg.regConfig.registrarUri = f"sip:{self.args.registrar};transport={self.args.transport}"
        acfg.regConfig.registerOnAdd = False
        acfg.regConfig.timeoutSec = self.args.expires
        acfg.sipConfig.proxies.append(
            f"sip:{self.args.registrar};transport={self.args.transport};lr"
        )
        cred = pj.AuthCredInfo("digest", "*", self.args.user, 0, self.args.password)
        acfg.sipConfig.authCreds.append(cred)
        if self.args.prack:
            acfg.callConfig.prackUse = pj.PJSUA_100REL_MANDATORY
        if self.args.session_timer:
            acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_ALWAYS
            acfg.callConfig.timerSessExpiresSec = self.args.session_timer
            acfg.callConfig.timerMinSESec = min(90, self.args.session_timer)
        acfg.natConfig.sdpNatRewriteUse = 0
        acfg.natConfig.contactRewriteUse = 0
        acfg.natConfig.viaRewriteUse = 0
        self.account = Account(self)
        self.account.create(acfg)
        emit(event="ready", port=int(port))

    def handle(self, cmd: dict[str, Any]) -> bool:
        name = cmd.get("cmd")
        assert self.account is not None
        if name == "register":
            self.account.setRegistration(True)
        elif name == "unregister":
            self.account.setRegistration(False)
        elif name == "call":
            call = Call(self, self.account)
            prm = pj.CallOpParam(True)
            self.call = call
            call.makeCall(cmd["uri"], prm)
        elif name == "answer":
            if self.call is not None:
                prm = pj.CallOpParam()
                prm.statusCode = int(cmd.get("code", 200))
                self.call.answer(prm)
        elif name == "hangup":
            if self.call is not None:
                prm = pj.CallOpParam()
                self.call.hangup(prm)
        elif name == "hold":
            if self.call is not None:
                self.call.setHold(pj.CallOpParam(True))
        elif name == "unhold":
            if self.call is not None:
                prm = pj.CallOpParam(True)
                prm.opt.flag = pj.PJSUA_CALL_UNHOLD
                self.call.reinvite(prm)
        elif name == "update":
            if self.call is not None:
                self.call.update(pj.CallOpParam(True))
        elif name == "dtmf":
            if self.call is not None:
                self.call.dialDtmf(cmd["digits"])
        elif name == "quit":
            return False
        return True

    def media_active(self, call: Call) -> None:
        call_info = call.getInfo()  # keep it alive: .media items point into it
        for i, info in enumerate(call_info.media):
            if info.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            if info.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                emit(event="media", active=False, status=int(info.status))
                continue
            aud = call.getAudioMedia(i)
            if self.tone_wav and self.player is None:
                self.player = pj.AudioMediaPlayer()
                self.player.createPlayer(self.tone_wav, 0)
                self.player.startTransmit(aud)
            if self.args.record and self.recorder is None:
                self.recorder = pj.AudioMediaRecorder()
                self.recorder.createRecorder(self.args.record)
                aud.startTransmit(self.recorder)
            emit(event="media", active=True, dir=int(info.dir))

    def shutdown(self) -> None:
        self.recorder = None
        self.player = None
        self.call = None
        if self.account is not None:
            self.account.shutdown()
            self.account = None
        self.ep.libDestroy()


class Account(pj.Account):  # type: ignore[misc]
    def __init__(self, agent: Agent) -> None:
        super().__init__()
        self.agent = agent

    def onRegState(self, prm: Any) -> None:
        info = self.getInfo()
        emit(event="reg", code=int(prm.code), reason=str(prm.reason), expires=info.regExpiresSec)

    def onIncomingCall(self, prm: Any) -> None:
        call = Call(self.agent, self, prm.callId)
        self.agent.call = call
        info = call.getInfo()
        emit(event="incoming", remote=info.remoteUri, call_id=info.callIdString)
        code = self.agent.args.auto_answer
        if code:
            op = pj.CallOpParam()
            op.statusCode = code
            call.answer(op)


class Call(pj.Call):  # type: ignore[misc]
    def __init__(self, agent: Agent, account: Account, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(account, call_id)
        self.agent = agent

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        emit(
            event="call_state",
            state=info.stateText,
            code=int(info.lastStatusCode),
            reason=str(info.lastReason),
            call_id=info.callIdString,
        )
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.agent.recorder = None
            self.agent.player = None

    def onCallMediaState(self, prm: Any) -> None:
        try:
            self.agent.media_active(self)
        except BaseException as exc:  # a raise inside a pjsua2 callback is swallowed
            emit(event="error", message=f"media: {exc!r} {getattr(exc, 'info', lambda: '')()}")

    def onDtmfDigit(self, prm: Any) -> None:
        emit(event="dtmf", digit=str(prm.digit))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registrar", required=True, help="host:port of ClickPhone")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    parser.add_argument("--expires", type=int, default=300)
    parser.add_argument("--tone", type=float, default=0.0)
    parser.add_argument("--record", default="")
    parser.add_argument("--auto-answer", type=int, default=0)
    parser.add_argument("--workdir", default=".")
    parser.add_argument("--prack", action="store_true", help="require 100rel (PRACK)")
    parser.add_argument("--session-timer", type=int, default=0, help="RFC 4028 interval")
    parser.add_argument("--log-level", type=int, default=1)
    args = parser.parse_args()

    commands: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            line = line.strip()
            if line:
                commands.put(json.loads(line))
        commands.put(None)

    threading.Thread(target=read_stdin, daemon=True).start()
    agent = Agent(args)
    agent.start()
    running = True
    while running:
        agent.ep.libHandleEvents(10)
        try:
            cmd = commands.get_nowait()
        except queue.Empty:
            continue
        if cmd is None:
            break
        try:
            running = agent.handle(cmd)
        except pj.Error as exc:
            emit(event="error", message=str(exc.info()))
    agent.shutdown()
    emit(event="bye")


if __name__ == "__main__":
    main()
