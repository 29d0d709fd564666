"""Call recording: the aligner (pure, time passed in), the sinks, and the relay recording a
call over loopback sockets (local relay and the worker process)."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from clickphone.media.control import MediaController, UnknownCallError
from clickphone.media.recorder import RATE, StereoAligner, WavSink, av_available, open_sink
from clickphone.rtp.g711 import alaw_encode, ulaw_encode
from clickphone.rtp.packet import RtpPacket
from clickphone.rtp.tone import dominant_frequency, sine_pcm16, tone_power
from media.rtpfakes import Endpoint, relay_port

LOCAL = "127.0.0.1"


def _packet(pt: int, seq: int, ts: int, freq: float, ssrc: int = 7) -> bytes:
    pcm = sine_pcm16(freq, 0.02, amplitude=0.3, start_sample=ts)
    payload = ulaw_encode(pcm) if pt == 0 else alaw_encode(pcm)
    return RtpPacket(pt, seq, ts, ssrc, payload=payload).serialize()


def _channels(pcm: bytes) -> tuple[np.ndarray, np.ndarray]:
    stereo = np.frombuffer(pcm, dtype="<i2").reshape(-1, 2)
    return stereo[:, 0], stereo[:, 1]


def decode_file(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Left and right channels of a recording (any format) as int16, and the sample rate."""
    if path.suffix == ".wav":
        with wave.open(str(path)) as w:
            assert w.getnchannels() == 2
            left, right = _channels(w.readframes(w.getnframes()))
            return left, right, w.getframerate()
    import av

    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=RATE)
        chunks = []
        for frame in container.decode(audio=0):
            assert frame.layout.nb_channels == 2
            chunks += [f.to_ndarray().tobytes() for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().tobytes() for f in resampler.resample(None)]
    left, right = _channels(b"".join(chunks))
    return left, right, RATE


def _finished_size(path: Path) -> int:
    assert not path.with_name(path.name + ".part").exists()
    return path.stat().st_size


def test_aligner_places_packets_by_timestamp_and_fills_gaps() -> None:
    al = StereoAligner(t0=100.0, jitter=0.1)
    # left: PCMU 1000 Hz from t=0; packet 3 lost; arrives out of order
    for seq, ts in [(0, 0), (1, 160), (3, 480), (2, 320)]:
        if seq != 2:
            al.feed(0, _packet(0, seq, ts + 5000, 1000), 100.0 + (ts + 160) / RATE)
    # right: PCMA 1500 Hz starting 0.5 s later, another timestamp base
    for i in range(10):
        ts = 90000 + 160 * i
        al.feed(1, _packet(8, i, ts, 1500, ssrc=9), 100.5 + 160 * (i + 1) / RATE)
    # a telephone-event packet and garbage are ignored
    al.feed(0, RtpPacket(101, 9, 0, 7, payload=b"\x05\x0a\x00\xa0").serialize(), 100.1)
    al.feed(1, b"\x00" * 20, 100.1)
    first = al.drain(100.3)  # up to 0.2 s
    assert len(first) == round(0.2 * RATE) * 4
    rest = al.finish()
    left, right = _channels(first + rest)
    assert len(left) == round(0.7 * RATE)
    # left: 1000 Hz in 0..40 ms and 60..80 ms, silence in the lost packet's slot
    assert dominant_frequency(left[:320], [1000, 1500]) == 1000
    assert not left[320:480].any()
    assert dominant_frequency(left[480:640], [1000, 1500]) == 1000
    assert not left[640:].any()
    # right: silent until 0.5 s, then 1500 Hz
    assert not right[: round(0.5 * RATE)].any()
    assert tone_power(right[round(0.5 * RATE) :], 1500) > 0.05
    assert al.packets == [3, 10]


def test_aligner_drops_late_audio_and_resyncs_on_new_ssrc_or_jump() -> None:
    al = StereoAligner(t0=0.0, jitter=0.0)
    al.feed(0, _packet(0, 0, 0, 1000), 0.02)
    assert len(al.drain(1.0)) == RATE * 4
    # the timestamp says 20 ms but it arrived at 1 s: re-anchored at 0.98 s, already drained
    al.feed(0, _packet(0, 1, 160, 1000), 1.0)
    # a new SSRC is anchored at its arrival (1.5 s - 20 ms): silence before it
    al.feed(0, _packet(0, 2, 40000, 1000, ssrc=8), 1.5)
    left, right = _channels(al.finish())
    assert len(left) == round(0.5 * RATE)
    assert not left[:3840].any() and not right.any()
    assert dominant_frequency(left[3840:], [1000, 1500]) == 1000
    assert al.packets == [2, 0]


@pytest.mark.parametrize("suffix", [".wav", ".ogg", ".mp3"])
def test_sinks_write_stereo_files(tmp_path: Path, suffix: str) -> None:
    if suffix != ".wav" and not av_available():
        pytest.skip("PyAV with libopus is not installed")
    path = tmp_path / f"rec{suffix}"
    sink = open_sink(path, {".wav": "wav", ".ogg": "ogg", ".mp3": "mp3"}[suffix])
    left = np.frombuffer(sine_pcm16(1000, 1.0, amplitude=0.3), dtype="<i2")
    right = np.frombuffer(sine_pcm16(1500, 1.0, amplitude=0.3), dtype="<i2")
    stereo = np.stack([left, right], axis=1).astype("<i2")
    sink.write(stereo[:3000].tobytes())
    sink.write(stereo[3000:].tobytes())
    sink.close()
    got_l, got_r, rate = decode_file(path)
    assert rate == RATE
    assert abs(len(got_l) - RATE) < RATE * 0.1
    mid = slice(1000, 7000)
    assert dominant_frequency(got_l[mid], [1000, 1500]) == 1000
    assert dominant_frequency(got_r[mid], [1000, 1500]) == 1500
    if suffix == ".wav":
        assert isinstance(sink, WavSink)


async def test_relay_records_each_party_on_its_channel(
    controller: MediaController, endpoints: list[Endpoint], tmp_path: Path
) -> None:
    alice, bob, _ = endpoints
    to_bob = await controller.offer("rec-1", "atag", alice.sdp(), media_ip=LOCAL)
    to_alice = await controller.answer("rec-1", "atag", "btag", bob.sdp(), media_ip=LOCAL)
    a_port, b_port = relay_port(to_alice), relay_port(to_bob)
    with pytest.raises(UnknownCallError):
        await controller.start_recording("nope", str(tmp_path / "x.ogg"))
    with pytest.raises(UnknownCallError):
        await controller.stop_recording("rec-1")
    path = tmp_path / "t1" / "2026" / "rec-1.ogg"
    await controller.start_recording("rec-1", str(path))
    await controller.start_recording("rec-1", str(path))  # idempotent
    for _ in range(50):  # one second of both parties talking, 20 ms packets
        alice.send_tone((LOCAL, a_port), 1000)
        bob.send_tone((LOCAL, b_port), 1500)
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    await controller.delete("rec-1")  # stops the recording and finishes the file
    info = await controller.stop_recording("rec-1")
    final = Path(info.path)
    assert _finished_size(final) == info.bytes > 0
    assert info.format == ("ogg" if av_available() else "wav")
    assert 0.8 < info.duration_seconds < 2.5
    left, right, _ = decode_file(final)
    talk = slice(int(0.3 * RATE), int(0.9 * RATE))
    assert dominant_frequency(left[talk], [1000, 1500]) == 1000
    assert dominant_frequency(right[talk], [1000, 1500]) == 1500
    assert tone_power(left[talk], 1000) > 20 * tone_power(left[talk], 1500)
    assert tone_power(right[talk], 1500) > 20 * tone_power(right[talk], 1000)


async def test_stop_recording_during_the_call(
    controller: MediaController, endpoints: list[Endpoint], tmp_path: Path
) -> None:
    alice, bob, _ = endpoints
    await controller.offer("rec-2", "atag", alice.sdp(), media_ip=LOCAL)
    to_alice = await controller.answer("rec-2", "atag", "btag", bob.sdp(), media_ip=LOCAL)
    await controller.start_recording("rec-2", str(tmp_path / "rec-2.wav"))
    for _ in range(10):
        alice.send_tone((LOCAL, relay_port(to_alice)), 1000)
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    info = await controller.stop_recording("rec-2")
    assert info.format == "wav" and info.duration_seconds > 0.1
    stats = await controller.query("rec-2")  # the call goes on
    assert stats.legs[0].packets_in == 10
    await controller.delete("rec-2")
