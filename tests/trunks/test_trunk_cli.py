"""``clickphone trunk add|list|show|set|remove`` and ``clickphone operator create``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from clickphone.db import Database
from clickphone.db.models import Trunk, User

CLICKPHONE = str(Path(sys.executable).parent / "clickphone")


def run(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKPHONE_")}
    return subprocess.run(
        [CLICKPHONE, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def kv(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


async def _rows(data_dir: Path) -> tuple[list[Trunk], list[User]]:
    db = Database(f"sqlite+aiosqlite:///{data_dir / 'clickphone.db'}")
    try:
        async with db.session() as s:
            trunks = list((await s.execute(select(Trunk))).scalars())
            users = list((await s.execute(select(User))).scalars())
            return trunks, users
    finally:
        await db.dispose()


def test_trunk_commands(tmp_path: Path) -> None:
    r = run(
        "trunk", "add", "carrier-a",
        "--kind", "registration",
        "--host", "192.0.2.10",
        "--username", "acct1",
        "--password", "carrier-s3cret",
        "--codecs", "pcma,telephone-event",
        "--prefixes", "+7",
        "--priority", "10",
        data_dir=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    added = kv(r.stdout)
    assert added["name"] == "carrier-a" and added["codecs"] == "PCMA,telephone-event"
    assert added["has_password"] == "True"
    assert "carrier-s3cret" not in r.stdout and "\npassword=" not in "\n" + r.stdout

    (trunk,), _ = asyncio.run(_rows(tmp_path))
    assert trunk.password is not None and trunk.password.startswith("fernet:")

    r = run("trunk", "add", "bad", "--host", "h", "--codecs", "MP3", data_dir=tmp_path)
    assert r.returncode == 1 and "unknown codec 'MP3'" in r.stderr
    r = run("trunk", "add", "carrier-a", "--host", "192.0.2.11", data_dir=tmp_path)
    assert r.returncode == 1 and "exists" in r.stderr

    r = run("trunk", "set", "carrier-a", "--codecs", "PCMU", "--disable", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert kv(r.stdout)["codecs"] == "PCMU" and kv(r.stdout)["enabled"] == "False"
    r = run("trunk", "set", "carrier-a", data_dir=tmp_path)
    assert r.returncode == 1 and "nothing to change" in r.stderr

    r = run("trunk", "list", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "carrier-a" in r.stdout and "192.0.2.10:5060" in r.stdout and "PCMU" in r.stdout

    r = run("trunk", "show", added["id"], data_dir=tmp_path)
    assert kv(r.stdout)["username"] == "acct1" and kv(r.stdout)["priority"] == "10"
    r = run("trunk", "show", "nope", data_dir=tmp_path)
    assert r.returncode == 1 and "no trunk 'nope'" in r.stderr

    r = run("trunk", "remove", "carrier-a", data_dir=tmp_path)
    assert r.returncode == 0 and "removed=carrier-a" in r.stdout
    trunks, _ = asyncio.run(_rows(tmp_path))
    assert trunks == []


def test_operator_create(tmp_path: Path) -> None:
    r = run("operator", "create", "--email", "Office@Example.com", "--password", "office-pass-1",
            data_dir=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert kv(r.stdout)["email"] == "office@example.com"
    _, users = asyncio.run(_rows(tmp_path))
    assert [(u.email, u.role, u.tenant_id) for u in users] == [
        ("office@example.com", "operator_admin", None)
    ]
    r = run("operator", "create", "--email", "office@example.com", "--password", "office-pass-1",
            data_dir=tmp_path)  # fmt: skip
    assert r.returncode == 1
    r = run("operator", "create", "--email", "b@example.com", "--password", "x", data_dir=tmp_path)
    assert r.returncode == 1 and "password" in r.stderr
