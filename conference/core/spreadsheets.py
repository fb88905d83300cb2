"""The one writer of spreadsheets (CSV and Excel), with the one rule that keeps their cells from running.

A spreadsheet runs text that starts with = + - @ (or a tab or a carriage return before one) as a formula: OWASP's
"CSV injection". Every cell written here goes through `cell`, which first strips the control characters a
spreadsheet drops (or that an .xlsx file cannot hold), then gives text that would start a formula a leading
apostrophe. In that order: "\\x01=HYPERLINK(...)" would start a formula once its \\x01 were dropped.

CSV comes whole (`to_csv`, UTF-8, with a byte order mark for files people open in Excel) or a line at a time
(`csv_line`, for exports streamed in batches); Excel comes whole (`to_xlsx`, openpyxl's write-only mode).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Control characters other than tab, line feed and carriage return (an .xlsx file cannot hold them).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DATETIME_CSV = "%Y-%m-%d %H:%M"  # how a datetime cell reads in CSV (in Excel: the same, as a real date)

Cell = str | int | float | date | datetime | None


@dataclass(frozen=True)
class Sheet:
    title: str  # the workbook's sheet name (at most 31 characters)
    header: list[str]
    rows: list[list[Cell]]
    widths: Sequence[int] = ()


def cell(value: Cell) -> Cell:
    """A cell's value as a spreadsheet may safely show it: control characters stripped, then text that would
    start a formula given a leading apostrophe. Anything but text is kept as it is."""
    if not isinstance(value, str):
        return value
    value = CONTROL.sub("", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(DATETIME_CSV)
    return cell(value) if isinstance(value, str) else value


def csv_line(values: Iterable[Any]) -> str:
    """One CSV record (ending in CRLF), every cell made safe: for exports written a batch at a time."""
    return csv_lines([values])


def csv_lines(rows: Iterable[Iterable[Any]]) -> str:
    """CSV records, every cell made safe (None as an empty cell, a datetime as DATETIME_CSV)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([_csv_value(v) for v in row] for row in rows)
    return out.getvalue()


def to_csv(sheet: Sheet, *, bom: bool = True) -> bytes:
    """The sheet as CSV in UTF-8; with a byte order mark (Excel then reads accents right) unless `bom` is off."""
    text = csv_lines([sheet.header, *sheet.rows])
    return (("\ufeff" if bom else "") + text).encode("utf-8")


def to_xlsx(sheet: Sheet) -> bytes:
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(sheet.title[:31])
    for i, width in enumerate(sheet.widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in sheet.header:
        heading = WriteOnlyCell(ws, value=cell(text))
        heading.font = bold
        header.append(heading)
    ws.append(header)
    for row in sheet.rows:
        cells: list[Any] = []
        for value in row:
            if isinstance(value, datetime):
                moment = WriteOnlyCell(ws, value=value)
                moment.number_format = "yyyy-mm-dd hh:mm"
                cells.append(moment)
            else:
                cells.append(cell(value))
        ws.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def render(sheet: Sheet, fmt: str) -> bytes:
    """The sheet in one of FORMATS ("csv" or "xlsx")."""
    return to_csv(sheet) if fmt == "csv" else to_xlsx(sheet)
