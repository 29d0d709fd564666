"""Call recording in the media plane: both parties in one stereo file, one party per channel.

The relay hands every RTP packet of a recorded call to :class:`CallRecording` (leg A — the
caller — on the left channel, leg B on the right). :class:`StereoAligner` is the pure core
(time passed in): it decodes G.711 (PCMU/PCMA; other payload types such as telephone-event
or comfort noise are skipped and become silence), places each packet on a common 8 kHz
timeline by its RTP timestamp — anchored to the arrival time of the first packet of each
stream, re-anchored on a new SSRC or when the timestamp drifts more than
:data:`RESYNC_SECONDS` from the arrival time — and fills gaps with silence. Audio older than
a short jitter delay is drained as interleaved 16-bit stereo.

The drained PCM goes to an :class:`AudioSink`: Opus in Ogg (``.ogg``/``.opus``) or MP3
(``.mp3``) via PyAV, or WAV (``.wav``, stdlib only, also the fallback when PyAV is missing).
The file is written as ``<path>.part`` and renamed to ``<path>`` when the recording stops,
so a finished name is always a complete file. Encoding runs in an executor thread supplied by
the relay, never on the relay's event loop.
"""

from __future__ import annotations

import asyncio
import os
import time
import wave
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from clickphone.media.control import RecordingInfo
from clickphone.rtp.g711 import alaw_decode, ulaw_decode
from clickphone.rtp.packet import payload_offset

RATE = 8000
RESYNC_SECONDS = 0.5
JITTER_SECONDS = 0.3
_DECODERS: dict[int, Callable[[bytes], bytes]] = {0: ulaw_decode, 8: alaw_decode}
FORMATS = {".ogg": "ogg", ".opus": "ogg", ".mp3": "mp3", ".wav": "wav"}


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


class _Stream:
    __slots__ = ("base_pos", "base_ts", "buf", "ssrc")

    def __init__(self) -> None:
        self.ssrc: int | None = None
        self.base_ts = 0
        self.base_pos = 0
        self.buf = bytearray()  # s16le samples from the aligner's ``flushed`` position


class StereoAligner:
    """Two RTP streams on one timeline; ``t0`` is the recording's start (monotonic)."""

    def __init__(self, t0: float, *, jitter: float = JITTER_SECONDS) -> None:
        self.t0 = t0
        self.jitter_samples = int(jitter * RATE)
        self.flushed = 0  # samples already drained (per channel)
        self.streams = (_Stream(), _Stream())
        self.packets = [0, 0]

    def feed(self, channel: int, data: bytes, now: float) -> None:
        """One RTP packet from the party on ``channel`` (0 left, 1 right), arrived at ``now``."""
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        decode = _DECODERS.get(data[1] & 0x7F)
        if decode is None:
            return
        try:
            start = payload_offset(data)
        except ValueError:
            return
        end = len(data)
        if data[0] & 0x20:  # padding: the last byte counts the padding bytes
            end -= data[-1]
        if end <= start:
            return
        pcm = decode(data[start:end])
        n = len(pcm) // 2
        ts = int.from_bytes(data[4:8], "big")
        ssrc = int.from_bytes(data[8:12], "big")
        arrival = round((now - self.t0) * RATE) - n
        s = self.streams[channel]
        pos = s.base_pos + _signed32(ts - s.base_ts)
        if s.ssrc != ssrc or abs(pos - arrival) > RESYNC_SECONDS * RATE:
            s.ssrc, s.base_ts, s.base_pos = ssrc, ts, max(arrival, 0)
            pos = s.base_pos
        offset = pos - self.flushed
        if offset + n <= 0:
            return  # too late: already written
        if offset < 0:
            pcm = pcm[-offset * 2 :]
            n += offset
            offset = 0
        need = (offset + n) * 2
        if len(s.buf) < need:
            s.buf.extend(bytes(need - len(s.buf)))
        s.buf[offset * 2 : need] = pcm
        self.packets[channel] += 1

    def drain(self, now: float) -> bytes:
        """Interleaved stereo s16le up to ``now`` minus the jitter delay (may be empty)."""
        return self._take(round((now - self.t0) * RATE) - self.jitter_samples)

    def finish(self) -> bytes:
        """Everything buffered (the recording stops)."""
        upto = self.flushed + max(len(s.buf) for s in self.streams) // 2
        return self._take(upto)

    def _take(self, upto: int) -> bytes:
        count = upto - self.flushed
        if count <= 0:
            return b""
        out = np.zeros((count, 2), dtype="<i2")
        for ch, s in enumerate(self.streams):
            take = min(count * 2, len(s.buf))
            if take:
                out[: take // 2, ch] = np.frombuffer(bytes(s.buf[:take]), dtype="<i2")
                del s.buf[:take]
        self.flushed = upto
        return out.tobytes()


class AudioSink(Protocol):
    def write(self, pcm: bytes) -> None: ...

    def close(self) -> None: ...


class WavSink:
    def __init__(self, path: Path, channels: int = 2) -> None:
        self._wav = wave.open(str(path), "wb")
        self._wav.setnchannels(channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(RATE)

    def write(self, pcm: bytes) -> None:
        self._wav.writeframes(pcm)

    def close(self) -> None:
        self._wav.close()


class AvSink:
    """Opus/Ogg or MP3 through PyAV (libopus, libmp3lame)."""

    def __init__(self, path: Path, fmt: str, bit_rate: int = 24000, channels: int = 2) -> None:
        import av

        self._av: Any = av
        self._out: Any = av.open(str(path), "w", format=fmt)
        codec = "libopus" if fmt == "ogg" else "libmp3lame"
        stream: Any = self._out.add_stream(codec, rate=RATE if fmt == "ogg" else 16000)
        self._layout = "stereo" if channels == 2 else "mono"
        self._channels = channels
        stream.layout = self._layout
        stream.bit_rate = bit_rate if fmt == "ogg" else 32000
        self._stream = stream
        self._rate = int(stream.rate)
        self._resampler: Any = None
        if self._rate != RATE:
            self._resampler = av.AudioResampler(format="s16p", layout=self._layout, rate=self._rate)
        self._pts = 0

    def write(self, pcm: bytes) -> None:
        if not pcm:
            return
        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame: Any = self._av.AudioFrame.from_ndarray(samples, format="s16", layout=self._layout)
        frame.sample_rate = RATE
        frame.pts = self._pts
        self._pts += samples.shape[1] // self._channels
        frames = self._resampler.resample(frame) if self._resampler is not None else [frame]
        for f in frames:
            for packet in self._stream.encode(f):
                self._out.mux(packet)

    def close(self) -> None:
        if self._resampler is not None:
            for f in self._resampler.resample(None):
                for packet in self._stream.encode(f):
                    self._out.mux(packet)
        for packet in self._stream.encode(None):
            self._out.mux(packet)
        self._out.close()


def open_sink(path: Path, fmt: str, channels: int = 2) -> AudioSink:
    if fmt == "wav":
        return WavSink(path, channels)
    return AvSink(path, fmt, channels=channels)


def av_available() -> bool:
    try:
        import av
    except ImportError:
        return False
    return "libopus" in av.codecs_available


class CallRecording:
    """One call being recorded: the aligner on the relay's loop, the sink in ``executor``.

    ``feed`` is called from the relay's hot path; ``tick`` (about once a second) drains the
    aligner and queues the PCM for the encoder thread; ``stop`` drains the rest, closes the
    file, renames it to its final name and returns its :class:`RecordingInfo`.

    With ``channels=1`` (one leg, e.g. voicemail) only channel 0 is fed and the file is mono.
    """

    def __init__(self, call_id: str, path: Path, executor: Executor, channels: int = 2) -> None:
        if channels not in (1, 2):
            raise ValueError(f"a recording has 1 or 2 channels, not {channels}")
        suffix = path.suffix.lower()
        fmt = FORMATS.get(suffix)
        if fmt is None:
            raise ValueError(f"unsupported recording format {suffix!r}")
        if fmt != "wav" and not av_available():
            path = path.with_suffix(".wav")  # no PyAV here: record uncompressed
            fmt = "wav"
        self.call_id = call_id
        self.path = path
        self.format = fmt
        self.channels = channels
        self.started_at = time.time()
        self.aligner = StereoAligner(time.monotonic())
        self._executor = executor
        self._part = path.with_name(path.name + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._sink: AudioSink = open_sink(self._part, fmt, channels)
        self._pending: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self.samples = 0

    def feed(self, channel: int, data: bytes) -> None:
        self.aligner.feed(channel, data, time.monotonic())

    def _submit(self, pcm: bytes) -> None:
        if not pcm or self._error is not None:
            return
        self.samples += len(pcm) // 4
        if self.channels == 1:  # the aligner is stereo: keep the left channel
            pcm = np.frombuffer(pcm, dtype="<i2")[::2].tobytes()
        loop = asyncio.get_running_loop()
        previous = self._pending

        def write() -> None:
            self._sink.write(pcm)

        async def chain() -> None:
            if previous is not None:
                await previous
            try:
                await loop.run_in_executor(self._executor, write)
            except Exception as exc:  # keep the call going; report at stop
                self._error = exc

        self._pending = asyncio.ensure_future(chain())

    def tick(self, now: float) -> None:
        self._submit(self.aligner.drain(now))

    async def stop(self) -> RecordingInfo:
        self._submit(self.aligner.finish())
        if self._pending is not None:
            await self._pending
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._sink.close)
        if self._error is not None:
            raise self._error
        os.replace(self._part, self.path)
        return RecordingInfo(
            call_id=self.call_id,
            path=str(self.path),
            format=self.format,
            duration_seconds=round(self.samples / RATE, 3),
            bytes=self.path.stat().st_size,
            started_at=self.started_at,
        )
