"""GSM 03.38 / UCS-2 encoding, SMS segmentation and transliteration (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clickphone.messaging import gsm
from clickphone.messaging.gsm import Concat, decode_short_message, segments, transliterate

GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCXYZÄÖÑÜ§¿az"
GSM_EXT = "^{}\\[~]|€"


def _rejoin(enc: gsm.Encoded) -> str:
    esm = 0x40 if enc.multipart else 0
    return "".join(decode_short_message(p, enc.data_coding, esm)[0] for p in enc.parts)


def _bodies(enc: gsm.Encoded) -> list[bytes]:
    return [p[6:] for p in enc.parts] if enc.multipart else list(enc.parts)


def test_gsm_or_ucs2() -> None:
    assert segments("Hello, world! @£$").data_coding == gsm.DC_GSM7
    assert segments(GSM_BASIC + GSM_EXT).data_coding == gsm.DC_GSM7
    assert segments("Привет").data_coding == gsm.DC_UCS2
    assert segments("naïve").data_coding == gsm.DC_UCS2  # ï is not in GSM 03.38
    assert segments("`").data_coding == gsm.DC_UCS2
    assert segments("😀").data_coding == gsm.DC_UCS2


def test_gsm7_is_unpacked_septets() -> None:
    assert segments("@A€").parts == [b"\x00\x41\x1b\x65"]
    assert gsm.encode_gsm7("$¤") == b"\x02\x24"
    with pytest.raises(ValueError):
        gsm.encode_gsm7("Ж")


def test_ucs2_is_utf16be() -> None:
    enc = segments("Жук😀")
    assert enc.parts == ["Жук😀".encode("utf-16-be")]
    assert enc.units == 5  # the emoji is a surrogate pair


@pytest.mark.parametrize(
    ("text", "parts", "sizes"),
    [
        ("a" * 160, 1, [160]),
        ("a" * 161, 2, [153, 8]),
        ("a" * 306, 2, [153, 153]),
        ("a" * 307, 3, [153, 153, 1]),
        ("Ж" * 70, 1, [140]),
        ("Ж" * 71, 2, [134, 8]),
        ("Ж" * 134, 2, [134, 134]),
        ("Ж" * 135, 3, [134, 134, 2]),
    ],
)
def test_boundaries(text: str, parts: int, sizes: list[int]) -> None:
    enc = segments(text)
    assert len(enc.parts) == parts
    assert [len(b) for b in _bodies(enc)] == sizes
    assert _rejoin(enc) == text


def test_udh_is_concat_8bit() -> None:
    enc = segments("x" * 200, reference=0x1A5)  # only the low 8 bits go out
    assert [p[:6] for p in enc.parts] == [
        bytes([5, 0, 3, 0xA5, 2, 1]),
        bytes([5, 0, 3, 0xA5, 2, 2]),
    ]
    assert decode_short_message(enc.parts[1], 0, 0x40)[1] == Concat(0xA5, 2, 2)


def test_escape_chars_cost_two() -> None:
    assert segments("€" * 80).units == 160
    assert len(segments("€" * 80).parts) == 1
    assert len(segments("€" * 80 + "a").parts) == 2
    assert gsm.gsm7_septets("a{b}") == 6


def test_escape_pair_never_split() -> None:
    text = "a" * 152 + "€" + "b" * 10  # the euro would straddle septets 153/154
    enc = segments(text)
    first, second = _bodies(enc)
    assert len(first) == 152 and first[-1] != 0x1B
    assert second[:2] == b"\x1b\x65"
    assert _rejoin(enc) == text


def test_emoji_never_split() -> None:
    text = "a" * 66 + "😀" + "b" * 10  # the pair would straddle units 67/68
    enc = segments(text)
    first, second = _bodies(enc)
    assert len(first) == 132  # 66 units: the pair moved whole
    assert second.decode("utf-16-be").startswith("😀")
    assert _rejoin(enc) == text


def test_empty_text_is_one_empty_part() -> None:
    assert segments("") == gsm.Encoded(gsm.DC_GSM7, [b""], 0)


@given(st.text(max_size=700))
def test_round_trip_any_text(text: str) -> None:
    enc = segments(text, reference=7)
    assert _rejoin(enc) == text
    per_part = (153 if enc.data_coding == gsm.DC_GSM7 else 134) + 6
    single = 160 if enc.data_coding == gsm.DC_GSM7 else 140
    if enc.multipart:
        assert all(len(p) <= per_part for p in enc.parts)
        assert [decode_short_message(p, enc.data_coding, 0x40)[1] for p in enc.parts] == [
            Concat(7, len(enc.parts), i + 1) for i in range(len(enc.parts))
        ]
    else:
        assert len(enc.parts[0]) <= single


@given(st.text(alphabet=st.sampled_from(GSM_BASIC + GSM_EXT), max_size=500))
def test_gsm_texts_stay_gsm(text: str) -> None:
    enc = segments(text)
    assert enc.data_coding == gsm.DC_GSM7
    assert enc.units == sum(2 if c in GSM_EXT else 1 for c in text)
    assert _rejoin(enc) == text


def test_inbound_udh_16bit_and_other_ies() -> None:
    # IEI 0x08: 16-bit reference
    concat, payload = gsm.split_udh(bytes([6, 8, 4, 0x12, 0x34, 3, 2]) + b"Hi", 0x40)
    assert concat == Concat(0x1234, 3, 2) and payload == b"Hi"
    # a port-addressing IE (0x05) before the concatenation IE
    udh = bytes([11, 5, 4, 0x0B, 0x84, 0x23, 0xF0, 0, 3, 9, 2, 1])
    assert gsm.split_udh(udh + b"x", 0x40) == (Concat(9, 2, 1), b"x")
    # no UDHI: the bytes are text
    assert gsm.split_udh(b"\x05\x00\x03", 0) == (None, b"\x05\x00\x03")
    # a header longer than the message is no header
    assert gsm.split_udh(b"\x09ab", 0x40) == (None, b"\x09ab")


def test_inbound_codings() -> None:
    assert gsm.decode(b"\x00\x1b\x65\x41", 0) == "@€A"
    assert gsm.decode(b"abc", 1) == "abc"
    assert gsm.decode("Ünïcode".encode("latin-1"), 3) == "Ünïcode"
    assert gsm.decode("Жук".encode("utf-16-be"), 8) == "Жук"
    assert gsm.decode(b"\xd8\x3d", 8) == "\ufffd"  # a lone surrogate does not raise
    assert gsm.decode(b"\x41", 0xF0) == "A"  # message class group, default alphabet


def test_transliteration() -> None:
    assert transliterate("Привет, Щука!") == "Privet, Shchuka!"
    assert transliterate("ЩУКА") == "SHCHUKA"
    assert transliterate("Юля и Яна съели ёжика") == "Iulia i Iana sieeli ezhika"
    assert transliterate("Жук") == "Zhuk"
    assert transliterate("Цирк «Ночь» — №5…") == 'Tsirk "Noch" - N5...'
    assert transliterate("Hello, 123") == "Hello, 123"
    assert gsm.is_gsm7(transliterate("Съешь же ещё этих мягких французских булок, да выпей чаю"))
