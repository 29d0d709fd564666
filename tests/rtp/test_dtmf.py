import pytest

from clickphone.rtp.dtmf import (
    DtmfDetector,
    DtmfParseError,
    TelephoneEvent,
    digit_to_event,
    event_to_digit,
)


def test_payload_round_trip() -> None:
    ev = TelephoneEvent(event=11, end=True, volume=10, duration=1600)
    wire = ev.serialize()
    assert wire == bytes([11, 0x8A, 0x06, 0x40])
    assert TelephoneEvent.parse(wire) == ev
    assert TelephoneEvent.parse(bytes([5, 0x0A, 0, 160])) == TelephoneEvent(5, False, 10, 160)
    with pytest.raises(DtmfParseError, match="too short"):
        TelephoneEvent.parse(b"\x01\x02")


def test_digit_mapping() -> None:
    assert [event_to_digit(i) for i in range(17)] == list("0123456789*#ABCD!")
    assert digit_to_event("#") == 11 and digit_to_event("d") == 15
    with pytest.raises(ValueError):
        digit_to_event("x")


def _event_packets(event: int, ts: int, steps: int = 5, ends: int = 3) -> list[tuple[int, bytes]]:
    pkts = [(ts, TelephoneEvent(event, False, 10, 160 * i).serialize()) for i in range(1, steps)]
    pkts += [(ts, TelephoneEvent(event, True, 10, 160 * steps).serialize())] * ends
    return pkts


def test_one_digit_per_event_with_redundant_ends() -> None:
    det = DtmfDetector()
    got = []
    for ts, payload in _event_packets(1, 1000) + _event_packets(1, 3000) + _event_packets(11, 5000):
        got += det.feed(0xAA, ts, payload)
    assert [d.digit for d in got] == ["1", "1", "#"]
    assert all(d.ended for d in got)
    assert got[0].duration_ms == 100 and got[0].timestamp == 1000


def test_lost_end_packets_reported_on_next_event_and_flush() -> None:
    det = DtmfDetector()
    got = []
    for ts, payload in _event_packets(4, 100, ends=0) + _event_packets(2, 900, ends=0):
        got += det.feed(1, ts, payload)
    assert [d.digit for d in got] == ["4"]
    assert not got[0].ended
    tail = det.flush()
    assert [d.digit for d in tail] == ["2"]
    assert det.flush() == []
    # a late End for an already reported event is ignored
    assert det.feed(1, 900, TelephoneEvent(2, True, 10, 800).serialize()) == []


def test_same_timestamp_different_ssrc_are_distinct() -> None:
    det = DtmfDetector()
    end = TelephoneEvent(7, True, 10, 800).serialize()
    assert [d.digit for d in det.feed(1, 500, end)] == ["7"]
    assert [d.digit for d in det.feed(2, 500, end)] == ["7"]
    assert det.feed(1, 500, end) == []
