"""Request/response bodies for the number inventory."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from clickphone.api.schemas import OrmModel

NumberType = Literal["local", "mobile", "national", "tollfree"]
Money = Annotated[int, Field(ge=0, description="integer minor units (kopecks, cents)")]


class NumberIn(BaseModel):
    e164: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=32)]
    tenant_id: int | None = None
    label: Annotated[str, Field(max_length=200)] = ""
    city: Annotated[str, Field(max_length=100)] = ""
    number_type: NumberType = "local"
    monthly_fee: Money = 0
    setup_fee: Money = 0
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "RUB"


class NumberPatch(BaseModel):
    tenant_id: int | None = Field(None, description="operator staff only")
    state: str | None = Field(None, description="operator staff only")
    user_id: int | None = None
    employee_id: int | None = Field(None, description="who inbound calls to the number ring")
    label: Annotated[str, Field(max_length=200)] | None = None
    city: Annotated[str, Field(max_length=100)] | None = Field(None, description="operator")
    number_type: NumberType | None = Field(None, description="operator staff only")
    monthly_fee: Money | None = Field(None, description="operator staff only")
    setup_fee: Money | None = Field(None, description="operator staff only")


class NumberOut(OrmModel):
    id: int
    e164: str
    country: str
    tenant_id: int | None
    user_id: int | None
    state: str
    label: str
    created_at: datetime
    city: str
    number_type: str
    monthly_fee: int
    setup_fee: int
    currency: str
    quarantine_until: datetime | None
    employee_id: int | None
    expires_at: datetime | None = Field(None, description="a temporary number ends then")


class StoreNumberOut(OrmModel):
    id: int
    e164: str
    country: str
    city: str
    number_type: str
    monthly_fee: int
    setup_fee: int
    currency: str


class OrderIn(BaseModel):
    kind: Literal["number", "temporary_number", "sms_package", "tariff", "call_package"] = "number"
    number_id: int | None = None
    details: dict[str, str | int] = Field(
        default_factory=dict, description="package or tariff name, days for a temporary number"
    )
    comment: Annotated[str, Field(max_length=500)] = ""


class DecisionIn(BaseModel):
    note: Annotated[str, Field(max_length=500)] = ""


class OrderOut(OrmModel):
    id: int
    tenant_id: int
    user_id: int | None
    kind: str
    number_id: int | None
    details: dict[str, Any]
    comment: str
    state: str
    monthly_fee: int
    setup_fee: int
    currency: str
    decision_note: str
    decided_at: datetime | None
    expires_at: datetime | None
    created_at: datetime
    number_e164: str | None = Field(None, description="the ordered number")
    customer_number: str | None = Field(None, description="the customer's account number")
