"""Tables as downloads: CSV (UTF-8 with a BOM, so spreadsheets read it right) and XLSX (times
in UTC wall-clock, as the column headers say; spreadsheets have no time zones)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import Response
from openpyxl import Workbook

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _value(row: Any, column: str) -> Any:
    return row[column] if isinstance(row, dict) else getattr(row, column)


def csv_response(rows: Sequence[Any], columns: Sequence[str], filename: str) -> Response:
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow(columns)
    for r in rows:
        writer.writerow(
            [
                v.isoformat() if isinstance(v, datetime) else v
                for v in (_value(r, c) for c in columns)
            ]
        )
    return Response(
        buf.getvalue().encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _xlsx_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo else v
    return v


def _xlsx(rows: Sequence[Any], columns: Sequence[str], sheet: str) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append([f"{c} (UTC)" if c.endswith("_at") else c for c in columns])
    for r in rows:
        ws.append([_xlsx_value(_value(r, c)) for c in columns])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def xlsx_response(
    rows: Sequence[Any], columns: Sequence[str], filename: str, sheet: str
) -> Response:
    data = await asyncio.to_thread(_xlsx, rows, columns, sheet)
    return Response(
        data,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
