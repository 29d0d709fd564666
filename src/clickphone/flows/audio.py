"""Prompt audio: check an uploaded file, normalise it for telephony, render text with espeak-ng.

Blocking functions (PyAV decoding, file writes): call them in a worker thread.

:func:`prepare` takes the bytes of an upload (WAV, MP3, Ogg Vorbis/Opus, WebM/Opus from the
browser's MediaRecorder, MP4/AAC from Safari's) and returns 8 kHz mono signed 16-bit PCM,
level-normalised, or raises :class:`AudioRejected` with a stable ``reason``:

- ``format``: not one of those containers, or no decodable audio in it;
- ``too_large``: more than :data:`MAX_BYTES`;
- ``too_short`` / ``too_long``: outside :data:`MIN_SECONDS` .. :data:`MAX_SECONDS`;
- ``silent``: the RMS level is below :data:`SILENCE_DBFS`;
- ``clipped``: more than :data:`CLIPPED_FRACTION` of the samples sit flat on full scale.

The container is sniffed from its first bytes and the demuxer forced to it, so FFmpeg never
probes an upload as a playlist or concat script (those can open other files).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import os
import shutil
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

RATE = 8000
MAX_BYTES = 20 * 1024 * 1024
MIN_SECONDS = 0.3
MAX_SECONDS = 300.0
SILENCE_DBFS = -50.0
TARGET_RMS_DBFS = -20.0
PEAK_LIMIT_DBFS = -1.0
CLIPPED_FRACTION = 0.05
TTS_LANGS = ("en", "ru")
TTS_MAX_CHARS = 2000
TTS_TIMEOUT = 30.0

Reason = Literal["format", "too_long", "too_short", "too_large", "silent", "clipped"]
_FULL_SCALE = 32767
_RAIL = _FULL_SCALE - 2


class AudioRejected(ValueError):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class PreparedAudio:
    pcm: bytes  # 8 kHz mono s16le, normalised
    duration: float  # seconds
    container: str  # "wav", "mp3", "ogg", "webm", "mp4"
    rms_dbfs: float  # level of the original (before normalisation)


def sniff(data: bytes) -> str | None:
    """The container of ``data`` from its magic bytes, or None."""
    head = data[:16]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


_DEMUXERS = {"wav": "wav", "ogg": "ogg", "webm": "matroska", "mp4": "mp4", "mp3": "mp3"}


def _dbfs(value: float) -> float:
    return 20 * math.log10(value / _FULL_SCALE) if value > 0 else -math.inf


def _decode(data: bytes, container: str) -> tuple[np.ndarray[Any, Any], int]:
    """Mono s16 samples at the file's own rate."""
    import av

    chunks: list[np.ndarray[Any, Any]] = []
    rate = 0
    total = 0
    try:
        with av.open(io.BytesIO(data), mode="r", format=_DEMUXERS[container]) as src:
            streams = src.streams.audio
            if not streams:
                raise AudioRejected("format", "the file has no audio stream")
            stream: Any = streams[0]
            rate = int(stream.codec_context.sample_rate or stream.rate or 0)
            if rate <= 0:
                raise AudioRejected("format", "the audio has no sample rate")
            resampler: Any = av.AudioResampler(format="s16", layout="mono", rate=rate)
            for frame in src.decode(stream):
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    chunks.append(samples)
                    total += samples.shape[0]
                if total > (MAX_SECONDS + 1) * rate:
                    raise AudioRejected("too_long", f"longer than {MAX_SECONDS:.0f} s")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioRejected:
        raise
    except Exception as exc:  # FFmpeg errors of every kind: the file is not usable audio
        raise AudioRejected("format", f"not decodable audio ({type(exc).__name__})") from exc
    if not chunks:
        raise AudioRejected("format", "the file has no decodable audio")
    return np.concatenate(chunks).astype(np.int16, copy=False), rate


def _resample(samples: np.ndarray[Any, Any], rate: int) -> np.ndarray[Any, Any]:
    if rate == RATE:
        return samples
    import av

    frame: Any = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    frame.pts = 0
    resampler: Any = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)


def clipped_fraction(samples: np.ndarray[Any, Any]) -> float:
    """Share of samples on a flat top at full scale (a sample and a neighbour both there)."""
    if samples.shape[0] < 2:
        return 0.0
    s = samples.astype(np.int32)
    high = s >= _RAIL
    low = s <= -_RAIL
    flat = (high[1:] & high[:-1]) | (low[1:] & low[:-1])
    return float(np.count_nonzero(flat)) / float(samples.shape[0])


def rms(samples: np.ndarray[Any, Any]) -> float:
    if samples.shape[0] == 0:
        return 0.0
    f = samples.astype(np.float64)
    return float(np.sqrt(np.mean(f * f)))


def normalise(samples: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Scale to :data:`TARGET_RMS_DBFS`, keeping peaks under :data:`PEAK_LIMIT_DBFS`."""
    level = rms(samples)
    peak = float(np.max(np.abs(samples.astype(np.int32)))) if samples.shape[0] else 0.0
    if level <= 0 or peak <= 0:
        return samples
    gain = min(
        _FULL_SCALE * 10 ** (TARGET_RMS_DBFS / 20) / level,
        _FULL_SCALE * 10 ** (PEAK_LIMIT_DBFS / 20) / peak,
    )
    scaled = np.clip(np.round(samples.astype(np.float64) * gain), -_FULL_SCALE, _FULL_SCALE)
    return scaled.astype(np.int16)


def prepare(data: bytes) -> PreparedAudio:
    """Check ``data`` and return it as normalised 8 kHz mono PCM (see the module doc)."""
    if len(data) > MAX_BYTES:
        raise AudioRejected("too_large", f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    container = sniff(data)
    if container is None:
        raise AudioRejected("format", "not a WAV, MP3, OGG, WebM or MP4 audio file")
    samples, rate = _decode(data, container)
    duration = samples.shape[0] / rate
    if duration < MIN_SECONDS:
        raise AudioRejected("too_short", f"shorter than {MIN_SECONDS} s ({duration:.2f} s)")
    if duration > MAX_SECONDS:
        raise AudioRejected("too_long", f"longer than {MAX_SECONDS:.0f} s ({duration:.0f} s)")
    level = _dbfs(rms(samples))
    if level < SILENCE_DBFS:
        raise AudioRejected("silent", f"the audio is silent ({level:.0f} dBFS)")
    clipped = clipped_fraction(samples)
    if clipped > CLIPPED_FRACTION:
        raise AudioRejected("clipped", f"{clipped:.0%} of the audio is clipped; record it quieter")
    out = normalise(_resample(samples, rate))
    return PreparedAudio(
        pcm=out.astype("<i2").tobytes(),
        duration=out.shape[0] / RATE,
        container=container,
        rms_dbfs=level,
    )


def write_wav(path: Path, pcm: bytes, rate: int = RATE) -> None:
    """Write 16-bit mono ``pcm`` as a WAV file atomically (temp file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as raw, wave.open(raw, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- text to speech --------------------------------------------------------------------------
class TtsUnavailable(RuntimeError):
    """espeak-ng is not installed or failed."""


def espeak_binary() -> str | None:
    return shutil.which("espeak-ng")


def tts_key(text: str, lang: str) -> str:
    return hashlib.sha256(f"{lang}\0{text}".encode()).hexdigest()[:32]


async def synthesize(text: str, lang: str = "en") -> bytes:
    """espeak-ng's WAV rendering of ``text`` (the text goes in on stdin, never as an option)."""
    if lang not in TTS_LANGS:
        raise ValueError(f"language must be one of {', '.join(TTS_LANGS)}")
    binary = espeak_binary()
    if binary is None:
        raise TtsUnavailable("espeak-ng is not installed")
    proc = await asyncio.create_subprocess_exec(
        binary,
        "-v",
        lang,
        "--stdout",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(TTS_TIMEOUT):
            out, err = await proc.communicate(text.encode())
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise TtsUnavailable("espeak-ng took too long") from None
    if proc.returncode != 0 or not out:
        raise TtsUnavailable(f"espeak-ng failed: {err.decode(errors='replace').strip()[:200]}")
    return out


async def render_tts(text: str, lang: str, path: Path) -> PreparedAudio:
    """Render ``text`` and store it at ``path`` as a normalised 8 kHz mono WAV."""
    data = await synthesize(text, lang)
    prepared = await asyncio.to_thread(prepare, _fix_stdout_wav(data))
    await asyncio.to_thread(write_wav, path, prepared.pcm)
    return prepared


def _fix_stdout_wav(data: bytes) -> bytes:
    """espeak-ng writing to a pipe cannot seek back: its RIFF/data sizes are left as
    0x7FFFFFFF-ish placeholders. Patch them to the real sizes so every demuxer agrees."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return data
    buf = bytearray(data)
    buf[4:8] = (len(buf) - 8).to_bytes(4, "little")
    pos = 12
    while pos + 8 <= len(buf):
        chunk, size = bytes(buf[pos : pos + 4]), int.from_bytes(buf[pos + 4 : pos + 8], "little")
        if chunk == b"data":
            buf[pos + 4 : pos + 8] = (len(buf) - pos - 8).to_bytes(4, "little")
            break
        pos += 8 + size + (size & 1)
    return bytes(buf)
