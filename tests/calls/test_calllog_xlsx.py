"""The call log's XLSX export: same rows, order and filters as the CSV (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from openpyxl import load_workbook

from clickphone.db import Database
from stats.test_stats import T0, _seed


def _sheet(content: bytes) -> list[tuple[Any, ...]]:
    wb = load_workbook(io.BytesIO(content), read_only=True)
    return [tuple(r) for r in wb["Calls"].iter_rows(values_only=True)]


async def test_call_log_xlsx_export(api: Any, database: Database) -> None:
    d = await _seed(api, database)
    owner = d["owner"]
    r = await owner.get("/api/v1/calls/export.xlsx")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="calls.xlsx"' in r.headers["content-disposition"]
    rows = _sheet(r.content)
    header, body = rows[0], rows[1:]
    assert header[:3] == ("started_at (UTC)", "direction", "caller")
    assert len(body) == 6
    started = [row[0] for row in body]
    assert all(isinstance(s, datetime) for s in started)
    assert started == sorted(started, reverse=True)  # newest first
    assert started[-1] == T0.replace(tzinfo=None)  # UTC wall clock
    col = {name: i for i, name in enumerate(header)}
    first = body[-1]
    assert first[col["talk_seconds"]] == 60
    assert first[col["outcome"]] == "answered"

    # the call-log filters and the search apply
    r = await owner.get(
        "/api/v1/calls/export.xlsx",
        params={"outcome": "answered", "direction": "incoming", "q": "+749500000"},
    )
    body = _sheet(r.content)[1:]
    assert [(x[col["caller"]], x[col["outcome"]]) for x in body] == [
        ("+74950000001", "answered")
    ] * 2
    r = await owner.get("/api/v1/calls/export.xlsx", params={"employee_id": d["ben"]})
    assert len(_sheet(r.content)) == 1 + 3

    # an employee exports only their own calls
    ann = await api.signin("ann@stat.example.com", "password123")
    r = await ann.get("/api/v1/calls/export.xlsx")
    assert r.status_code == 200, r.text
    assert len(_sheet(r.content)) == 1 + 4


async def test_call_log_xlsx_needs_a_session(api: Any, database: Database) -> None:
    async with api.client() as anonymous:
        r = await anonymous.get("/api/v1/calls/export.xlsx")
    assert r.status_code == 401
