"""Audio for the prompt tests: tones encoded by PyAV, WAV inspection, an upload helper."""

from __future__ import annotations

import io
import math
import wave
from typing import Any

import av
import httpx
import numpy as np


def tone(
    fmt: str,
    codec: str,
    *,
    seconds: float = 1.0,
    rate: int = 44100,
    amp: float = 0.5,
    freq: float = 440.0,
) -> bytes:
    """A sine tone encoded by PyAV (``amp`` > 1 is clipped to full scale, like an overdriven
    microphone)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream: Any = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        t = np.arange(int(seconds * rate)) / rate
        x = np.clip(amp * np.sin(2 * np.pi * freq * t), -1.0, 1.0)
        frame = av.AudioFrame.from_ndarray(
            (x * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = rate
        frame.pts = 0
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def wav_info(data: bytes) -> tuple[int, int, int, float, float]:
    """(rate, channels, sample width, seconds, RMS dBFS) of a WAV file."""
    with wave.open(io.BytesIO(data)) as w:
        frames = w.readframes(w.getnframes())
        samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
        rms = math.sqrt(float(np.mean(samples * samples)))
        return (
            w.getframerate(),
            w.getnchannels(),
            w.getsampwidth(),
            w.getnframes() / w.getframerate(),
            20 * math.log10(rms / 32767),
        )


async def upload(
    c: httpx.AsyncClient, data: bytes, filename: str, name: str = "Greeting", **form: str
) -> httpx.Response:
    return await c.post(
        "/api/v1/prompts",
        files={"file": (filename, data, "application/octet-stream")},
        data={"name": name, **form},
    )
