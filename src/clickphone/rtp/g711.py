"""G.711 µ-law (PCMU) and A-law (PCMA) codecs as lookup tables (ITU-T G.711).

Our own tables, built once with numpy at import: encoding indexes a 65 536-entry table by the
16-bit sample, decoding a 256-entry table by the code byte. ``pcm16`` is signed 16-bit
little-endian (the native layout on every platform we run on), one channel.
We avoid the stdlib ``audioop`` module: it is deprecated and removed in Python 3.13.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635
_ALAW_SEG_END = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF)

_PCM_DTYPE = np.dtype("<i2")


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    s = np.arange(-32768, 32768, dtype=np.int32)
    negative = s < 0
    mag = np.minimum(np.abs(s), _ULAW_CLIP) + _ULAW_BIAS  # 132 .. 32767
    exponent = np.zeros_like(mag)
    for k in range(7):
        exponent += mag >= (256 << k)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    code = ~((negative.astype(np.int32) << 7) | (exponent << 4) | mantissa) & 0xFF
    table = np.empty(65536, dtype=np.uint8)
    table[s & 0xFFFF] = code.astype(np.uint8)
    return table


def _build_ulaw_decode() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(u & 0x80, -mag, mag).astype(np.int16)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    s = np.arange(-32768, 32768, dtype=np.int32)
    p = s >> 3  # 13-bit linear
    negative = p < 0
    mask = np.where(negative, 0x55, 0xD5)
    p = np.where(negative, -p - 1, p)  # 0 .. 4095
    seg = np.zeros_like(p)
    for end in _ALAW_SEG_END:
        seg += p > end
    shift = np.where(seg < 2, 1, seg)
    code = ((seg << 4) | ((p >> shift) & 0x0F)) ^ mask
    table = np.empty(65536, dtype=np.uint8)
    table[s & 0xFFFF] = code.astype(np.uint8)
    return table


def _build_alaw_decode() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    mantissa = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    mag = np.where(seg == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, mag, -mag).astype(np.int16)


ULAW_ENCODE_TABLE = _build_ulaw_encode()
ULAW_DECODE_TABLE = _build_ulaw_decode()
ALAW_ENCODE_TABLE = _build_alaw_encode()
ALAW_DECODE_TABLE = _build_alaw_decode()

ULAW_SILENCE = 0xFF
ALAW_SILENCE = 0xD5


def _pcm_index(pcm16: bytes) -> npt.NDArray[np.uint16]:
    if len(pcm16) % 2:
        raise ValueError(f"PCM16 buffer has an odd length ({len(pcm16)} bytes)")
    return np.frombuffer(pcm16, dtype=_PCM_DTYPE).view(np.uint16)


def ulaw_encode(pcm16: bytes) -> bytes:
    """Signed 16-bit little-endian PCM to µ-law, one byte per sample."""
    return ULAW_ENCODE_TABLE[_pcm_index(pcm16)].tobytes()


def ulaw_decode(data: bytes) -> bytes:
    """µ-law bytes to signed 16-bit little-endian PCM."""
    codes = np.frombuffer(data, dtype=np.uint8)
    return ULAW_DECODE_TABLE[codes].astype(_PCM_DTYPE).tobytes()


def alaw_encode(pcm16: bytes) -> bytes:
    """Signed 16-bit little-endian PCM to A-law, one byte per sample."""
    return ALAW_ENCODE_TABLE[_pcm_index(pcm16)].tobytes()


def alaw_decode(data: bytes) -> bytes:
    """A-law bytes to signed 16-bit little-endian PCM."""
    codes = np.frombuffer(data, dtype=np.uint8)
    return ALAW_DECODE_TABLE[codes].astype(_PCM_DTYPE).tobytes()
