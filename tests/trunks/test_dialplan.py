"""The pure dial plan: normalization, blacklist patterns, trunk choice, calls per second."""

from __future__ import annotations

import pytest

from clickphone.trunks.dialplan import (
    RateLimiter,
    TrunkSpec,
    blocked_by,
    choose_trunks,
    country_of,
    networks_of,
    normalize,
)


@pytest.mark.parametrize(
    ("dialled", "country", "e164"),
    [
        ("+7 916 123-45-67", "RU", "+79161234567"),
        ("89161234567", "RU", "+79161234567"),
        ("8(916)123-45-67", "RU", "+79161234567"),
        ("79161234567", "RU", "+79161234567"),  # carriers' form without "+"
        ("%2B79161234567", "RU", "+79161234567"),
        ("00442079460000", "DE", "+442079460000"),
        ("020 7946 0000", "GB", "+442079460000"),
        ("+12125551234", "RU", "+12125551234"),
    ],
)
def test_normalize(dialled: str, country: str, e164: str) -> None:
    assert normalize(dialled, country) == e164


@pytest.mark.parametrize("dialled", ["101", "*97", "alice", "", "+7916"])
def test_not_phone_numbers(dialled: str) -> None:
    assert normalize(dialled, "RU") is None


def test_country_and_blacklist() -> None:
    assert country_of("+79161234567") == "RU"
    assert country_of("+12125551234") == "US"
    assert blocked_by("+78091234567", ["+7809*"]) == "+7809*"
    assert blocked_by("+79161234567", ["+7809*", "+79161234560"]) is None
    assert blocked_by("+79161234560", ["+79161234560"]) == "+79161234560"


def trunk(tid: int, **kw: object) -> TrunkSpec:
    return TrunkSpec(id=tid, name=f"t{tid}", kind="ip", host=f"10.0.0.{tid}", **kw)  # type: ignore[arg-type]


def test_choose_by_prefix_priority_rate_and_owner() -> None:
    trunks = [
        trunk(1, priority=10),
        trunk(2, priority=5, prefixes=("+44",)),
        trunk(3, priority=20, prefixes=("+7495",)),
        trunk(4, priority=20, prefixes=("+7495",), rate_per_minute=50),
        trunk(5, priority=1, tenant_id=99),  # another tenant's own carrier
        trunk(6, priority=50, tenant_id=7),  # this tenant's own carrier
        trunk(7, priority=0, enabled=False),
    ]
    order = [t.id for t in choose_trunks("+74951234567", trunks, 7)]
    # own trunk first, then the most specific prefix (cheaper first), then catch-all
    assert order == [6, 4, 3, 1]
    assert [t.id for t in choose_trunks("+442079460000", trunks, 1)] == [2, 1]


def test_accepts_from_networks_and_dial_string() -> None:
    t = TrunkSpec(
        id=1,
        name="a",
        kind="ip",
        host="x",
        networks=networks_of(["192.0.2.0/24", "bad"]),
        number_format="plain",
    )
    assert t.accepts_from("192.0.2.77")
    assert not t.accepts_from("198.51.100.1")
    assert not t.accepts_from("not-an-ip")
    assert t.dial_string("+79161234567") == "79161234567"


def test_calls_per_second() -> None:
    limiter = RateLimiter()
    t = trunk(1, max_cps=2.0)
    assert [limiter.allow(t, 0.0) for _ in range(3)] == [True, True, False]
    assert limiter.allow(t, 0.5)  # one token back after half a second
    assert not limiter.allow(t, 0.5)
    assert all(limiter.allow(trunk(2), 0.0) for _ in range(100))  # no limit set
