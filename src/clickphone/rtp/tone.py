"""Tone generation and Goertzel detection for audio checks.

``sine_pcm16`` makes a test tone; ``tone_power`` measures one frequency with the Goertzel
recursion; ``dominant_frequency`` picks the strongest of a few candidates. System tests send a
different frequency each way through a call and assert both ends hear the other's tone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

Samples = bytes | bytearray | memoryview | npt.NDArray[np.generic] | Sequence[float]


def _as_floats(samples: Samples) -> list[float]:
    """Samples normalised to [-1, 1). Bytes are read as signed 16-bit little-endian PCM."""
    if isinstance(samples, bytes | bytearray | memoryview):
        arr = np.frombuffer(bytes(samples), dtype="<i2").astype(np.float64) / 32768.0
        return list(arr.tolist())
    if isinstance(samples, np.ndarray):
        if np.issubdtype(samples.dtype, np.integer):
            return list((samples.astype(np.float64) / 32768.0).tolist())
        return list(samples.astype(np.float64).tolist())
    return [float(x) for x in samples]


def sine_pcm16(
    freq: float,
    seconds: float,
    rate: int = 8000,
    amplitude: float = 0.5,
    *,
    start_sample: int = 0,
) -> bytes:
    """A sine tone as signed 16-bit little-endian PCM.

    ``amplitude`` is a fraction of full scale (0..1). ``start_sample`` continues the phase of a
    previous chunk, so a stream can be generated 20 ms at a time without clicks.
    """
    if not 0.0 <= amplitude <= 1.0:
        raise ValueError("amplitude is a fraction of full scale, 0..1")
    n = round(seconds * rate)
    t = np.arange(start_sample, start_sample + n, dtype=np.float64)
    wave = np.sin(2.0 * math.pi * freq * t / rate) * (amplitude * 32767.0)
    return np.round(wave).astype("<i2").tobytes()


def tone_power(samples: Samples, freq: float, rate: int = 8000) -> float:
    """Power of ``freq`` in ``samples`` (Goertzel), as amplitude² of full scale.

    A pure sine of amplitude ``a`` (fraction of full scale) at exactly ``freq`` gives about
    ``a**2``; silence gives 0.
    """
    xs = _as_floats(samples)
    n = len(xs)
    if n == 0:
        return 0.0
    w = 2.0 * math.pi * freq / rate
    coeff = 2.0 * math.cos(w)
    s1 = s2 = 0.0
    for x in xs:
        s0 = x + coeff * s1 - s2
        s2 = s1
        s1 = s0
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 4.0 * power / (n * n)


def tone_powers(samples: Samples, freqs: Iterable[float], rate: int = 8000) -> dict[float, float]:
    return {f: tone_power(samples, f, rate) for f in freqs}


def dominant_frequency(
    samples: Samples, candidates: Iterable[float], rate: int = 8000, *, min_power: float = 0.0
) -> float | None:
    """The candidate frequency with the most power, or None if none exceeds ``min_power``."""
    powers = tone_powers(samples, candidates, rate)
    if not powers:
        return None
    best = max(powers, key=lambda f: powers[f])
    return best if powers[best] > min_power else None
