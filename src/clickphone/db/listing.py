"""Pagination, search and sort for list queries (used by every list endpoint)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

MAX_LIMIT = 500


class BadListQuery(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ListQuery:
    limit: int = 50
    offset: int = 0
    q: str | None = None
    sort: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[Any]
    total: int
    limit: int
    offset: int


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    query: ListQuery,
    *,
    sortable: Mapping[str, ColumnElement[Any] | Any],
    searchable: Sequence[ColumnElement[Any] | Any] = (),
    default_sort: str = "id",
    tiebreak: Any = None,
) -> Page:
    """Apply ``q`` (case-insensitive substring over ``searchable``), ``sort`` and the page."""
    if query.q and searchable:
        pattern = f"%{_like_escape(query.q.strip().lower())}%"
        stmt = stmt.where(or_(*(func.lower(c).like(pattern, escape="\\") for c in searchable)))
    sort = query.sort or default_sort
    desc = sort.startswith("-")
    key = sort.lstrip("-+")
    if key not in sortable:
        raise BadListQuery("sort", f"unknown sort field {key!r}; use one of {sorted(sortable)}")
    col = sortable[key]
    order = [col.desc() if desc else col.asc()]
    if tiebreak is not None:
        order.append(tiebreak.desc() if desc else tiebreak.asc())
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = await session.execute(stmt.order_by(*order).limit(query.limit).offset(query.offset))
    return Page(
        items=list(rows.scalars().all()),
        total=int(total or 0),
        limit=query.limit,
        offset=query.offset,
    )
