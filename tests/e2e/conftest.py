"""Browser end-to-end fixtures: a real `clickphone serve` with the built cabinet, and Debian
chromium driven by Playwright's sync API (never `playwright install`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from _peers import require

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base_url: str
    sip_hostport: str
    data_dir: Path
    log_path: Path


@pytest.fixture
def server_env() -> dict[str, str]:
    """Extra environment for the server (a test module overrides this fixture)."""
    return {}


@pytest.fixture
def server(tmp_path: Path, server_env: dict[str, str]) -> Iterator[Server]:
    require((WEB_DIST / "index.html").exists(), "the built web cabinet (cd web && npm run build)")
    data = tmp_path / "var"
    http_port = _free_port(socket.SOCK_STREAM)
    sip_port = _free_port(socket.SOCK_DGRAM)
    env = {
        **os.environ,
        "CLICKPHONE_ADMIN_PASSWORD": "Admin-Pass-12345",
        "CLICKPHONE_WEB_DIST": str(WEB_DIST),
        "CLICKPHONE_MEDIA_PORT_MIN": "42000",
        "CLICKPHONE_MEDIA_PORT_MAX": "42999",
        "CLICKPHONE_LOG_JSON": "false",
        **server_env,
    }
    log_path = tmp_path / "serve.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clickphone.cli",
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
    base = f"http://127.0.0.1:{http_port}"
    try:
        for _ in range(150):
            if proc.poll() is not None:
                break
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).json()["sip"]["listening"]:
                    break
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.2)
        else:
            raise AssertionError(log_path.read_text())
        assert proc.poll() is None, log_path.read_text()
        yield Server(base, f"127.0.0.1:{sip_port}", data, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@pytest.fixture
def chromium_browser() -> Iterator[Any]:
    require(shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists(), "Debian chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def shot() -> Any:
    """``shot(page, "name")`` saves test-artifacts/<name>.png (full page)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page: Any, name: str) -> None:
        page.wait_for_timeout(300)  # let transitions settle
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take
