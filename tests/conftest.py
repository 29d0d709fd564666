"""Shared fixtures: a migrated database on SQLite and PostgreSQL, an API client.

PostgreSQL: a uniquely named template database ``clickphone_test_<random>_tpl`` is created
and migrated once per session; each test gets its own copy (``CREATE DATABASE ... TEMPLATE``)
that is dropped afterwards, so parallel runs and tests never collide.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from _peers import require
from apitest import Api
from clickphone.app import create_app
from clickphone.bus import EventBus
from clickphone.config import Settings
from clickphone.db import Database
from clickphone.db.migrate import upgrade

PG_ADMIN_DSN = os.environ.get("CLICKPHONE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_dsn(dbname: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{dbname}"


def _sa_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _pg_exec(*statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        for s in statements:
            await conn.execute(s)
    finally:
        await conn.close()


def _pg_available() -> bool:
    try:
        asyncio.run(_pg_exec("SELECT 1"))
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """Name of a migrated template database, or None when PostgreSQL is unreachable."""
    if not _pg_available():
        yield None
        return
    name = f"clickphone_test_{secrets.token_hex(4)}_tpl"
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))

    async def migrate() -> None:
        db = Database(_sa_url(_pg_dsn(name)))
        await upgrade(db)
        await db.dispose()

    try:
        asyncio.run(migrate())
        yield name
    finally:
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"

    async def migrate() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await upgrade(db)
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await db.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    pg_template: str | None,
) -> Iterator[str]:
    """URL of a fresh, migrated database (each test runs on both backends)."""
    if request.param == "sqlite":
        target = tmp_path / "clickphone.db"
        shutil.copy(sqlite_template, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    require(pg_template is not None, "PostgreSQL at 127.0.0.1:5432")
    name = f"clickphone_test_{secrets.token_hex(6)}"
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    try:
        yield _sa_url(_pg_dsn(name))
    finally:
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url)
    yield db
    await db.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", secret_key="x" * 40, sip_realm="clickphone")


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
async def app(settings: Settings, database: Database, bus: EventBus) -> Any:
    return create_app(
        settings, database=database, bus=bus, sip_status_provider=lambda: {"status": "running"}
    )


@pytest.fixture
def api(app: Any) -> Api:
    return Api(app)
