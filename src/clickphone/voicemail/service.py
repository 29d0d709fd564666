"""Store a voicemail with its event and notifications; list, read and delete them.

Who hears a voicemail: the employee whose flow took it (their extension or forwarding), the
members of the department whose number was called, and the company's owners and
administrators (alone for a voicemail of a number's flow). :func:`store_voicemail` writes the
row, the ``voicemail.created`` outbox event (``user_ids``: who may hear it, the only users the live
socket tells) and a ``voicemail.received`` notification per listener in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import NotFound
from clickphone.accounts.scope import Actor
from clickphone.bus.outbox import add_event
from clickphone.db.listing import ListQuery, Page, paginate
from clickphone.db.models import Department, Employee, Voicemail, utcnow
from clickphone.db.session import Database
from clickphone.notifications.service import administrators, notify


async def listeners(
    session: AsyncSession,
    tenant_id: int,
    owner_employee_id: int | None,
    department_id: int | None = None,
) -> list[int]:
    """The users who may hear a voicemail of ``owner_employee_id`` / ``department_id``."""
    users = set(await administrators(session, tenant_id))
    if owner_employee_id is not None:
        owner = await session.scalar(
            select(Employee.user_id).where(
                Employee.id == owner_employee_id, Employee.tenant_id == tenant_id
            )
        )
        if owner is not None:
            users.add(int(owner))
    if department_id is not None:
        members = await session.execute(
            select(Employee.user_id).where(
                Employee.department_id == department_id, Employee.tenant_id == tenant_id
            )
        )
        users.update(int(u) for u in members.scalars())
    return sorted(users)


async def store_voicemail(
    database: Database,
    *,
    call_id: str,
    tenant_id: int,
    owner_employee_id: int | None,
    caller: str,
    caller_name: str,
    callee: str,
    path: str,
    seconds: float,
) -> Voicemail:
    async with database.transaction() as session:
        department_id = None
        if owner_employee_id is None:  # a department's number?
            department_id = await session.scalar(
                select(Department.id).where(
                    Department.tenant_id == tenant_id, Department.extension == callee
                )
            )
        row = Voicemail(
            id=call_id,
            tenant_id=tenant_id,
            owner_employee_id=owner_employee_id,
            department_id=department_id,
            caller=caller[:64],
            caller_name=caller_name[:200],
            callee=callee[:64],
            path=path,
            seconds=round(seconds, 1),
            created_at=utcnow(),
        )
        session.add(row)
        await session.flush()
        users = await listeners(session, tenant_id, owner_employee_id, department_id)
        add_event(
            session,
            "voicemail.created",
            {"voicemail_id": row.id, "user_ids": users, "caller": row.caller},
            tenant_id=tenant_id,
        )
        who = caller_name or caller
        for uid in users:
            await notify(
                session,
                user_id=uid,
                tenant_id=tenant_id,
                kind="voicemail.received",
                title=f"Voicemail from {who} ({round(seconds)} s)",
                body=f"{who} left a voicemail on {callee}.",
                data={
                    "voicemail_id": row.id,
                    "caller": caller,
                    "caller_name": caller_name,
                    "seconds": round(seconds),
                },
            )
        return row


def _remove(data_dir: Path, rel: str) -> None:
    audio = (data_dir / rel).resolve()
    if audio.is_relative_to(data_dir.resolve()):
        audio.unlink(missing_ok=True)


class VoicemailService:
    def _visible(self, actor: Actor) -> list[Any]:
        conds: list[Any] = [
            Voicemail.tenant_id == actor.tenant_id,
            Voicemail.deleted_at.is_(None),
        ]
        if not actor.is_tenant_admin:
            me = select(Employee.id).where(Employee.user_id == actor.user_id)
            my_department = select(Employee.department_id).where(
                Employee.user_id == actor.user_id, Employee.department_id.is_not(None)
            )
            conds.append(
                or_(
                    Voicemail.owner_employee_id.in_(me),
                    Voicemail.department_id.in_(my_department),
                )
            )
        return conds

    async def list(
        self, session: AsyncSession, actor: Actor, q: ListQuery, *, unread: bool = False
    ) -> Page:
        stmt = select(Voicemail).where(*self._visible(actor))
        if unread:
            stmt = stmt.where(Voicemail.read_at.is_(None))
        return await paginate(
            session,
            stmt,
            q,
            sortable={"created_at": Voicemail.created_at, "seconds": Voicemail.seconds},
            searchable=[Voicemail.caller, Voicemail.caller_name],
            default_sort="-created_at",
        )

    async def unread(self, session: AsyncSession, actor: Actor) -> int:
        n = await session.scalar(
            select(func.count())
            .select_from(Voicemail)
            .where(*self._visible(actor), Voicemail.read_at.is_(None))
        )
        return int(n or 0)

    async def get(self, session: AsyncSession, actor: Actor, voicemail_id: str) -> Voicemail:
        row = await session.scalar(
            select(Voicemail).where(Voicemail.id == voicemail_id, *self._visible(actor))
        )
        if row is None:
            raise NotFound("no such voicemail", error_id="voicemail.not_found")
        return row

    async def mark_read(
        self, session: AsyncSession, actor: Actor, ids: Sequence[str] | None
    ) -> int:
        stmt = select(Voicemail).where(*self._visible(actor), Voicemail.read_at.is_(None))
        if ids is not None:
            stmt = stmt.where(Voicemail.id.in_(list(ids)))
        rows = list((await session.execute(stmt)).scalars())
        now = utcnow()
        for row in rows:
            row.read_at = now
        return len(rows)

    async def delete(
        self, session: AsyncSession, actor: Actor, voicemail_id: str, data_dir: Path
    ) -> None:
        """The record stays (the call log links it), the audio goes."""
        row = await self.get(session, actor, voicemail_id)
        row.deleted_at = utcnow()
        await asyncio.to_thread(_remove, data_dir, row.path)


__all__ = ["VoicemailService", "listeners", "store_voicemail"]
