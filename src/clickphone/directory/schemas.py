"""Request/response bodies for the directory."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, StringConstraints

from clickphone.api.schemas import OrmModel

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Extension = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{2,8}$")]
SipPassword = Annotated[str, Field(min_length=8, max_length=128)]
Algorithms = Annotated[list[str], Field(min_length=1, max_length=3)]


class DepartmentIn(BaseModel):
    name: Name
    description: Annotated[str, Field(max_length=2000)] = ""
    extension: Extension | None = Field(
        None, description="a number to dial the department by (not an employee's extension)"
    )
    tenant_id: int | None = Field(None, description="operator staff only")


class DepartmentPatch(BaseModel):
    name: Name | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    extension: Extension | None = Field(None, description="null removes it")


class DepartmentOut(OrmModel):
    id: int
    tenant_id: int
    name: str
    description: str
    extension: str | None = None
    created_at: datetime


class RegistrationOut(OrmModel):
    id: int
    device_id: int
    contact_uri: str
    received_host: str
    received_port: int
    transport: str
    user_agent: str
    expires_at: datetime
    q: float | None = None
    instance_id: str | None = None


class DeviceOut(OrmModel):
    id: int
    tenant_id: int
    user_id: int | None
    employee_id: int | None
    sip_username: str
    label: str
    enabled: bool
    auth_algorithms: list[str]
    created_at: datetime
    password_rotated_at: datetime
    online: bool = False
    registrations: list[RegistrationOut] = []


class DeviceCreated(DeviceOut):
    sip_password: str = Field(description="shown only in this response; never stored")
    sip_realm: str


class DeviceIn(BaseModel):
    label: Text200 = ""
    sip_password: SipPassword | None = Field(None, description="omit to generate a strong one")
    auth_algorithms: Algorithms | None = Field(
        None, description='digest algorithms offered, e.g. ["SHA-256", "MD5"]; baresip: ["MD5"]'
    )


class DevicePatch(BaseModel):
    label: Text200 | None = None
    enabled: bool | None = None
    auth_algorithms: Algorithms | None = None


class DeviceRotate(BaseModel):
    sip_password: SipPassword | None = None


class EmployeeIn(BaseModel):
    full_name: Name
    email: EmailStr
    password: Annotated[str, Field(min_length=8, max_length=1024)] | None = Field(
        None, description="omit to generate one (returned once)"
    )
    position: Text200 = ""
    extension: Extension | None = Field(None, description="omit to take the next free one")
    department_id: int | None = None
    role: Annotated[str, Field(pattern="^(employee|tenant_admin)$")] = "employee"
    tenant_id: int | None = Field(None, description="operator staff only")
    create_device: bool = False
    device_label: Text200 = ""
    sip_password: SipPassword | None = None
    auth_algorithms: Algorithms | None = None


class EmployeePatch(BaseModel):
    full_name: Name | None = None
    email: EmailStr | None = None
    position: Text200 | None = None
    extension: Extension | None = None
    department_id: int | None = None
    role: Annotated[str, Field(pattern="^(employee|tenant_admin)$")] | None = None


class EmployeeOut(BaseModel):
    id: int
    tenant_id: int
    user_id: int
    department_id: int | None
    extension: str | None
    full_name: str
    email: str
    position: str
    role: str
    created_at: datetime


class EmployeeCreated(EmployeeOut):
    initial_password: str | None = Field(None, description="only when generated; shown once")
    device: DeviceCreated | None = None


class ContactNumberIn(BaseModel):
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    label: Annotated[str, Field(max_length=50)] = ""


class ContactNumberOut(OrmModel):
    id: int
    number: str
    label: str


class ContactIn(BaseModel):
    name: Name
    company: Text200 = ""
    favorite: bool = False
    group: Annotated[str, Field(max_length=100)] = ""
    notes: Annotated[str, Field(max_length=5000)] = ""
    numbers: Annotated[list[ContactNumberIn], Field(max_length=20)] = []
    birthday: date | None = Field(None, description="a reminder comes on the day")
    shared: bool = Field(False, description="company-wide (administrators) instead of personal")
    tenant_id: int | None = Field(None, description="operator staff only")


class ContactPatch(BaseModel):
    name: Name | None = None
    company: Text200 | None = None
    favorite: bool | None = None
    group: Annotated[str, Field(max_length=100)] | None = None
    notes: Annotated[str, Field(max_length=5000)] | None = None
    numbers: Annotated[list[ContactNumberIn], Field(max_length=20)] | None = None
    birthday: date | None = Field(None, description="null removes it")


class ContactOut(BaseModel):
    id: int
    tenant_id: int
    owner_user_id: int | None
    shared: bool
    name: str
    company: str
    favorite: bool
    group: str
    notes: str
    numbers: list[ContactNumberOut]
    birthday: date | None = None
    created_at: datetime
