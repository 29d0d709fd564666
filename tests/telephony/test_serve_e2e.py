"""The issue's acceptance path: a fresh `clickphone serve`, users made by the CLI, two real
softphones (pjsua2) register and call each other with two-way audio, and the API shows the
registrations and the live call."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from _peers import require
from interop.pjua import PjPhone, heard_power, pjsua2_available
from telephony.pbx import free_udp_port

pytestmark = pytest.mark.interop

CLI = [sys.executable, "-m", "clickphone.cli"]


def free_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(data_dir: Path, *args: str) -> dict[str, str]:
    out = subprocess.run(
        [*CLI, *args, "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def test_serve_cli_users_register_and_call(tmp_path: Path) -> None:
    require(pjsua2_available(), "pjsua2-python")
    data = tmp_path / "var"
    http_port, sip_port = free_tcp_port(), free_udp_port()
    env = {
        **os.environ,
        "CLICKPHONE_ADMIN_PASSWORD": "Admin-Pass-12345",
        "CLICKPHONE_MEDIA_PORT_MIN": "41000",
        "CLICKPHONE_MEDIA_PORT_MAX": "41999",
        "CLICKPHONE_LOG_JSON": "false",
    }
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [
            *CLI,
            "serve",
            "--data-dir",
            str(data),
            "--http",
            f"127.0.0.1:{http_port}",
            "--sip",
            f"127.0.0.1:{sip_port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    phones: list[PjPhone] = []
    try:
        base = f"http://127.0.0.1:{http_port}"
        for _ in range(150):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).json()["sip"]["listening"]:
                    break
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.2)
        else:
            raise AssertionError((tmp_path / "serve.log").read_text())
        cli(
            data,
            "tenant",
            "create",
            "Acme Ltd",
            "--owner-email",
            "owner@example.com",
            "--owner-password",
            "Owner-Pass-123",
        )
        users = {}
        for ext, name in (("101", "Alice"), ("102", "Bob")):
            users[ext] = cli(
                data,
                "user",
                "create",
                "--tenant",
                "Acme Ltd",
                "--name",
                name,
                "--email",
                f"{name.lower()}@example.com",
                "--password",
                f"{name}-Pass-123",
                "--extension",
                ext,
                "--sip-password",
                f"Sip-{name}-Pass-1",
            )["sip_username"]
        hostport = f"127.0.0.1:{sip_port}"
        alice = PjPhone(
            registrar=hostport,
            user=users["101"],
            password="Sip-Alice-Pass-1",
            workdir=tmp_path,
            name="alice",
            tone=1000.0,
        )
        phones.append(alice)
        bob = PjPhone(
            registrar=hostport,
            user=users["102"],
            password="Sip-Bob-Pass-1",
            workdir=tmp_path,
            name="bob",
            record=True,
            auto_answer=200,
        )
        phones.append(bob)
        for p in (alice, bob):
            p.send("register")
            assert p.wait_for("reg")["code"] == 200

        with httpx.Client(base_url=base) as api:
            r = api.post(
                "/api/v1/auth/signin",
                json={"email": "owner@example.com", "password": "Owner-Pass-123"},
            )
            assert r.status_code == 200, r.text
            time.sleep(0.5)  # registrations are written behind in small batches
            regs = api.get("/api/v1/registrations").json()
            assert {x["user_agent"] for x in regs["items"]} == {"pjsua2-interop"}
            alice.send("call", uri=f"sip:102@{hostport}")
            alice.call_state("CONFIRMED")
            calls = api.get("/api/v1/calls/active").json()
            assert [(c["caller"], c["callee"], c["state"]) for c in calls["items"]] == [
                ("101", "102", "answered")
            ]
            time.sleep(1.5)
            alice.send("hangup")
            bob.call_state("DISCONNECTED")
            assert api.get("/api/v1/calls/active").json()["total"] == 0
    finally:
        for p in phones:
            p.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    assert bob.record_path is not None
    heard_1000 = heard_power(bob.record_path, 1000.0)
    heard_1500 = heard_power(bob.record_path, 1500.0)
    assert heard_1000 > 20 * max(heard_1500, 1e-9)
    text = (tmp_path / "serve.log").read_text()
    assert "Sip-Alice-Pass-1" not in text and "Admin-Pass-12345" not in text
