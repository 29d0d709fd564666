"""Registrar behaviour over real UDP on loopback, and its pure parts with time passed in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clickphone.db.session import Database
from clickphone.registrar.bindings import BindingTable, RegisterError
from clickphone.registrar.limits import AuthFailureLimiter
from clickphone.sip.message import SipRequest
from clickphone.sip.transaction import Peer
from telephony.pbx import DEFAULT_EXTS, Ext, Pbx, start_pbx, stop_pbx
from telephony.sipclient import UdpSipClient

PEER = Peer("UDP", "203.0.113.9", 40000)


def register(
    contact: str = "<sip:u@10.0.0.5:5060>",
    *,
    expires: str | None = "300",
    call_id: str = "c1",
    cseq: int = 1,
    extra: list[tuple[str, str]] | None = None,
) -> SipRequest:
    headers = [
        ("Via", "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKx"),
        ("From", "<sip:u@pbx>;tag=1"),
        ("To", "<sip:u@pbx>"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} REGISTER"),
        ("Contact", contact),
    ]
    if expires is not None:
        headers.append(("Expires", expires))
    return SipRequest("REGISTER", "sip:pbx", headers + (extra or []))


def test_bindings_add_refresh_expire_and_nat() -> None:
    table = BindingTable()
    out = table.apply("u", register(), PEER, now=1000.0)
    [b] = out.current
    assert b.expires_at == 1300.0 and b.nat and b.peer == PEER
    # refresh with a higher CSeq moves the expiry
    table.apply("u", register(cseq=2, expires="600"), PEER, now=1100.0)
    assert table.lookup("u", 1650.0)[0].expires_at == 1700.0
    assert table.lookup("u", 1700.0) == []
    assert [x.contact for x in table.expire(1700.0)] == ["sip:u@10.0.0.5:5060"]
    assert len(table) == 0


def test_bindings_reject_out_of_order_short_interval_and_bad_wildcard() -> None:
    table = BindingTable()
    table.apply("u", register(cseq=5), PEER, now=0.0)
    with pytest.raises(RegisterError) as err:
        table.apply("u", register(cseq=5), PEER, now=1.0)
    assert err.value.status == 500
    with pytest.raises(RegisterError) as err:
        table.apply("u", register(expires="30", cseq=6), PEER, now=1.0)
    assert err.value.status == 423 and ("Min-Expires", "60") in err.value.headers
    with pytest.raises(RegisterError) as err:
        table.apply("u", register("*", expires="300", cseq=7), PEER, now=1.0)
    assert err.value.status == 400
    out = table.apply("u", register("*", expires="0", cseq=8), PEER, now=1.0)
    assert out.current == [] and len(out.removed) == 1


def test_bindings_several_contacts_capped_and_q_order() -> None:
    table = BindingTable(max_contacts=2)
    table.apply("u", register("<sip:a@10.0.0.1>;q=0.5"), PEER, now=0.0)
    table.apply("u", register("<sip:b@10.0.0.2>;q=0.9", call_id="c2"), PEER, now=1.0)
    assert [b.contact for b in table.lookup("u", 2.0)] == ["sip:b@10.0.0.2", "sip:a@10.0.0.1"]
    out = table.apply("u", register("<sip:c@10.0.0.3>", call_id="c3"), PEER, now=2.0)
    assert sorted(b.contact for b in out.current) == ["sip:b@10.0.0.2", "sip:c@10.0.0.3"]
    assert [b.contact for b in out.removed] == ["sip:a@10.0.0.1"]


def test_auth_limiter_blocks_once_per_window() -> None:
    lim = AuthFailureLimiter(max_failures=3, window=60, block_for=300)
    assert [lim.failure("1.2.3.4", t) for t in (0, 1, 2)] == [False, False, True]
    assert lim.blocked("1.2.3.4", 10) and not lim.blocked("5.6.7.8", 10)
    assert not lim.failure("1.2.3.4", 20)  # already blocked: no second report
    assert not lim.blocked("1.2.3.4", 303)
    lim.prune(400)
    assert not lim.blocked("1.2.3.4", 400)


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[Pbx]:
    exts = [*DEFAULT_EXTS, Ext("105", "erin105", "erin-Secret-105", ["SHA-512-256"], "Erin")]
    p = await start_pbx(tmp_path, exts=exts, auth_max_failures=3)
    yield p
    await stop_pbx(p)


@pytest.mark.parametrize(
    ("ext", "algorithm"), [("101", "SHA-256"), ("101", "MD5"), ("105", "SHA-512-256")]
)
async def test_register_each_digest_algorithm(pbx: Pbx, ext: str, algorithm: str) -> None:
    e = pbx.exts[ext]
    async with UdpSipClient((pbx.host, pbx.port)) as client:
        resp = await client.register_with_auth(e.username, e.password, algorithm=algorithm)
    assert resp.status == 200
    assert resp.get("Contact", "").endswith(";expires=300")
    changed = pbx.events_of("sip.registration.changed")
    assert changed and changed[-1].payload["online"] is True


async def test_challenge_offers_only_the_device_algorithms(pbx: Pbx) -> None:
    async with UdpSipClient((pbx.host, pbx.port)) as client:
        client.send_raw(client.register("carol103").to_bytes())
        resp = await client.receive()
    assert resp.status == 401
    offered = [v.split("algorithm=")[1].split(",")[0] for v in resp.get_all("WWW-Authenticate")]
    assert offered == ["MD5"]  # baresip-style phones fail when SHA-256 is offered


async def test_unknown_user_and_wrong_password_look_the_same(pbx: Pbx) -> None:
    async with UdpSipClient((pbx.host, pbx.port)) as client:
        wrong = await client.register_with_auth("alice101", "not-the-password")
        unknown = await client.register_with_auth("nosuchuser", "whatever")
    assert (wrong.status, wrong.reason) == (unknown.status, unknown.reason) == (403, "Forbidden")
    assert [n for n, _ in wrong.headers] == [n for n, _ in unknown.headers]


async def test_repeated_failures_block_the_source(pbx: Pbx) -> None:
    e = pbx.exts["102"]
    async with UdpSipClient((pbx.host, pbx.port)) as client:
        for _ in range(3):
            assert (await client.register_with_auth(e.username, "bad")).status == 403
        # Blocked now: even the right password is refused, without a challenge.
        client.send_raw(client.register(e.username).to_bytes())
        assert (await client.receive()).status == 403
    blocked = pbx.events_of("sip.auth.blocked")
    assert len(blocked) == 1 and blocked[0].payload["source"] == "127.0.0.1"


async def test_registrations_survive_a_restart(tmp_path: Path, database: Database) -> None:
    """On SQLite and PostgreSQL (the ``database`` fixture runs both)."""
    first = await start_pbx(tmp_path, database=database)
    e = first.exts["101"]
    async with UdpSipClient((first.host, first.port)) as client:
        assert (await client.register_with_auth(e.username, e.password)).status == 200
        contact_port = client.port
    await stop_pbx(first, dispose=False)  # stop flushes the write-behind store
    second = await start_pbx(tmp_path, database=database, provision_exts=False)
    try:
        [binding] = second.server.registrar.lookup("alice101")
        assert binding.contact == f"sip:alice101@127.0.0.1:{contact_port}"
        assert binding.user_agent == "raw-test-client"
    finally:
        await stop_pbx(second, dispose=False)
