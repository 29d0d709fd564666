"""Test-side handle on a pjsua2 softphone subprocess (see pjua_agent.py)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from clickphone.rtp.tone import tone_power

AGENT = Path(__file__).with_name("pjua_agent.py")

Event = dict[str, Any]


def pjsua2_available() -> bool:
    try:
        import pjsua2  # noqa: F401
    except ImportError:
        return False
    return True


class PjPhone:
    def __init__(
        self,
        *,
        registrar: str,
        user: str,
        password: str,
        workdir: Path,
        name: str,
        transport: str = "udp",
        tone: float = 0.0,
        record: bool = False,
        auto_answer: int = 0,
        expires: int = 300,
        prack: bool = False,
        session_timer: int = 0,
    ) -> None:
        self.name = name
        self.record_path = workdir / f"{name}-heard.wav" if record else None
        args = [
            sys.executable,
            str(AGENT),
            "--registrar",
            registrar,
            "--user",
            user,
            "--password",
            password,
            "--transport",
            transport,
            "--expires",
            str(expires),
            "--workdir",
            str(workdir),
        ]
        if tone:
            args += ["--tone", str(tone)]
        if self.record_path is not None:
            args += ["--record", str(self.record_path)]
        if prack:
            args.append("--prack")
        if session_timer:
            args += ["--session-timer", str(session_timer)]
        if auto_answer:
            args += ["--auto-answer", str(auto_answer)]
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.events: queue.Queue[Event] = queue.Queue()
        self.history: list[Event] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        ready = self.wait_for("ready", timeout=20)
        self.port = int(ready["port"])

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            text = line.decode("utf-8", "replace").strip()
            if text.startswith("{"):
                try:
                    self.events.put(json.loads(text))
                except json.JSONDecodeError:
                    continue

    def send(self, cmd: str, **kwargs: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"cmd": cmd, **kwargs}) + "\n").encode())
        self.proc.stdin.flush()

    def wait_for(
        self,
        event: str,
        predicate: Callable[[Event], bool] = lambda e: True,
        timeout: float = 10.0,
    ) -> Event:
        deadline = time.monotonic() + timeout
        for seen in self.history:
            if seen.get("event") == event and predicate(seen) and not seen.get("_used"):
                seen["_used"] = True
                return seen
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{self.name}: no {event!r} event within {timeout}s; saw {self.history}"
                )
            try:
                item = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            self.history.append(item)
            if item.get("event") == event and predicate(item):
                item["_used"] = True
                return item

    def call_state(self, state: str, timeout: float = 10.0) -> Event:
        return self.wait_for("call_state", lambda e: e.get("state") == state, timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        self._log.close()


def heard_power(path: Path, freq: float) -> float:
    """Goertzel power of ``freq`` in a recorded WAV, skipping the first 0.3 s."""
    with wave.open(str(path), "rb") as w:
        frames = w.readframes(w.getnframes())
        rate = w.getframerate()
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    samples = samples[int(0.3 * rate) :]  # skip the first packets (jitter buffer warm-up)
    return tone_power(samples, freq, rate)
