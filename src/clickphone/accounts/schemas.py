"""Request/response bodies for accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, StringConstraints

from clickphone.api.schemas import OrmModel

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Password = Annotated[str, Field(min_length=8, max_length=1024)]


class CompanySignup(BaseModel):
    company_name: Name
    email: EmailStr
    password: Password
    full_name: Text200 = ""
    position: Text200 = ""


class IndividualSignup(BaseModel):
    email: EmailStr
    password: Password
    nickname: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    full_name: Text200 = ""


class SignIn(BaseModel):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class UserOut(OrmModel):
    id: int
    tenant_id: int | None
    email: str
    full_name: str
    position: str
    nickname: str | None
    role: str
    has_avatar: bool = False
    created_at: datetime


class TenantOut(OrmModel):
    id: int
    name: str
    kind: str
    customer_number: str
    created_at: datetime


class SessionOut(BaseModel):
    user: UserOut
    tenant: TenantOut | None
    csrf_token: str


class MeOut(BaseModel):
    user: UserOut
    tenant: TenantOut | None


class ProfilePatch(BaseModel):
    full_name: Text200 | None = None
    position: Text200 | None = None
    email: EmailStr | None = None
    nickname: Annotated[
        str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ] = None


class PasswordChange(BaseModel):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Password


class TenantPatch(BaseModel):
    name: Name


class TenantCreate(BaseModel):
    name: Name
    kind: Annotated[str, Field(pattern="^(company|individual)$")] = "company"
    owner_email: EmailStr
    owner_password: Password
    owner_full_name: Text200 = ""


class NumberBrief(OrmModel):
    id: int
    e164: str
    country: str
    label: str
    user_id: int | None


class MyNumbersOut(BaseModel):
    clickphone_number: str | None
    virtual_numbers: list[NumberBrief]
    extension: str | None


class TokenCreate(BaseModel):
    name: Name
    expires_at: datetime | None = None


class TokenOut(OrmModel):
    id: int
    name: str
    token_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="shown only once")


def user_out(user: object) -> UserOut:
    out = UserOut.model_validate(user)
    out.has_avatar = bool(getattr(user, "avatar_path", None))
    return out
