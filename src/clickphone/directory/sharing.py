"""Sharing a personal contact with an employee or a department (group) of the same company.

Recipients see the contact in their list (read-only); only its owner may share and unshare.
Company-wide contacts are visible to everyone already, so they are not shared.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from clickphone.accounts.scope import Actor
from clickphone.api.deps import CurrentActor, ServicesDep, SessionDep
from clickphone.api.schemas import ERROR_RESPONSES
from clickphone.db.models import Contact, ContactShare, Department, Employee, User

router = APIRouter(responses=ERROR_RESPONSES, tags=["contacts"])


class ShareIn(BaseModel):
    employee_id: int | None = None
    department_id: int | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ShareIn:
        if (self.employee_id is None) == (self.department_id is None):
            raise ValueError("give either employee_id or department_id")
        return self


class ShareOut(BaseModel):
    id: int
    contact_id: int
    employee_id: int | None
    department_id: int | None
    name: str  # the employee's or department's name
    created_at: datetime


async def _own_contact(
    services: ServicesDep, session: AsyncSession, actor: Actor, contact_id: int
) -> Contact:
    contact = await services.directory.get_contact(session, actor, contact_id)
    if contact.owner_user_id is None:
        raise ValidationFailed(
            {"contact_id": "company-wide contacts are visible to everyone already"}
        )
    if contact.owner_user_id != actor.user_id and not actor.is_operator:
        raise PermissionDenied("only the contact's owner may share it")
    return contact


async def _share_out(session: AsyncSession, share: ContactShare) -> ShareOut:
    name = ""
    if share.employee_id is not None:
        name = (
            await session.scalar(
                select(User.full_name)
                .join(Employee, Employee.user_id == User.id)
                .where(Employee.id == share.employee_id)
            )
            or ""
        )
    elif share.department_id is not None:
        name = (
            await session.scalar(
                select(Department.name).where(Department.id == share.department_id)
            )
            or ""
        )
    return ShareOut(
        id=share.id,
        contact_id=share.contact_id,
        employee_id=share.employee_id,
        department_id=share.department_id,
        name=name,
        created_at=share.created_at,
    )


@router.get("/contacts/{contact_id}/shares")
async def list_shares(
    contact_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> list[ShareOut]:
    """Whom my personal contact is shared with."""
    contact = await _own_contact(services, session, actor, contact_id)
    rows = await session.scalars(
        select(ContactShare).where(ContactShare.contact_id == contact.id).order_by(ContactShare.id)
    )
    return [await _share_out(session, r) for r in rows.all()]


@router.post("/contacts/{contact_id}/shares", status_code=status.HTTP_201_CREATED)
async def share_contact(
    contact_id: int,
    body: ShareIn,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> ShareOut:
    """Share my personal contact with an employee or a department of my company (read-only
    for them)."""
    contact = await _own_contact(services, session, actor, contact_id)
    if body.employee_id is not None:
        emp = await session.get(Employee, body.employee_id)
        if emp is None or emp.tenant_id != contact.tenant_id:
            raise ValidationFailed({"employee_id": "no such employee in this company"})
        if emp.user_id == contact.owner_user_id:
            raise ValidationFailed({"employee_id": "this is the contact's owner"})
    else:
        dept = await session.get(Department, body.department_id)
        if dept is None or dept.tenant_id != contact.tenant_id:
            raise ValidationFailed({"department_id": "no such department in this company"})
    share = ContactShare(
        tenant_id=contact.tenant_id,
        contact_id=contact.id,
        employee_id=body.employee_id,
        department_id=body.department_id,
        created_by_user_id=actor.user_id,
    )
    session.add(share)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(
            "the contact is already shared with them", error_id="conflict.already_shared"
        ) from None
    return await _share_out(session, share)


@router.delete("/contacts/{contact_id}/shares/{share_id}", status_code=204)
async def unshare_contact(
    contact_id: int,
    share_id: int,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    """Stop sharing my contact with that employee or department."""
    contact = await _own_contact(services, session, actor, contact_id)
    share = await session.get(ContactShare, share_id)
    if share is None or share.contact_id != contact.id:
        raise NotFound(f"share {share_id} not found")
    await session.delete(share)
    await session.commit()
    return Response(status_code=204)
