"""SMS text encoding: GSM 03.38 7-bit or UCS-2, split into parts, and back (pure, no I/O).

Outbound, :func:`segments` picks the encoding and cuts the text into ``short_message`` bodies:

* **GSM 7-bit** when every character is in the GSM 03.38 default alphabet or its extension
  table. SMPP carries the septets *unpacked*, one per octet (``data_coding`` 0); the SMSC
  packs them for the air interface. Extension characters (``^{}\\[~]|€`` and form feed) are
  an escape (0x1B) plus a septet, so they cost two.
* **UCS-2** (``data_coding`` 8, UTF-16-BE) otherwise. A character outside the BMP (most
  emoji) is a surrogate pair and costs two units.

One part holds up to 160 septets / 70 units. A longer text goes out as parts of at most
153 septets / 67 units, each behind a 6-byte User Data Header (IEI 0x00 "concatenated
short messages, 8-bit reference": ``05 00 03 ref total seq``), so the receiving phone
joins them. A character is never cut in two: an escape pair or a surrogate pair that does
not fit moves whole to the next part, which may then hold one unit less.

Inbound, :func:`split_udh` strips and reads a UDH (IEI 0x00 and 0x08, the 16-bit reference
variant) when ``esm_class`` has UDHI (0x40), and :func:`decode` turns a payload back into
text by ``data_coding`` (0 GSM 7-bit unpacked, 1 IA5/ASCII, 3 Latin-1, 8 UCS-2, and the
0xF0 message-class group). Reassembly joins the payloads *before* decoding, so a sender
that split a pair across parts still reads right.

:func:`transliterate` writes Russian Cyrillic in Latin letters (the ICAO Doc 9303 table
used in Russian passports, "Щука" -> "Shchuka") and typographic quotes and dashes in ASCII,
so that a Russian text fits GSM 7-bit: 160 characters a part instead of 70.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DC_GSM7",
    "DC_IA5",
    "DC_LATIN1",
    "DC_UCS2",
    "Concat",
    "Encoded",
    "decode",
    "decode_short_message",
    "encode_gsm7",
    "gsm7_septets",
    "is_gsm7",
    "segments",
    "split_udh",
    "transliterate",
]

DC_GSM7 = 0x00  # SMSC default alphabet, taken as GSM 03.38 (the universal carrier setting)
DC_IA5 = 0x01
DC_LATIN1 = 0x03
DC_UCS2 = 0x08

ESC = 0x1B
UDHI = 0x40  # esm_class bit: short_message starts with a User Data Header

SINGLE_GSM7 = 160
SINGLE_UCS2 = 70
PART_GSM7 = 153
PART_UCS2 = 67

IEI_CONCAT_8 = 0x00
IEI_CONCAT_16 = 0x08

# GSM 03.38 default alphabet, septet value = index (0x1B is the escape, never a character)
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(_BASIC) == 128
# Extension table: ESC + septet
_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_ENCODE: dict[str, bytes] = {ch: bytes([i]) for i, ch in enumerate(_BASIC) if i != ESC}
_ENCODE.update({ch: bytes([ESC, code]) for code, ch in _EXTENSION.items()})


@dataclass(frozen=True, slots=True)
class Encoded:
    """A text ready for submit_sm: one ``short_message`` per part (with its UDH when there
    are several), the ``data_coding`` for all of them, and the text's size in septets (GSM)
    or UTF-16 units (UCS-2), headers not counted."""

    data_coding: int
    parts: list[bytes]
    units: int

    @property
    def multipart(self) -> bool:
        return len(self.parts) > 1


@dataclass(frozen=True, slots=True)
class Concat:
    """A concatenation header: part ``seq`` (1-based) of ``total``, under ``reference``."""

    reference: int
    total: int
    seq: int


# ── outbound ──────────────────────────────────────────────────────────────────────────


def is_gsm7(text: str) -> bool:
    """True when every character has a GSM 03.38 septet (basic or extension table)."""
    return all(ch in _ENCODE for ch in text)


def gsm7_septets(text: str) -> int:
    """Septets the text costs in GSM 7-bit (extension characters count two).

    Raises ValueError for a character outside the GSM alphabet."""
    try:
        return sum(len(_ENCODE[ch]) for ch in text)
    except KeyError as exc:
        raise ValueError(f"not in the GSM 03.38 alphabet: {exc.args[0]!r}") from None


def encode_gsm7(text: str) -> bytes:
    """GSM 7-bit, unpacked (one septet per octet, as SMPP carries it)."""
    try:
        return b"".join(_ENCODE[ch] for ch in text)
    except KeyError as exc:
        raise ValueError(f"not in the GSM 03.38 alphabet: {exc.args[0]!r}") from None


def _udh(reference: int, total: int, seq: int) -> bytes:
    return bytes([0x05, IEI_CONCAT_8, 0x03, reference & 0xFF, total, seq])


def _pack(units: list[bytes], single: int, per_part: int, unit_size: int) -> list[bytes]:
    """Cut a list of indivisible code chunks into bodies of at most ``single`` (one part)
    or ``per_part`` (several) units, where a unit is ``unit_size`` bytes."""
    total = sum(len(u) for u in units) // unit_size
    if total <= single:
        return [b"".join(units)]
    parts: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for chunk in units:
        n = len(chunk) // unit_size
        if size + n > per_part:
            parts.append(b"".join(current))
            current, size = [], 0
        current.append(chunk)
        size += n
    if current:
        parts.append(b"".join(current))
    return parts


def segments(text: str, reference: int = 0) -> Encoded:
    """Encode ``text`` for SMPP and split it into parts.

    ``reference`` is the 8-bit concatenation reference put in every part's UDH (the
    caller varies it per message so that a phone never mixes two long texts); it does
    not change the number or size of the parts. An empty text is one empty part.
    """
    if is_gsm7(text):
        chunks = [_ENCODE[ch] for ch in text]
        bodies = _pack(chunks, SINGLE_GSM7, PART_GSM7, 1)
        data_coding = DC_GSM7
        units = sum(len(c) for c in chunks)
    else:
        chunks = [ch.encode("utf-16-be") for ch in text]
        bodies = _pack(chunks, SINGLE_UCS2, PART_UCS2, 2)
        data_coding = DC_UCS2
        units = sum(len(c) for c in chunks) // 2
    if len(bodies) > 255:
        raise ValueError(f"text too long for one concatenated SMS ({len(bodies)} parts > 255)")
    if len(bodies) == 1:
        return Encoded(data_coding, bodies, units)
    total = len(bodies)
    parts = [_udh(reference, total, i + 1) + body for i, body in enumerate(bodies)]
    return Encoded(data_coding, parts, units)


# ── inbound ───────────────────────────────────────────────────────────────────────────


def split_udh(short_message: bytes, esm_class: int) -> tuple[Concat | None, bytes]:
    """Strip the User Data Header when ``esm_class`` says there is one (UDHI, 0x40).

    Returns the concatenation information (IEI 0x00 or 0x08; None when there is none,
    e.g. a header with only port addressing) and the payload after the header. A header
    that claims more bytes than there are is taken as no header at all."""
    if not esm_class & UDHI or not short_message:
        return None, short_message
    udhl = short_message[0]
    if udhl + 1 > len(short_message):
        return None, short_message
    header = short_message[1 : udhl + 1]
    payload = short_message[udhl + 1 :]
    concat: Concat | None = None
    i = 0
    while i + 2 <= len(header):
        iei, length = header[i], header[i + 1]
        value = header[i + 2 : i + 2 + length]
        if len(value) < length:
            break
        if iei == IEI_CONCAT_8 and length == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == IEI_CONCAT_16 and length == 4:
            concat = Concat(int.from_bytes(value[0:2], "big"), value[2], value[3])
        i += 2 + length
    if concat is not None and not (1 <= concat.seq <= concat.total):
        concat = None
    return concat, payload


def _decode_gsm7(data: bytes) -> str:
    out: list[str] = []
    escaped = False
    for octet in data:
        septet = octet & 0x7F
        if escaped:
            # an unknown extension code shows the basic character (3GPP TS 23.038 6.2.1.1)
            out.append(_EXTENSION.get(septet, _BASIC[septet] if septet != ESC else " "))
            escaped = False
        elif septet == ESC:
            escaped = True
        else:
            out.append(_BASIC[septet])
    return "".join(out)


def decode(payload: bytes, data_coding: int) -> str:
    """Text of a ``short_message`` payload (UDH already stripped) by its ``data_coding``.

    Unknown or binary codings are read as Latin-1 so that nothing raises on a peer's
    odd choice; UCS-2 with an odd length or a lone surrogate is replaced, not raised."""
    if data_coding & 0xF0 == 0xF0:  # GSM DCS message-class group: bit 2 = 8-bit data
        data_coding = DC_LATIN1 if data_coding & 0x04 else DC_GSM7
    if data_coding == DC_GSM7:
        return _decode_gsm7(payload)
    if data_coding == DC_UCS2:
        return payload.decode("utf-16-be", errors="replace")
    if data_coding == DC_IA5:
        return payload.decode("ascii", errors="replace")
    return payload.decode("latin-1")


def decode_short_message(
    short_message: bytes, data_coding: int, esm_class: int = 0
) -> tuple[str, Concat | None]:
    """One inbound part: its text and, when it is a piece of a longer text, its position."""
    concat, payload = split_udh(short_message, esm_class)
    return decode(payload, data_coding), concat


# ── transliteration ───────────────────────────────────────────────────────────────────

# ICAO Doc 9303 (Russian international passports since 2013)
_RU_LATIN = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "ie",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "iu",
    "я": "ia",
}
# typography that Russian texts are full of and GSM 7-bit lacks
_PUNCT = {
    "«": '"',
    "»": '"',
    "„": '"',
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
    "–": "-",
    "—": "-",
    "−": "-",
    "…": "...",
    "№": "N",
    "\u00a0": " ",
}


def transliterate(text: str) -> str:
    """Russian Cyrillic to Latin letters, keeping case ("Щука" -> "Shchuka",
    "ЩУКА" -> "SHCHUKA"); anything else passes unchanged."""
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        low = ch.lower()
        latin = _RU_LATIN.get(low)
        if latin is None:
            out.append(_PUNCT.get(ch, ch))
            continue
        if ch == low or not latin:
            out.append(latin)
            continue
        # an upper-case letter: all caps inside an upper-case word, else a capital
        nxt = text[i + 1] if i + 1 < n else ""
        prev = text[i - 1] if i > 0 else ""
        shout = (nxt.isalpha() and nxt.isupper()) or (
            not (nxt.isalpha() and nxt.islower()) and prev.isalpha() and prev.isupper()
        )
        out.append(latin.upper() if shout else latin.capitalize())
    return "".join(out)
