"""Shared response shapes."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class ErrorOut(BaseModel):
    error_id: str
    message: str
    details: dict[str, Any]


class OrmModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not signed in"},
    403: {"model": ErrorOut, "description": "permission denied or CSRF failure"},
    404: {"model": ErrorOut, "description": "not found (or another tenant's)"},
    422: {"model": ErrorOut, "description": "validation failed; details.fields names fields"},
}
