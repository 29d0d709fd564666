"""Apply Alembic migrations programmatically (``clickphone migrate`` and server start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from clickphone.db.session import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _upgrade(connection: Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def upgrade(database: Database, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` on the database's own engine."""
    cfg = alembic_config(database.url)
    async with database.engine.begin() as conn:
        await conn.run_sync(_upgrade, cfg, revision)


def _current(connection: Connection) -> Any:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(database: Database) -> str | None:
    async with database.engine.connect() as conn:
        rev = await conn.run_sync(_current)
    return str(rev) if rev else None
