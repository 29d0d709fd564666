"""The clickphone command, run as a subprocess; and a kill -9 crash test of serve."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

CLICKPHONE = str(Path(sys.executable).parent / "clickphone")


def run(
    *args: str, data_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKPHONE_")}
    full_env.update(env or {})
    return subprocess.run(
        [CLICKPHONE, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
        check=False,
    )


def kv(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_help_for_every_command(tmp_path: Path) -> None:
    for cmd in (
        ["--help"],
        ["serve", "--help"],
        ["migrate", "--help"],
        ["tenant", "create", "--help"],
        ["user", "create", "--help"],
        ["number", "add", "--help"],
    ):
        r = subprocess.run(
            [CLICKPHONE, *cmd], capture_output=True, text=True, timeout=30, check=False
        )
        assert r.returncode == 0, (cmd, r.stderr)
        assert "usage:" in r.stdout


def test_provisioning_flow(tmp_path: Path) -> None:
    r = run("migrate", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "clickphone.db").exists()

    r = run(
        "tenant",
        "create",
        "Acme Ltd",
        "--owner-email",
        "o@example.com",
        "--owner-password",
        "password123",
        data_dir=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    tenant = kv(r.stdout)
    assert tenant["tenant_id"] == "1" and len(tenant["customer_number"]) == 8

    r = run(
        "user",
        "create",
        "--tenant",
        "Acme Ltd",
        "--name",
        "Bob",
        "--email",
        "bob@example.com",
        "--password",
        "password123",
        "--extension",
        "101",
        "--sip-password",
        "sippassword1",
        "--department",
        "Sales",
        data_dir=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    user = kv(r.stdout)
    assert user["extension"] == "101" and len(user["sip_username"]) == 10
    assert "sip_password" not in user  # the caller chose it

    r = run(
        "user",
        "create",
        "--tenant",
        tenant["customer_number"],
        "--name",
        "Carol",
        "--email",
        "carol@example.com",
        "--password",
        "password123",
        data_dir=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    carol = kv(r.stdout)
    assert carol["extension"] == "102" and len(carol["sip_password"]) >= 16

    r = run("number", "add", "+1 415 555 0100", "--tenant", "1", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert kv(r.stdout)["e164"] == "+14155550100" and kv(r.stdout)["state"] == "assigned"

    # The HA1 stored for the device is H(user:realm:password).
    import hashlib
    import sqlite3

    con = sqlite3.connect(tmp_path / "clickphone.db")
    ha1_md5, ha1_sha256, algos = con.execute(
        "SELECT ha1_md5, ha1_sha256, auth_algorithms FROM sip_devices WHERE sip_username=?",
        (user["sip_username"],),
    ).fetchone()
    con.close()
    a1 = f"{user['sip_username']}:clickphone:sippassword1".encode()
    assert ha1_md5 == hashlib.md5(a1).hexdigest()
    assert ha1_sha256 == hashlib.sha256(a1).hexdigest()
    assert json.loads(algos) == ["SHA-256", "MD5"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["tenant", "create", "X", "--owner-email", "o@example.com", "--owner-password", "a"],
            "password",
        ),
        (
            [
                "user",
                "create",
                "--tenant",
                "nope",
                "--name",
                "N",
                "--email",
                "n@example.com",
                "--password",
                "password123",
            ],
            "no tenant",
        ),
        (
            [
                "user",
                "create",
                "--tenant",
                "1",
                "--name",
                "N",
                "--email",
                "n@example.com",
                "--password",
                "password123",
                "--extension",
                "abc",
            ],
            "extension",
        ),
        (["number", "add", "12345"], "E.164"),
        (["serve", "--http", "localhost:notaport"], "HOST:PORT"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    r = run(*args, data_dir=tmp_path)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("clickphone: error:") and message in lines[0], lines[0]


def test_missing_required_option_is_a_usage_error(tmp_path: Path) -> None:
    r = run("tenant", "create", "X", data_dir=tmp_path)
    assert r.returncode == 2 and "--owner-email" in r.stderr


def test_duplicate_number_and_email(tmp_path: Path) -> None:
    assert run("number", "add", "+14155550100", data_dir=tmp_path).returncode == 0
    r = run("number", "add", "+14155550100", data_dir=tmp_path)
    assert r.returncode == 1 and "already" in r.stderr
    args = [
        "tenant",
        "create",
        "A",
        "--owner-email",
        "o@example.com",
        "--owner-password",
        "password123",
    ]
    assert run(*args, data_dir=tmp_path).returncode == 0
    r = run(*args, data_dir=tmp_path)
    assert r.returncode == 1 and "already registered" in r.stderr


def test_production_refuses_default_secrets(tmp_path: Path) -> None:
    r = run("serve", data_dir=tmp_path, env={"CLICKPHONE_ENV": "production"})
    assert r.returncode == 1 and "CLICKPHONE_SECRET_KEY" in r.stderr
    r = run(
        "serve",
        data_dir=tmp_path,
        env={
            "CLICKPHONE_ENV": "production",
            "CLICKPHONE_SECRET_KEY": "k" * 40,
            "CLICKPHONE_ADMIN_PASSWORD": "admin",
        },
    )
    assert r.returncode == 1 and "CLICKPHONE_ADMIN_PASSWORD" in r.stderr


# -- crash test -------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, Any]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null"), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), exc.headers


def _start(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKPHONE_")}
    env["CLICKPHONE_ADMIN_PASSWORD"] = "operator-password-1"
    proc = subprocess.Popen(
        [
            CLICKPHONE,
            "serve",
            "--data-dir",
            str(tmp_path),
            "--http",
            f"127.0.0.1:{port}",
            "--sip",
            "127.0.0.1:0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}")
        try:
            if _request(port, "GET", "/api/v1/health")[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("serve did not become healthy")


def _signup(port: int) -> dict[str, str]:
    status, body, headers = _request(
        port,
        "POST",
        "/api/v1/auth/signup/company",
        {"company_name": "Durable", "email": "d@example.com", "password": "password123"},
    )
    assert status == 201, body
    cookies = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie"))
    return {"Cookie": cookies, "X-CSRF-Token": body["csrf_token"]}


def test_kill_9_loses_no_committed_record(tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(tmp_path, port)
    try:
        auth = _signup(port)
        status, dep, _ = _request(port, "POST", "/api/v1/departments", {"name": "Ops"}, auth)
        assert status == 201, dep
        status, emp, _ = _request(
            port,
            "POST",
            "/api/v1/employees",
            {
                "full_name": "Eve",
                "email": "eve@example.com",
                "password": "password123",
                "department_id": dep["id"],
                "create_device": True,
            },
            auth,
        )
        assert status == 201, emp
        status, contact, _ = _request(
            port,
            "POST",
            "/api/v1/contacts",
            {"name": "Client", "numbers": [{"number": "+14155550100"}]},
            auth,
        )
        assert status == 201, contact
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # right after the last response
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()

    proc = _start(tmp_path, port)
    try:
        status, body, headers = _request(
            port,
            "POST",
            "/api/v1/auth/signin",
            {"email": "eve@example.com", "password": "password123"},
        )
        assert status == 200, body
        cookies = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie"))
        auth = {"Cookie": cookies}
        status, got, _ = _request(port, "GET", f"/api/v1/employees/{emp['id']}", None, auth)
        assert status == 200 and got["department_id"] == dep["id"]
        status, devices, _ = _request(port, "GET", "/api/v1/me/devices", None, auth)
        assert [d["sip_username"] for d in devices["items"]] == [emp["device"]["sip_username"]]
        # The owner's personal contact survived too.
        status, body, headers = _request(
            port,
            "POST",
            "/api/v1/auth/signin",
            {"email": "d@example.com", "password": "password123"},
        )
        cookies = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie"))
        status, got, _ = _request(
            port, "GET", f"/api/v1/contacts/{contact['id']}", None, {"Cookie": cookies}
        )
        assert status == 200 and got["numbers"][0]["number"] == "+14155550100"
        # The operator admin from the first start still exists with the env password.
        status, _, _ = _request(
            port,
            "POST",
            "/api/v1/auth/signin",
            {"email": "admin@clickphone.local", "password": "operator-password-1"},
        )
        assert status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        if proc.stdout:
            proc.stdout.close()
