"""The issue's acceptance path: a fresh `clickphone serve`, users made by the CLI, two real
softphones (pjsua2) register and call each other with two-way audio; the API shows the
registrations, the live call and the call log; a kill -9 loses no call record."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from _peers import require
from interop.pjua import PjPhone, heard_power, pjsua2_available
from telephony.serve import Serve

pytestmark = pytest.mark.interop


def phones_for(server: Serve, users: dict[str, str], tmp_path: Path) -> tuple[PjPhone, PjPhone]:
    alice = PjPhone(registrar=server.sip, user=users["101"], password="Sip-Alice-Pass-1",
                    workdir=tmp_path, name="alice", tone=1000.0)  # fmt: skip
    try:
        bob = PjPhone(registrar=server.sip, user=users["102"], password="Sip-Bob-Pass-1",
                      workdir=tmp_path, name="bob", record=True, auto_answer=200)  # fmt: skip
    except Exception:
        alice.close()
        raise
    for p in (alice, bob):
        p.send("register")
        assert p.wait_for("reg")["code"] == 200
    return alice, bob


def test_serve_cli_users_register_and_call(tmp_path: Path) -> None:
    require(pjsua2_available(), "pjsua2-python")
    server = Serve(tmp_path)
    server.start()
    alice = bob = None
    try:
        users = server.company(("101", "Alice"), ("102", "Bob"))
        alice, bob = phones_for(server, users, tmp_path)
        with server.owner_client() as api:
            time.sleep(0.5)  # registrations are written behind in small batches
            regs = api.get("/api/v1/registrations").json()
            assert {x["user_agent"] for x in regs["items"]} == {"pjsua2-interop"}
            alice.send("call", uri=f"sip:102@{server.sip}")
            alice.call_state("CONFIRMED")
            calls = api.get("/api/v1/calls/active").json()
            assert [(c["caller"], c["callee"], c["state"]) for c in calls["items"]] == [
                ("101", "102", "answered")
            ]
            time.sleep(1.5)
            alice.send("hangup")
            bob.call_state("DISCONNECTED")
            assert api.get("/api/v1/calls/active").json()["total"] == 0
            for _ in range(50):  # the record's final state commits right after the BYEs
                log = api.get("/api/v1/calls", params={"outcome": "answered"}).json()
                if log["items"]:
                    break
                time.sleep(0.1)
            assert [(r["caller"], r["callee"]) for r in log["items"]] == [("101", "102")]
            assert log["items"][0]["talk_seconds"] > 1.0
    finally:
        for p in (alice, bob):
            if p is not None:
                p.close()
        server.stop()
    assert bob is not None and bob.record_path is not None
    heard_1000 = heard_power(bob.record_path, 1000.0)
    heard_1500 = heard_power(bob.record_path, 1500.0)
    assert heard_1000 > 20 * max(heard_1500, 1e-9)
    text = server.log_path.read_text()
    assert "Sip-Alice-Pass-1" not in text and "Admin-Pass-12345" not in text


def test_kill_9_during_a_call_keeps_its_record(tmp_path: Path) -> None:
    require(pjsua2_available(), "pjsua2-python")
    server = Serve(tmp_path)
    server.start()
    alice = bob = None
    try:
        users = server.company(("101", "Alice"), ("102", "Bob"))
        alice, bob = phones_for(server, users, tmp_path)
        alice.send("call", uri=f"sip:102@{server.sip}")
        alice.call_state("CONFIRMED")
        server.kill9()
        for p in (alice, bob):
            p.close()
        alice = bob = None
        server.start()  # the same data dir, SIP and media ports: the worker died with us
        with server.owner_client() as api:
            log = api.get("/api/v1/calls").json()
        [record] = log["items"]
        assert (record["caller"], record["callee"]) == ("101", "102")
        assert (record["outcome"], record["end_reason"]) == ("failed", "interrupted")
    finally:
        for p in (alice, bob):
            if p is not None:
                p.close()
        server.stop()
