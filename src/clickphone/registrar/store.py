"""Database side of the registrar: device credentials (cached) and persisted bindings.

Lookups of device credentials are cached for ``ttl`` seconds (unknown usernames too, so a
scanner trying random names cannot hammer the database). Bindings live in memory for speed
and are written behind to the ``sip_registrations`` table in small batches (every
``flush_interval`` seconds and on shutdown), so registrations survive a restart; a crash can
lose at most the last batch of refreshes, which the phones repeat on their next refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from clickphone.db.models import Employee, SipDevice, SipRegistration, User
from clickphone.db.session import Database
from clickphone.registrar.bindings import Binding
from clickphone.sip.transaction import Peer

log = logging.getLogger("clickphone.registrar")


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: int
    tenant_id: int
    username: str
    realm: str
    ha1: dict[str, str]  # algorithm name ("MD5", "SHA-256", "SHA-512-256") -> HA1 hex
    algorithms: tuple[str, ...]
    enabled: bool
    employee_id: int | None
    extension: str | None
    display_name: str


class DeviceDirectory:
    """Device credentials by SIP username, cached.

    Found devices stay cached for ``ttl`` (an hour: phones refresh their registrations more
    often than that, and a miss costs a database query); changes made through the API arrive
    as bus events and clear the cache at once (``invalidate``). Unknown names are cached for
    5 s only, so a device created by the CLI in another process can register quickly.
    """

    def __init__(
        self, database: Database, *, ttl: float = 3600.0, max_entries: int = 200_000
    ) -> None:
        self.database = database
        self.ttl = ttl
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, DeviceInfo | None]] = {}
        self._ext_cache: dict[tuple[int, str], tuple[float, list[str] | None]] = {}
        self._algorithm_sets: tuple[float, list[tuple[tuple[str, ...], int]]] | None = None

    def invalidate(self) -> None:
        self._cache.clear()
        self._ext_cache.clear()
        self._algorithm_sets = None

    async def algorithm_sets(self) -> list[tuple[tuple[str, ...], int]]:
        """The digest algorithm lists devices use, with how many devices use each (from a
        sample of up to 2,000 devices, cached for a minute)."""
        now = time.monotonic()
        if self._algorithm_sets is not None and self._algorithm_sets[0] > now:
            return self._algorithm_sets[1]
        async with self.database.session() as session:
            rows = (await session.execute(select(SipDevice.auth_algorithms).limit(2000))).scalars()
            counts: dict[tuple[str, ...], int] = {}
            for algos in rows:
                key = tuple(algos or ())
                if key:
                    counts[key] = counts.get(key, 0) + 1
        result = sorted(counts.items())
        self._algorithm_sets = (now + 60.0, result)
        return result

    def _query(self) -> Any:  # a Select of the columns _info() reads
        return (
            select(
                SipDevice.id,
                SipDevice.tenant_id,
                SipDevice.sip_username,
                SipDevice.realm,
                SipDevice.ha1_md5,
                SipDevice.ha1_sha256,
                SipDevice.ha1_sha512_256,
                SipDevice.auth_algorithms,
                SipDevice.enabled,
                SipDevice.employee_id,
                Employee.extension,
                User.full_name,
            )
            .outerjoin(Employee, Employee.id == SipDevice.employee_id)
            .outerjoin(User, User.id == SipDevice.user_id)
        )

    @staticmethod
    def _info(row: Any) -> DeviceInfo:
        algorithms = tuple(row.auth_algorithms or ("SHA-256", "MD5"))
        # Keep only the HA1s of the algorithms the device may use (memory per device).
        ha1 = {
            name: value
            for name, value in (
                ("MD5", row.ha1_md5),
                ("SHA-256", row.ha1_sha256),
                ("SHA-512-256", row.ha1_sha512_256),
            )
            if name in algorithms
        }
        return DeviceInfo(
            id=row.id,
            tenant_id=row.tenant_id,
            username=row.sip_username,
            realm=row.realm,
            ha1=ha1,
            algorithms=algorithms,
            enabled=row.enabled,
            employee_id=row.employee_id,
            extension=row.extension,
            display_name=row.full_name or "",
        )

    async def preload(self, limit: int = 200_000) -> int:
        """Cache every device's credentials in one query (at start): a restart followed by
        every phone re-registering must not cost one database query per phone."""
        async with self.database.session() as session:
            rows = (await session.execute(self._query().limit(limit))).all()
        until = time.monotonic() + self.ttl
        extensions: dict[tuple[int, str], list[str]] = {}
        for row in rows:
            self._cache[row.sip_username] = (until, self._info(row))
            if row.extension is not None and row.enabled:
                extensions.setdefault((row.tenant_id, row.extension), []).append(row.sip_username)
        for key, names in extensions.items():
            self._ext_cache[key] = (until, names)
        return len(rows)

    def forget(
        self,
        *,
        device_id: int | None = None,
        employee_id: int | None = None,
        username: str | None = None,
    ) -> None:
        """Drop what a change to one device, employee or username makes stale."""
        if username is not None:
            self._cache.pop(username, None)
        if device_id is not None or employee_id is not None:
            for name, (_, info) in list(self._cache.items()):
                if info is not None and (
                    info.id == device_id
                    or (employee_id is not None and info.employee_id == employee_id)
                ):
                    del self._cache[name]
        self._ext_cache.clear()

    async def get(self, username: str) -> DeviceInfo | None:
        now = time.monotonic()
        hit = self._cache.get(username)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self.database.session() as session:
            row = (
                await session.execute(self._query().where(SipDevice.sip_username == username))
            ).first()
        info = self._info(row) if row is not None else None
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        # Unknown names are remembered briefly only, so a device created a moment ago (e.g. by
        # the CLI in another process) can register within seconds.
        self._cache[username] = (now + (self.ttl if info is not None else min(self.ttl, 5.0)), info)
        return info

    async def usernames_for_extension(self, tenant_id: int, extension: str) -> list[str] | None:
        """SIP usernames of the devices of the employee with ``extension`` in the tenant;
        None when no employee has that extension."""
        now = time.monotonic()
        key = (tenant_id, extension)
        hit = self._ext_cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self.database.session() as session:
            employee = (
                await session.execute(
                    select(Employee).where(
                        Employee.tenant_id == tenant_id, Employee.extension == extension
                    )
                )
            ).scalar_one_or_none()
            names: list[str] | None = None
            if employee is not None:
                names = list(
                    (
                        await session.execute(
                            select(SipDevice.sip_username).where(
                                SipDevice.tenant_id == tenant_id,
                                SipDevice.employee_id == employee.id,
                                SipDevice.enabled.is_(True),
                            )
                        )
                    ).scalars()
                )
        if len(self._ext_cache) >= self.max_entries:
            self._ext_cache.clear()
        # Known extensions stay cached (directory events clear the cache); unknown ones only
        # briefly, so an employee created by the CLI in another process becomes reachable.
        self._ext_cache[key] = (
            now + (self.ttl if names is not None else min(self.ttl, 5.0)),
            names,
        )
        return names


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


_UPDATED_ON_CONFLICT = (
    "tenant_id",
    "received_host",
    "received_port",
    "transport",
    "user_agent",
    "call_id",
    "cseq",
    "expires_at",
    "q",
    "instance_id",
    "updated_at",
)


class RegistrationStore:
    """Write-behind persistence of bindings."""

    def __init__(self, database: Database, *, flush_interval: float = 0.25) -> None:
        self.database = database
        self.flush_interval = flush_interval
        self._upserts: dict[tuple[int, str], tuple[DeviceInfo, Binding]] = {}
        self._deletes: dict[tuple[int, str], DeviceInfo] = {}
        self._task: asyncio.Task[None] | None = None
        self._inflight: asyncio.Future[None] | None = None
        self._wake = asyncio.Event()
        self._upsert_stmt: Any = None

    async def load(self, now: float) -> list[tuple[int, Binding]]:
        """Unexpired bindings from the database (on start)."""
        out: list[tuple[int, Binding]] = []
        async with self.database.session() as session:
            rows = (
                await session.execute(
                    select(SipRegistration, SipDevice.sip_username).join(
                        SipDevice, SipDevice.id == SipRegistration.device_id
                    )
                )
            ).all()
        for reg, username in rows:
            expires_at = reg.expires_at.timestamp()
            if expires_at <= now:
                continue
            out.append(
                (
                    reg.device_id,
                    Binding(
                        username=username,
                        contact=reg.contact_uri,
                        peer=Peer(reg.transport, reg.received_host, reg.received_port),
                        expires_at=expires_at,
                        call_id=reg.call_id,
                        cseq=reg.cseq,
                        user_agent=reg.user_agent,
                        q=reg.q,
                        instance_id=reg.instance_id,
                    ),
                )
            )
        return out

    def upsert(self, device: DeviceInfo, binding: Binding) -> None:
        key = (device.id, binding.contact)
        self._deletes.pop(key, None)
        self._upserts[key] = (device, binding)
        self._wake.set()

    def delete(self, device: DeviceInfo, binding: Binding) -> None:
        key = (device.id, binding.contact)
        self._upserts.pop(key, None)
        self._deletes[key] = device
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the background writer and write out everything still queued."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._inflight is not None and not self._inflight.done():
            # A flush interrupted by the cancel above keeps running (it was shielded).
            with contextlib.suppress(Exception):
                await self._inflight
        await self.flush()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._inflight = asyncio.ensure_future(self.flush())
            try:
                # Shielded: cancelling the writer never abandons a half-done batch.
                await asyncio.shield(self._inflight)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("x failed to persist registrations; will retry")
                self._wake.set()
            await asyncio.sleep(self.flush_interval)

    def _upsert(self) -> Any:
        """The upsert statement, executed with a list of rows (SQLAlchemy sends them as
        multi-row VALUES batches); built once, so its compiled form is cached."""
        if self._upsert_stmt is None:
            insert = pg_insert if self.database.dialect == "postgresql" else sqlite_insert
            stmt = insert(SipRegistration)
            self._upsert_stmt = stmt.on_conflict_do_update(
                index_elements=[SipRegistration.device_id, SipRegistration.contact_uri],
                set_={name: getattr(stmt.excluded, name) for name in _UPDATED_ON_CONFLICT},
            )
        return self._upsert_stmt

    async def purge_expired(self, now: float) -> None:
        async with self.database.transaction() as session:
            await session.execute(
                delete(SipRegistration).where(SipRegistration.expires_at <= _ts(now))
            )

    async def flush(self) -> None:
        """Write the queued changes in one transaction: one DELETE per removed binding and
        one multi-row upsert (INSERT ... ON CONFLICT (device_id, contact_uri) DO UPDATE) for
        all new and refreshed ones — no ORM objects, no read before the write."""
        if not self._upserts and not self._deletes:
            return
        upserts, self._upserts = self._upserts, {}
        deletes, self._deletes = self._deletes, {}
        try:
            async with self.database.transaction() as session:
                for device_id, contact in deletes:
                    await session.execute(
                        delete(SipRegistration).where(
                            SipRegistration.device_id == device_id,
                            SipRegistration.contact_uri == contact,
                        )
                    )
                if upserts:
                    now = datetime.now(UTC)
                    rows = [
                        {
                            "device_id": device.id,
                            "contact_uri": b.contact,
                            "tenant_id": device.tenant_id,
                            "received_host": b.peer.host,
                            "received_port": b.peer.port,
                            "transport": b.peer.transport,
                            "user_agent": b.user_agent,
                            "call_id": b.call_id[:500],
                            "cseq": b.cseq,
                            "expires_at": _ts(b.expires_at),
                            "q": b.q,
                            "instance_id": b.instance_id,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for device, b in upserts.values()
                    ]
                    await session.execute(self._upsert(), rows)
        except Exception:
            # Put the work back (newer entries win) so the next flush retries it.
            for key, value in upserts.items():
                self._upserts.setdefault(key, value)
            for key, dev in deletes.items():
                if key not in self._upserts:
                    self._deletes.setdefault(key, dev)
            raise
