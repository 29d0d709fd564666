"""The call log's CSV export honours the call-log filters (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from typing import Any

from clickphone.db import Database
from stats.test_stats import _seed


async def test_call_log_csv_export(api: Any, database: Database) -> None:
    d = await _seed(api, database)
    owner = d["owner"]
    r = await owner.get("/api/v1/calls/export.csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    text = r.content.decode("utf-8-sig")
    rows: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 6
    assert rows[0]["started_at"] > rows[-1]["started_at"]  # newest first
    r = await owner.get(
        "/api/v1/calls/export.csv",
        params={"outcome": "answered", "direction": "incoming", "q": "+749500000"},
    )
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(x["caller"], x["outcome"]) for x in rows] == [("+74950000001", "answered")] * 2
    # the list uses the same filters
    page = (await owner.get("/api/v1/calls", params={"outcome": "missed"})).json()
    assert page["total"] == 1
