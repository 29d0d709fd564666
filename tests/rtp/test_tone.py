import numpy as np
import pytest

from clickphone.rtp.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from clickphone.rtp.tone import dominant_frequency, sine_pcm16, tone_power


def test_sine_shape() -> None:
    pcm = sine_pcm16(1000, 0.02, amplitude=0.5)
    assert len(pcm) == 320
    x = np.frombuffer(pcm, dtype="<i2")
    assert abs(int(x.max()) - 16384) < 20
    # chunked generation continues the phase
    whole = sine_pcm16(440, 0.04)
    assert sine_pcm16(440, 0.02) + sine_pcm16(440, 0.02, start_sample=160) == whole


def test_tone_power_scale() -> None:
    pcm = sine_pcm16(1000, 0.1, amplitude=0.5)
    assert tone_power(pcm, 1000) == pytest.approx(0.25, rel=0.02)
    assert tone_power(pcm, 1500) < 1e-4
    assert tone_power(b"", 1000) == 0.0
    assert tone_power(bytes(1600), 1000) == 0.0


@pytest.mark.parametrize(
    ("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)]
)
@pytest.mark.parametrize("freq", [1000, 1500])
def test_dominant_frequency_through_g711(encode, decode, freq) -> None:
    pcm = decode(encode(sine_pcm16(freq, 0.2, amplitude=0.3)))
    assert dominant_frequency(pcm, [1000, 1500]) == freq
    assert dominant_frequency(pcm[:320], [1000, 1500]) == freq  # a single 20 ms frame
    assert dominant_frequency(bytes(320), [1000, 1500], min_power=1e-6) is None


def test_mixed_signal_and_float_input() -> None:
    a = np.frombuffer(sine_pcm16(1000, 0.1, amplitude=0.1), dtype="<i2").astype(np.int32)
    b = np.frombuffer(sine_pcm16(1500, 0.1, amplitude=0.4), dtype="<i2").astype(np.int32)
    mix = (a + b).astype(np.int16)
    assert dominant_frequency(mix, [1000, 1500]) == 1500
    assert dominant_frequency((mix / 32768.0).tolist(), [1000, 1500]) == 1500
