"""/api/v1 routes for departments, employees, devices, registrations and contacts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.api.deps import CurrentActor, ListQueryDep, ServicesDep, SessionDep
from clickphone.api.schemas import ERROR_RESPONSES, PageOut
from clickphone.db.models import Contact, Employee, SipDevice
from clickphone.directory.schemas import (
    ContactIn,
    ContactNumberOut,
    ContactOut,
    ContactPatch,
    DepartmentIn,
    DepartmentOut,
    DepartmentPatch,
    DeviceCreated,
    DeviceIn,
    DeviceOut,
    DevicePatch,
    DeviceRotate,
    EmployeeCreated,
    EmployeeIn,
    EmployeeOut,
    EmployeePatch,
    RegistrationOut,
)
from clickphone.directory.service import DirectoryService, NewDevice

router = APIRouter(responses=ERROR_RESPONSES)
NO_CONTENT = status.HTTP_204_NO_CONTENT


def _employee_out(e: Employee) -> dict[str, Any]:
    u = e.user
    return {
        "id": e.id,
        "tenant_id": e.tenant_id,
        "user_id": e.user_id,
        "department_id": e.department_id,
        "extension": e.extension,
        "full_name": u.full_name,
        "email": u.email,
        "position": u.position,
        "role": u.role,
        "created_at": e.created_at,
    }


def _contact_out(c: Contact) -> ContactOut:
    return ContactOut(
        id=c.id,
        tenant_id=c.tenant_id,
        owner_user_id=c.owner_user_id,
        shared=c.owner_user_id is None,
        name=c.name,
        company=c.company,
        favorite=c.favorite,
        group=c.group_name,
        notes=c.notes,
        numbers=[ContactNumberOut.model_validate(n) for n in c.numbers],
        birthday=c.birthday,
        created_at=c.created_at,
    )


async def _devices_out(
    session: AsyncSession, directory: DirectoryService, devices: list[SipDevice]
) -> list[DeviceOut]:
    regs = await directory.registrations_for(session, [d.id for d in devices])
    out = []
    for d in devices:
        item = DeviceOut.model_validate(d)
        item.registrations = [RegistrationOut.model_validate(r) for r in regs[d.id]]
        item.online = bool(item.registrations)
        out.append(item)
    return out


def _device_created(new: NewDevice, realm: str) -> DeviceCreated:
    base = DeviceOut.model_validate(new.device).model_dump()
    return DeviceCreated(**base, sip_password=new.sip_password, sip_realm=realm)


# -- departments ------------------------------------------------------------------------------
@router.get("/departments", tags=["departments"])
async def list_departments(
    actor: CurrentActor, services: ServicesDep, session: SessionDep, lq: ListQueryDep
) -> PageOut[DepartmentOut]:
    page = await services.directory.list_departments(session, actor, lq)
    return PageOut[DepartmentOut](
        items=[DepartmentOut.model_validate(d) for d in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/departments", status_code=status.HTTP_201_CREATED, tags=["departments"])
async def create_department(
    body: DepartmentIn, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> DepartmentOut:
    dep = await services.directory.create_department(
        session,
        actor,
        name=body.name,
        description=body.description,
        tenant_id=body.tenant_id,
        extension=body.extension,
    )
    return DepartmentOut.model_validate(dep)


@router.get("/departments/{department_id}", tags=["departments"])
async def get_department(
    department_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> DepartmentOut:
    return DepartmentOut.model_validate(
        await services.directory.get_department(session, actor, department_id)
    )


@router.patch("/departments/{department_id}", tags=["departments"])
async def patch_department(
    department_id: int,
    body: DepartmentPatch,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> DepartmentOut:
    dep = await services.directory.update_department(
        session, actor, department_id, **body.model_dump(exclude_unset=True)
    )
    return DepartmentOut.model_validate(dep)


@router.delete("/departments/{department_id}", status_code=NO_CONTENT, tags=["departments"])
async def delete_department(
    department_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> Response:
    await services.directory.delete_department(session, actor, department_id)
    return Response(status_code=NO_CONTENT)


# -- employees --------------------------------------------------------------------------------
@router.get("/employees", tags=["employees"])
async def list_employees(
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
    lq: ListQueryDep,
    department_id: Annotated[int | None, Query()] = None,
) -> PageOut[EmployeeOut]:
    """Employees of the company; filter by department; search name/e-mail/extension."""
    page = await services.directory.list_employees(session, actor, lq, department_id)
    return PageOut[EmployeeOut](
        items=[EmployeeOut(**_employee_out(e)) for e in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/employees", status_code=status.HTTP_201_CREATED, tags=["employees"])
async def create_employee(
    body: EmployeeIn, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> EmployeeCreated:
    """Create an employee and their user (and optionally a SIP device, password shown once)."""
    new = await services.directory.create_employee(session, actor, **body.model_dump())
    realm = services.directory.realm
    return EmployeeCreated(
        **_employee_out(new.employee),
        initial_password=new.initial_password,
        device=_device_created(new.device, realm) if new.device else None,
    )


@router.get("/employees/{employee_id}", tags=["employees"])
async def get_employee(
    employee_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> EmployeeOut:
    return EmployeeOut(
        **_employee_out(await services.directory.get_employee(session, actor, employee_id))
    )


@router.patch("/employees/{employee_id}", tags=["employees"])
async def patch_employee(
    employee_id: int,
    body: EmployeePatch,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> EmployeeOut:
    emp = await services.directory.update_employee(
        session, actor, employee_id, **body.model_dump(exclude_unset=True)
    )
    return EmployeeOut(**_employee_out(emp))


@router.delete("/employees/{employee_id}", status_code=NO_CONTENT, tags=["employees"])
async def delete_employee(
    employee_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> Response:
    await services.directory.delete_employee(session, actor, employee_id)
    return Response(status_code=NO_CONTENT)


# -- devices ----------------------------------------------------------------------------------
@router.get("/employees/{employee_id}/devices", tags=["devices"])
async def list_employee_devices(
    employee_id: int,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
    lq: ListQueryDep,
) -> PageOut[DeviceOut]:
    """An employee's SIP devices with live registration state (online, contact, expiry)."""
    page = await services.directory.list_devices(session, actor, lq, employee_id=employee_id)
    items = await _devices_out(session, services.directory, list(page.items))
    return PageOut[DeviceOut](items=items, total=page.total, limit=page.limit, offset=page.offset)


@router.post("/employees/{employee_id}/devices", status_code=201, tags=["devices"])
async def create_employee_device(
    employee_id: int,
    body: DeviceIn,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> DeviceCreated:
    """Create a SIP device; the response is the only time the SIP password is shown."""
    new = await services.directory.create_device_for_employee(
        session,
        actor,
        employee_id,
        label=body.label,
        sip_password=body.sip_password,
        auth_algorithms=body.auth_algorithms,
    )
    return _device_created(new, services.directory.realm)


@router.get("/me/devices", tags=["devices"])
async def list_my_devices(
    actor: CurrentActor, services: ServicesDep, session: SessionDep, lq: ListQueryDep
) -> PageOut[DeviceOut]:
    page = await services.directory.list_devices(session, actor, lq, user_id=actor.user_id)
    items = await _devices_out(session, services.directory, list(page.items))
    return PageOut[DeviceOut](items=items, total=page.total, limit=page.limit, offset=page.offset)


@router.post("/me/devices", status_code=201, tags=["devices"])
async def create_my_device(
    body: DeviceIn, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> DeviceCreated:
    new = await services.directory.create_own_device(
        session,
        actor,
        label=body.label,
        sip_password=body.sip_password,
        auth_algorithms=body.auth_algorithms,
    )
    return _device_created(new, services.directory.realm)


@router.get("/devices", tags=["devices"])
async def list_devices(
    actor: CurrentActor, services: ServicesDep, session: SessionDep, lq: ListQueryDep
) -> PageOut[DeviceOut]:
    """Devices of the tenant (administrators) or my own (everyone else)."""
    page = await services.directory.list_devices(session, actor, lq)
    items = await _devices_out(session, services.directory, list(page.items))
    return PageOut[DeviceOut](items=items, total=page.total, limit=page.limit, offset=page.offset)


@router.get("/devices/{device_id}", tags=["devices"])
async def get_device(
    device_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> DeviceOut:
    device = await services.directory.get_device(session, actor, device_id)
    return (await _devices_out(session, services.directory, [device]))[0]


@router.patch("/devices/{device_id}", tags=["devices"])
async def patch_device(
    device_id: int,
    body: DevicePatch,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> DeviceOut:
    device = await services.directory.update_device(
        session, actor, device_id, **body.model_dump(exclude_unset=True)
    )
    return (await _devices_out(session, services.directory, [device]))[0]


@router.post("/devices/{device_id}/rotate", tags=["devices"])
async def rotate_device(
    device_id: int,
    body: DeviceRotate,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> DeviceCreated:
    """Set a new SIP password (generated unless given); shown only in this response."""
    new = await services.directory.rotate_device_password(
        session, actor, device_id, body.sip_password
    )
    return _device_created(new, services.directory.realm)


@router.delete("/devices/{device_id}", status_code=NO_CONTENT, tags=["devices"])
async def delete_device(
    device_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> Response:
    await services.directory.delete_device(session, actor, device_id)
    return Response(status_code=NO_CONTENT)


@router.get("/registrations", tags=["devices"])
async def list_registrations(
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
    lq: ListQueryDep,
    include_expired: bool = False,
) -> PageOut[RegistrationOut]:
    """Live SIP registrations (contacts) of the tenant's devices."""
    page = await services.directory.list_registrations(
        session, actor, lq, include_expired=include_expired
    )
    return PageOut[RegistrationOut](
        items=[RegistrationOut.model_validate(r) for r in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


# -- contacts ---------------------------------------------------------------------------------
@router.get("/contacts", tags=["contacts"])
async def list_contacts(
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
    lq: ListQueryDep,
    favorite: bool | None = None,
    group: str | None = None,
    scope: Annotated[str | None, Query(pattern="^(personal|shared)$")] = None,
) -> PageOut[ContactOut]:
    """Company-wide and my personal contacts; filter by favorite, group, scope; search by
    name, company or number."""
    page = await services.directory.list_contacts(
        session, actor, lq, favorite=favorite, group=group, scope=scope
    )
    return PageOut[ContactOut](
        items=[_contact_out(c) for c in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/contacts", status_code=status.HTTP_201_CREATED, tags=["contacts"])
async def create_contact(
    body: ContactIn, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> ContactOut:
    data = body.model_dump()
    contact = await services.directory.create_contact(session, actor, **data)
    return _contact_out(contact)


@router.get("/contacts/{contact_id}", tags=["contacts"])
async def get_contact(
    contact_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> ContactOut:
    return _contact_out(await services.directory.get_contact(session, actor, contact_id))


@router.patch("/contacts/{contact_id}", tags=["contacts"])
async def patch_contact(
    contact_id: int,
    body: ContactPatch,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> ContactOut:
    contact = await services.directory.update_contact(
        session, actor, contact_id, **body.model_dump(exclude_unset=True)
    )
    return _contact_out(contact)


@router.delete("/contacts/{contact_id}", status_code=NO_CONTENT, tags=["contacts"])
async def delete_contact(
    contact_id: int, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> Response:
    await services.directory.delete_contact(session, actor, contact_id)
    return Response(status_code=NO_CONTENT)
