"""`clickphone serve` as a subprocess on free ports with a temp data dir, plus the CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "clickphone.cli"]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    def __init__(self, workdir: Path, *, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.data = workdir / "var"
        self.http_port = free_port()
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.sip = f"127.0.0.1:{self.sip_port}"
        self.env = {
            **os.environ,
            "CLICKPHONE_ADMIN_PASSWORD": "Admin-Pass-12345",
            "CLICKPHONE_MEDIA_PORT_MIN": "41000",
            "CLICKPHONE_MEDIA_PORT_MAX": "41999",
            "CLICKPHONE_LOG_JSON": "false",
            **(env or {}),
        }
        self.log_path = workdir / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*CLI, "serve", "--data-dir", str(self.data), "--http", f"127.0.0.1:{self.http_port}",
             "--sip", self.sip],
            stdout=log, stderr=subprocess.STDOUT, env=self.env,
        )  # fmt: skip
        log.close()
        for _ in range(200):
            if self.proc.poll() is not None:
                break
            try:
                health = httpx.get(f"{self.base}/api/v1/health", timeout=1).json()
                if health["sip"]["listening"]:
                    return
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve did not start:\n{self.log_path.read_text()}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def cli(self, *args: str) -> dict[str, str]:
        out = subprocess.run(
            [*CLI, *args, "--data-dir", str(self.data)],
            capture_output=True, text=True, timeout=60, env=self.env,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)

    def company(self, *people: tuple[str, str]) -> dict[str, str]:
        """A tenant "Acme Ltd" (owner owner@example.com / Owner-Pass-123) and one employee
        per (extension, name), SIP password ``Sip-<name>-Pass-1``; returns ext -> username."""
        self.cli("tenant", "create", "Acme Ltd", "--owner-email", "owner@example.com",
                 "--owner-password", "Owner-Pass-123")  # fmt: skip
        users = {}
        for ext, name in people:
            users[ext] = self.cli(
                "user", "create", "--tenant", "Acme Ltd", "--name", name,
                "--email", f"{name.lower()}@example.com", "--password", f"{name}-Pass-123",
                "--extension", ext, "--sip-password", f"Sip-{name}-Pass-1",
            )["sip_username"]  # fmt: skip
        return users

    @contextmanager
    def owner_client(self) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.base) as client:
            r = client.post(
                "/api/v1/auth/signin",
                json={"email": "owner@example.com", "password": "Owner-Pass-123"},
            )
            assert r.status_code == 200, r.text
            yield client
