"""Tones the call-flow runtime plays: ringback while a flow rings somebody, the voicemail beep,
the default music on hold. Generated once as 8 kHz mono 16-bit WAV files (the relay's native
prompt format) into a folder of the data directory."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 8000


def _tone(freqs: tuple[float, ...], seconds: float, level: float = 0.3) -> list[float]:
    n = int(RATE * seconds)
    return [
        level * sum(math.sin(2 * math.pi * f * i / RATE) for f in freqs) / max(1, len(freqs))
        for i in range(n)
    ]


def _silence(seconds: float) -> list[float]:
    return [0.0] * int(RATE * seconds)


def _write(path: Path, samples: list[float]) -> None:
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(
            b"".join(struct.pack("<h", int(max(-1.0, min(1.0, s)) * 32767)) for s in samples)
        )
    tmp.replace(path)


def _music() -> list[float]:
    """A calm arpeggio (C major, A minor) with soft note envelopes, ~8 s, loops cleanly."""
    notes = [261.63, 329.63, 392.0, 523.25, 220.0, 261.63, 329.63, 440.0] * 2
    out: list[float] = []
    for f in notes:
        tone = _tone((f, f * 2), 0.5, level=0.25)
        n = len(tone)
        out += [s * min(1.0, i / 400, (n - i) / 800) for i, s in enumerate(tone)]
    return out


TONES = {
    # 425 Hz, 1 s on / 4 s off (the European ringback cadence)
    "ringback": lambda: _tone((425.0,), 1.0) + _silence(4.0),
    "beep": lambda: _tone((1000.0,), 0.4, level=0.4),
    "music": _music,
}


def ensure_tones(folder: Path) -> dict[str, Path]:
    """Write the tones that are missing; return their paths by name."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, make in TONES.items():
        path = folder / f"{name}.wav"
        if not path.exists():
            _write(path, make())
        paths[name] = path
    return paths
