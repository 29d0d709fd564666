"""Audio for the relay as an endpoint: prompt decoding (cached) and G.711 per-byte tables.

:func:`decode_file` turns an audio file into 8 kHz mono signed 16-bit PCM: a WAV that is
already 8 kHz mono s16 is read with the stdlib, anything else PyAV can open is decoded and
resampled. :class:`PromptCache` runs decoding in a worker thread (never on the event loop),
shares one decode between concurrent requests for the same file and keeps the most recently
used results keyed by path, mtime and size — prompts are short and replayed often. Each entry
also memoises its G.711 encodings.

:data:`ULAW_TO_ALAW` / :data:`ALAW_TO_ULAW` are 256-byte ``bytes.translate`` tables: PCMU and
PCMA are both 8-bit codes of the same 8 kHz samples, so transcoding a packet is one lookup
per byte (decode through the source law's table, re-encode through the other's).
"""

from __future__ import annotations

import asyncio
import os
import wave
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clickphone.media.control import MediaError
from clickphone.rtp.g711 import (
    ALAW_DECODE_TABLE,
    ALAW_ENCODE_TABLE,
    ULAW_DECODE_TABLE,
    ULAW_ENCODE_TABLE,
    alaw_encode,
    ulaw_encode,
)

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz

#: codec name (upper case, as in SDP) -> static payload type, silence byte, encoder
G711 = {
    "PCMU": (0, 0xFF, ulaw_encode),
    "PCMA": (8, 0xD5, alaw_encode),
}


def _cross_table(decode: np.ndarray[Any, Any], encode: np.ndarray[Any, Any]) -> bytes:
    linear = decode.astype(np.int16).view(np.uint16)
    return bytes(encode[linear].tobytes())


ULAW_TO_ALAW = _cross_table(ULAW_DECODE_TABLE, ALAW_ENCODE_TABLE)
ALAW_TO_ULAW = _cross_table(ALAW_DECODE_TABLE, ULAW_ENCODE_TABLE)
TRANSCODE = {("PCMU", "PCMA"): ULAW_TO_ALAW, ("PCMA", "PCMU"): ALAW_TO_ULAW}


def decode_file(path: str) -> bytes:
    """The file as 8 kHz mono s16le PCM; :class:`MediaError` if it cannot be decoded."""
    try:
        with wave.open(path, "rb") as w:
            if w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == RATE:
                if w.getcomptype() == "NONE":
                    return w.readframes(w.getnframes())
    except (wave.Error, EOFError):
        pass  # not a plain WAV: let PyAV try
    except OSError as exc:
        raise MediaError(f"cannot read {path}: {exc}") from exc
    return _decode_av(path)


def _decode_av(path: str) -> bytes:
    try:
        import av
    except ImportError as exc:  # pragma: no cover - PyAV is a dependency
        raise MediaError(f"cannot decode {path}: PyAV is not installed") from exc
    chunks: list[bytes] = []
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise MediaError(f"{path} has no audio stream")
            resampler: Any = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            for frame in container.decode(audio=0):
                chunks += [f.to_ndarray().tobytes() for f in resampler.resample(frame)]
            chunks += [f.to_ndarray().tobytes() for f in resampler.resample(None)]
    except MediaError:
        raise
    except (OSError, ValueError, av.FFmpegError) as exc:
        raise MediaError(f"cannot decode {path}: {exc}") from exc
    return b"".join(chunks)


@dataclass(slots=True)
class Prompt:
    """A decoded file: 8 kHz mono PCM and its G.711 encodings, made on first use."""

    pcm: bytes
    encoded: dict[str, bytes] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / RATE

    def encode(self, codec: str) -> bytes:
        """The whole file in ``codec`` (PCMU/PCMA), padded with silence to whole 20 ms frames."""
        data = self.encoded.get(codec)
        if data is None:
            _, silence, encoder = G711[codec]
            data = encoder(self.pcm)
            tail = len(data) % FRAME_SAMPLES
            if tail:
                data += bytes([silence]) * (FRAME_SAMPLES - tail)
            self.encoded[codec] = data
        return data


class PromptCache:
    """Decoded files by (path, mtime, size), least recently used dropped beyond ``size``."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, int, int], Prompt] = OrderedDict()
        self._pending: dict[tuple[str, int, int], asyncio.Future[Prompt]] = {}
        self.decodes = 0  # files actually decoded (for tests and stats)

    async def get(self, path: str) -> Prompt:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise MediaError(f"cannot play {path}: {exc.strerror or exc}") from exc
        key = (path, st.st_mtime_ns, st.st_size)
        prompt = self._entries.get(key)
        if prompt is not None:
            self._entries.move_to_end(key)
            return prompt
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Prompt] = loop.create_future()
        self._pending[key] = future
        try:
            pcm = await loop.run_in_executor(None, decode_file, path)
            self.decodes += 1
            prompt = Prompt(pcm)
            self._entries[key] = prompt
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
            future.set_result(prompt)
            return prompt
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._pending[key]
