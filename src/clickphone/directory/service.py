"""Directory: departments, employees, SIP devices, registrations (read), contacts.

Every query goes through ``clickphone.accounts.scope`` for tenant isolation. Public methods
that change data commit their own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import phonenumbers
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from clickphone.accounts.passwords import generate_password, hash_password
from clickphone.accounts.scope import Actor, get_scoped, scoped
from clickphone.accounts.service import (
    check_password_strength,
    email_conflict,
    email_taken,
    normalize_email,
)
from clickphone.bus.outbox import add_event
from clickphone.db.listing import ListQuery, Page, paginate
from clickphone.db.models import (
    DEFAULT_AUTH_ALGORITHMS,
    Contact,
    ContactNumber,
    ContactShare,
    Department,
    Employee,
    SipDevice,
    SipRegistration,
    User,
    utcnow,
)
from clickphone.directory.sipcred import (
    all_ha1,
    new_sip_password,
    new_sip_username,
    normalize_algorithms,
)

EMPLOYEE_ROLES = ("employee", "tenant_admin")
FIRST_EXTENSION = 101


@dataclass(slots=True)
class NewDevice:
    device: SipDevice
    sip_password: str  # shown once, never stored


@dataclass(slots=True)
class NewEmployee:
    employee: Employee
    user: User
    initial_password: str | None
    device: NewDevice | None


def normalize_phone(raw: str, region: str | None = None) -> str:
    """E.164 when the number parses; otherwise the digits (short/internal numbers)."""
    text = raw.strip()
    try:
        parsed = phonenumbers.parse(text, region)
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    digits = "".join(c for c in text if c.isdigit() or c in "*#")
    if not digits:
        raise ValueError("not a phone number")
    return ("+" + digits) if text.startswith("+") else digits


def set_birthday(contact: Contact, birthday: date | None) -> None:
    if birthday == contact.birthday:
        return
    contact.birthday = birthday
    contact.birthday_md = birthday.month * 100 + birthday.day if birthday else None
    contact.birthday_notified_year = None


class DirectoryService:
    def __init__(self, *, realm: str = "clickphone") -> None:
        self.realm = realm

    # -- departments ------------------------------------------------------------------------
    async def list_departments(self, session: AsyncSession, actor: Actor, q: ListQuery) -> Page:
        actor.require_company_member()
        stmt = scoped(select(Department), Department, actor)
        return await paginate(
            session,
            stmt,
            q,
            sortable={
                "id": Department.id,
                "name": Department.name,
                "created_at": Department.created_at,
            },
            searchable=[Department.name, Department.description],
            default_sort="name",
            tiebreak=Department.id,
        )

    async def get_department(self, session: AsyncSession, actor: Actor, ident: int) -> Department:
        actor.require_company_member()
        return await get_scoped(session, Department, ident, actor)

    async def create_department(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        name: str,
        description: str = "",
        tenant_id: int | None = None,
        extension: str | None = None,
    ) -> Department:
        actor.require_company_member()
        actor.require_manager()
        tid = actor.tenant_for_create(tenant_id)
        if extension is not None:
            await self._extension_free(session, tid, extension)
        dep = Department(tenant_id=tid, name=name, description=description, extension=extension)
        session.add(dep)
        await self._commit_department(session)
        return dep

    async def update_department(
        self, session: AsyncSession, actor: Actor, ident: int, **changes: Any
    ) -> Department:
        dep = await self.get_department(session, actor, ident)
        actor.require_manager()
        if "extension" in changes:  # null removes the extension
            extension = changes.pop("extension")
            if extension is not None and extension != dep.extension:
                await self._extension_free(
                    session, dep.tenant_id, extension, except_department=dep.id
                )
            dep.extension = extension
        for k, v in changes.items():
            if v is not None:
                setattr(dep, k, v)
        await self._commit_department(session)
        return dep

    async def _commit_department(self, session: AsyncSession) -> None:
        try:
            await session.commit()
        except IntegrityError:  # the name or extension was taken at the same moment
            await session.rollback()
            message = "a department with this name or extension exists"
            raise Conflict(message, details={"fields": {"name": message}}) from None

    async def delete_department(self, session: AsyncSession, actor: Actor, ident: int) -> None:
        dep = await self.get_department(session, actor, ident)
        actor.require_manager()
        await session.delete(dep)
        await session.commit()

    # -- employees --------------------------------------------------------------------------
    def _employee_stmt(self, actor: Actor) -> Select[Any]:
        return scoped(select(Employee).join(User, User.id == Employee.user_id), Employee, actor)

    async def list_employees(
        self, session: AsyncSession, actor: Actor, q: ListQuery, department_id: int | None = None
    ) -> Page:
        actor.require_company_member()
        stmt = self._employee_stmt(actor)
        if department_id is not None:
            stmt = stmt.where(Employee.department_id == department_id)
        page = await paginate(
            session,
            stmt,
            q,
            sortable={
                "id": Employee.id,
                "extension": Employee.extension,
                "full_name": User.full_name,
                "email": User.email,
                "position": User.position,
                "created_at": Employee.created_at,
            },
            searchable=[User.full_name, User.email, User.position, Employee.extension],
            default_sort="extension",
            tiebreak=Employee.id,
        )
        await self._load_users(session, page.items)
        return page

    async def _load_users(self, session: AsyncSession, employees: Any) -> None:
        ids = [e.user_id for e in employees]
        if ids:
            users = {u.id: u for u in (await session.scalars(select(User).where(User.id.in_(ids))))}
            for e in employees:
                e.__dict__["user"] = users[e.user_id]  # fill the lazy="raise" relationship

    async def get_employee(self, session: AsyncSession, actor: Actor, ident: int) -> Employee:
        actor.require_company_member()
        emp = await get_scoped(session, Employee, ident, actor)
        await self._load_users(session, [emp])
        return emp

    async def _check_department(
        self, session: AsyncSession, tenant_id: int, department_id: int | None
    ) -> None:
        if department_id is None:
            return
        dep = await session.get(Department, department_id)
        if dep is None or dep.tenant_id != tenant_id:
            raise ValidationFailed({"department_id": "no such department"})

    async def _next_extension(self, session: AsyncSession, tenant_id: int) -> str:
        exts = (
            await session.scalars(select(Employee.extension).where(Employee.tenant_id == tenant_id))
        ).all()
        dept_exts = (
            await session.scalars(
                select(Department.extension).where(Department.tenant_id == tenant_id)
            )
        ).all()
        used = {int(e) for e in (*exts, *dept_exts) if e and e.isdigit()}
        n = FIRST_EXTENSION
        while n in used:
            n += 1
        return str(n)

    async def _extension_free(
        self,
        session: AsyncSession,
        tenant_id: int,
        extension: str,
        except_id: int | None = None,
        *,
        except_department: int | None = None,
    ) -> None:
        """Employees and departments share one extension space per company."""
        stmt = select(Employee.id).where(
            Employee.tenant_id == tenant_id, Employee.extension == extension
        )
        if except_id is not None:
            stmt = stmt.where(Employee.id != except_id)
        deps = select(Department.id).where(
            Department.tenant_id == tenant_id, Department.extension == extension
        )
        if except_department is not None:
            deps = deps.where(Department.id != except_department)
        if await session.scalar(stmt) is not None or await session.scalar(deps) is not None:
            raise Conflict(
                f"extension {extension} is taken",
                error_id="conflict.extension_taken",
                details={"fields": {"extension": "already used in this company"}},
            )

    async def create_employee(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        full_name: str,
        email: str,
        password: str | None = None,
        position: str = "",
        extension: str | None = None,
        department_id: int | None = None,
        role: str = "employee",
        tenant_id: int | None = None,
        create_device: bool = False,
        device_label: str = "",
        sip_password: str | None = None,
        auth_algorithms: list[str] | None = None,
    ) -> NewEmployee:
        actor.require_company_member()
        actor.require_manager()
        tid = actor.tenant_for_create(tenant_id)
        if role not in EMPLOYEE_ROLES:
            raise ValidationFailed({"role": f"must be one of {', '.join(EMPLOYEE_ROLES)}"})
        if role == "tenant_admin" and actor.role == "tenant_admin":
            pass  # admins may appoint admins; only the owner is unique
        await self._check_department(session, tid, department_id)
        if await email_taken(session, email):
            raise email_conflict()
        initial = None
        if password is None:
            password = initial = generate_password(14)
        check_password_strength(password)
        if extension is None:
            extension = await self._next_extension(session, tid)
        else:
            await self._extension_free(session, tid, extension)
        user = User(
            tenant_id=tid,
            email=normalize_email(email),
            password_hash=hash_password(password),
            full_name=full_name,
            position=position,
            role=role,
        )
        session.add(user)
        await session.flush()
        emp = Employee(
            tenant_id=tid, user_id=user.id, department_id=department_id, extension=extension
        )
        session.add(emp)
        await session.flush()
        emp.__dict__["user"] = user
        device = None
        if create_device:
            device = await self._add_device(
                session, tid, user.id, emp.id, device_label, sip_password, auth_algorithms
            )
        add_event(
            session,
            "employee.created",
            {"employee_id": emp.id, "user_id": user.id, "extension": extension},
            tenant_id=tid,
        )
        await self._commit(session, "e-mail or extension already used", "email")
        return NewEmployee(emp, user, initial, device)

    async def update_employee(
        self, session: AsyncSession, actor: Actor, ident: int, **changes: Any
    ) -> Employee:
        emp = await self.get_employee(session, actor, ident)
        actor.require_manager()
        user = emp.user
        if "extension" in changes and changes["extension"] is not None:
            await self._extension_free(session, emp.tenant_id, changes["extension"], emp.id)
            emp.extension = changes["extension"]
        if "department_id" in changes:
            await self._check_department(session, emp.tenant_id, changes["department_id"])
            emp.department_id = changes["department_id"]
        if changes.get("email") is not None:
            if await email_taken(session, changes["email"], except_user=user.id):
                raise email_conflict()
            user.email = normalize_email(changes["email"])
        role = changes.get("role")
        if role is not None:
            if role not in EMPLOYEE_ROLES or user.role == "tenant_owner":
                raise ValidationFailed({"role": "cannot set this role"})
            user.role = role
        for k in ("full_name", "position"):
            if changes.get(k) is not None:
                setattr(user, k, changes[k])
        # The SIP side caches extensions and names: tell it (after commit, via the outbox).
        add_event(
            session,
            "employee.updated",
            {"employee_id": emp.id, "user_id": user.id, "extension": emp.extension},
            tenant_id=emp.tenant_id,
        )
        await self._commit(session, "e-mail or extension already used", "email")
        return emp

    async def delete_employee(self, session: AsyncSession, actor: Actor, ident: int) -> None:
        emp = await self.get_employee(session, actor, ident)
        actor.require_manager()
        if emp.user.role == "tenant_owner":
            raise PermissionDenied("the company owner cannot be removed")
        if emp.user_id == actor.user_id:
            raise PermissionDenied("you cannot remove yourself")
        await session.delete(emp.user)  # cascades to employee, devices, registrations
        add_event(
            session,
            "employee.deleted",
            {"employee_id": emp.id, "user_id": emp.user_id},
            tenant_id=emp.tenant_id,
        )
        await session.commit()

    # -- devices ----------------------------------------------------------------------------
    async def _add_device(
        self,
        session: AsyncSession,
        tenant_id: int,
        user_id: int | None,
        employee_id: int | None,
        label: str,
        password: str | None,
        algorithms: list[str] | None,
    ) -> NewDevice:
        if password is not None:
            check_password_strength(password, "sip_password")
        try:
            algos = normalize_algorithms(algorithms or list(DEFAULT_AUTH_ALGORITHMS))
        except ValueError as exc:
            raise ValidationFailed({"auth_algorithms": str(exc)}) from None
        for _ in range(20):
            username = new_sip_username()
            taken = await session.scalar(
                select(SipDevice.id).where(SipDevice.sip_username == username)
            )
            if taken is None:
                break
        password = password or new_sip_password()
        device = SipDevice(
            tenant_id=tenant_id,
            user_id=user_id,
            employee_id=employee_id,
            sip_username=username,
            realm=self.realm,
            auth_algorithms=algos,
            label=label,
            enabled=True,
            **all_ha1(username, self.realm, password),
        )
        session.add(device)
        await session.flush()
        add_event(
            session,
            "device.created",
            {"device_id": device.id, "sip_username": username},
            tenant_id=tenant_id,
        )
        return NewDevice(device, password)

    async def create_device_for_employee(
        self,
        session: AsyncSession,
        actor: Actor,
        employee_id: int,
        *,
        label: str = "",
        sip_password: str | None = None,
        auth_algorithms: list[str] | None = None,
    ) -> NewDevice:
        emp = await self.get_employee(session, actor, employee_id)
        if emp.user_id != actor.user_id:
            actor.require_manager()
        new = await self._add_device(
            session, emp.tenant_id, emp.user_id, emp.id, label, sip_password, auth_algorithms
        )
        await session.commit()
        return new

    async def create_own_device(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        label: str = "",
        sip_password: str | None = None,
        auth_algorithms: list[str] | None = None,
    ) -> NewDevice:
        if actor.tenant_id is None:
            raise PermissionDenied("operator staff have no phone")
        emp_id = await session.scalar(select(Employee.id).where(Employee.user_id == actor.user_id))
        new = await self._add_device(
            session, actor.tenant_id, actor.user_id, emp_id, label, sip_password, auth_algorithms
        )
        await session.commit()
        return new

    def _device_visible(self, actor: Actor, device: SipDevice) -> bool:
        return actor.is_operator or actor.is_tenant_admin or device.user_id == actor.user_id

    async def get_device(self, session: AsyncSession, actor: Actor, ident: int) -> SipDevice:
        device = await get_scoped(session, SipDevice, ident, actor)
        if not self._device_visible(actor, device):
            raise PermissionDenied("not your device")
        return device

    async def list_devices(
        self,
        session: AsyncSession,
        actor: Actor,
        q: ListQuery,
        *,
        employee_id: int | None = None,
        user_id: int | None = None,
    ) -> Page:
        stmt = scoped(select(SipDevice), SipDevice, actor)
        if employee_id is not None:
            emp = await self.get_employee(session, actor, employee_id)
            stmt = stmt.where(SipDevice.employee_id == emp.id)
            if emp.user_id != actor.user_id:
                actor.require_manager()
        if user_id is not None:
            stmt = stmt.where(SipDevice.user_id == user_id)
        if not (actor.is_operator or actor.is_tenant_admin):
            stmt = stmt.where(SipDevice.user_id == actor.user_id)
        return await paginate(
            session,
            stmt,
            q,
            sortable={
                "id": SipDevice.id,
                "label": SipDevice.label,
                "sip_username": SipDevice.sip_username,
                "created_at": SipDevice.created_at,
            },
            searchable=[SipDevice.label, SipDevice.sip_username],
            default_sort="id",
        )

    async def update_device(
        self,
        session: AsyncSession,
        actor: Actor,
        ident: int,
        *,
        label: str | None = None,
        enabled: bool | None = None,
        auth_algorithms: list[str] | None = None,
    ) -> SipDevice:
        device = await self.get_device(session, actor, ident)
        if device.user_id != actor.user_id:
            actor.require_manager()
        if label is not None:
            device.label = label
        if enabled is not None:
            device.enabled = enabled
        if auth_algorithms is not None:
            try:
                device.auth_algorithms = normalize_algorithms(auth_algorithms)
            except ValueError as exc:
                raise ValidationFailed({"auth_algorithms": str(exc)}) from None
        add_event(session, "device.updated", {"device_id": device.id}, tenant_id=device.tenant_id)
        await session.commit()
        return device

    async def rotate_device_password(
        self, session: AsyncSession, actor: Actor, ident: int, sip_password: str | None = None
    ) -> NewDevice:
        device = await self.get_device(session, actor, ident)
        if device.user_id != actor.user_id:
            actor.require_manager()
        if sip_password is not None:
            check_password_strength(sip_password, "sip_password")
        password = sip_password or new_sip_password()
        for k, v in all_ha1(device.sip_username, self.realm, password).items():
            setattr(device, k, v)
        device.realm = self.realm
        device.password_rotated_at = utcnow()
        add_event(
            session, "device.password_rotated", {"device_id": device.id}, tenant_id=device.tenant_id
        )
        await session.commit()
        return NewDevice(device, password)

    async def delete_device(self, session: AsyncSession, actor: Actor, ident: int) -> None:
        device = await self.get_device(session, actor, ident)
        if device.user_id != actor.user_id:
            actor.require_manager()
        await session.delete(device)
        add_event(session, "device.deleted", {"device_id": ident}, tenant_id=device.tenant_id)
        await session.commit()

    async def registrations_for(
        self, session: AsyncSession, device_ids: list[int], *, live_only: bool = True
    ) -> dict[int, list[SipRegistration]]:
        out: dict[int, list[SipRegistration]] = {i: [] for i in device_ids}
        if not device_ids:
            return out
        stmt = select(SipRegistration).where(SipRegistration.device_id.in_(device_ids))
        if live_only:
            stmt = stmt.where(SipRegistration.expires_at > utcnow())
        for reg in (await session.scalars(stmt.order_by(SipRegistration.id))).all():
            out[reg.device_id].append(reg)
        return out

    async def list_registrations(
        self, session: AsyncSession, actor: Actor, q: ListQuery, *, include_expired: bool = False
    ) -> Page:
        stmt = scoped(select(SipRegistration), SipRegistration, actor).join(
            SipDevice, SipDevice.id == SipRegistration.device_id
        )
        if not (actor.is_operator or actor.is_tenant_admin):
            stmt = stmt.where(SipDevice.user_id == actor.user_id)
        if not include_expired:
            stmt = stmt.where(SipRegistration.expires_at > utcnow())
        return await paginate(
            session,
            stmt,
            q,
            sortable={
                "id": SipRegistration.id,
                "expires_at": SipRegistration.expires_at,
                "sip_username": SipDevice.sip_username,
                "user_agent": SipRegistration.user_agent,
            },
            searchable=[
                SipDevice.sip_username,
                SipRegistration.user_agent,
                SipRegistration.contact_uri,
                SipRegistration.received_host,
            ],
            default_sort="id",
        )

    # -- contacts ---------------------------------------------------------------------------
    @staticmethod
    def _shared_with_me(actor: Actor) -> Select[Any]:
        """Ids of personal contacts shared with the actor or the actor's department."""
        me = select(Employee.id).where(Employee.user_id == actor.user_id)
        my_dept = select(Employee.department_id).where(
            Employee.user_id == actor.user_id, Employee.department_id.is_not(None)
        )
        return select(ContactShare.contact_id).where(
            ContactShare.tenant_id == actor.tenant_id,
            or_(ContactShare.employee_id.in_(me), ContactShare.department_id.in_(my_dept)),
        )

    def _contacts_visible(self, actor: Actor) -> Select[Any]:
        stmt = scoped(select(Contact), Contact, actor)
        if not actor.is_operator:
            stmt = stmt.where(
                or_(
                    Contact.owner_user_id.is_(None),
                    Contact.owner_user_id == actor.user_id,
                    Contact.id.in_(self._shared_with_me(actor)),
                )
            )
        return stmt

    async def list_contacts(
        self,
        session: AsyncSession,
        actor: Actor,
        q: ListQuery,
        *,
        favorite: bool | None = None,
        group: str | None = None,
        scope: str | None = None,
    ) -> Page:
        stmt = self._contacts_visible(actor)
        if favorite is not None:
            stmt = stmt.where(Contact.favorite == favorite)
        if group is not None:
            stmt = stmt.where(Contact.group_name == group)
        if scope == "personal":
            stmt = stmt.where(Contact.owner_user_id == actor.user_id)
        elif scope == "shared":
            stmt = stmt.where(Contact.owner_user_id.is_(None))
        if q.q:
            # A number search matches any of the contact's numbers.
            digits = "".join(c for c in q.q if c.isdigit())
            num_match = (
                select(ContactNumber.contact_id).where(ContactNumber.number.like(f"%{digits}%"))
                if digits
                else None
            )
            text = f"%{q.q.strip().lower()}%"
            cond = or_(func.lower(Contact.name).like(text), func.lower(Contact.company).like(text))
            if num_match is not None:
                cond = or_(cond, Contact.id.in_(num_match))
            stmt = stmt.where(cond)
            q = ListQuery(limit=q.limit, offset=q.offset, q=None, sort=q.sort)
        return await paginate(
            session,
            stmt,
            q,
            sortable={
                "id": Contact.id,
                "name": Contact.name,
                "company": Contact.company,
                "created_at": Contact.created_at,
                "favorite": Contact.favorite,
                "group": Contact.group_name,
            },
            default_sort="name",
            tiebreak=Contact.id,
        )

    async def get_contact(self, session: AsyncSession, actor: Actor, ident: int) -> Contact:
        contact = await get_scoped(session, Contact, ident, actor)
        if (
            not actor.is_operator
            and contact.owner_user_id is not None
            and contact.owner_user_id != actor.user_id
        ):
            shared = self._shared_with_me(actor).where(ContactShare.contact_id == ident)
            if await session.scalar(shared.limit(1)) is None:
                raise NotFound(f"contacts {ident} not found")
        return contact

    def _can_edit_contact(self, actor: Actor, contact: Contact) -> bool:
        if contact.owner_user_id is not None:
            return contact.owner_user_id == actor.user_id or actor.is_operator
        return actor.can_manage_tenant

    @staticmethod
    def _numbers(numbers: list[dict[str, str]]) -> list[ContactNumber]:
        out = []
        for i, n in enumerate(numbers):
            try:
                normalized = normalize_phone(n["number"])
            except ValueError:
                raise ValidationFailed({f"numbers.{i}.number": "not a phone number"}) from None
            out.append(ContactNumber(number=normalized, label=n.get("label") or ""))
        return out

    async def create_contact(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        name: str,
        company: str = "",
        favorite: bool = False,
        group: str = "",
        notes: str = "",
        numbers: list[dict[str, str]] | None = None,
        birthday: date | None = None,
        shared: bool = False,
        tenant_id: int | None = None,
    ) -> Contact:
        tid = actor.tenant_for_create(tenant_id)
        if shared and actor.role == "individual":
            shared = False
        if shared and not actor.can_manage_tenant:
            raise PermissionDenied("only administrators may add company-wide contacts")
        contact = Contact(
            tenant_id=tid,
            owner_user_id=None if shared else actor.user_id,
            name=name,
            company=company,
            favorite=favorite,
            group_name=group,
            notes=notes,
            numbers=self._numbers(numbers or []),
        )
        set_birthday(contact, birthday)
        session.add(contact)
        await session.commit()
        return contact

    async def update_contact(
        self, session: AsyncSession, actor: Actor, ident: int, **changes: Any
    ) -> Contact:
        contact = await self.get_contact(session, actor, ident)
        if not self._can_edit_contact(actor, contact):
            raise PermissionDenied("only administrators may change company-wide contacts")
        numbers = changes.pop("numbers", None)
        if "birthday" in changes:  # null clears it
            set_birthday(contact, changes.pop("birthday"))
        if "group" in changes:
            changes["group_name"] = changes.pop("group")
        for k, v in changes.items():
            if v is not None:
                setattr(contact, k, v)
        if numbers is not None:
            contact.numbers = self._numbers(numbers)
        await session.commit()
        await session.refresh(contact, ["numbers"])
        return contact

    async def delete_contact(self, session: AsyncSession, actor: Actor, ident: int) -> None:
        contact = await self.get_contact(session, actor, ident)
        if not self._can_edit_contact(actor, contact):
            raise PermissionDenied("only administrators may delete company-wide contacts")
        await session.delete(contact)
        await session.commit()

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    async def _commit(session: AsyncSession, message: str, field: str) -> None:
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            raise Conflict(message, details={"fields": {field: message}}) from None


__all__ = ["DirectoryService", "NewDevice", "NewEmployee", "normalize_phone"]
