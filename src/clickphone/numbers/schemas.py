"""Request/response bodies for the number inventory."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from clickphone.api.schemas import OrmModel


class NumberIn(BaseModel):
    e164: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=32)]
    tenant_id: int | None = None
    label: Annotated[str, Field(max_length=200)] = ""


class NumberPatch(BaseModel):
    tenant_id: int | None = Field(None, description="operator staff only")
    state: str | None = Field(None, description="operator staff only")
    user_id: int | None = None
    label: Annotated[str, Field(max_length=200)] | None = None


class NumberOut(OrmModel):
    id: int
    e164: str
    country: str
    tenant_id: int | None
    user_id: int | None
    state: str
    label: str
    created_at: datetime
