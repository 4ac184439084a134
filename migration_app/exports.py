"""Spreadsheet exports of the service catalog (a filtered queryset) as CSV and XLSX.

The columns start with the tracker's import CSV columns, so an exported file can be edited and
imported back (``import_altinn2`` ignores the read-only columns after them and says so).

Spreadsheet formula injection: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return can be run as a formula by Excel or LibreOffice (``=HYPERLINK(...)``, DDE ``=cmd|...``). Service
names and notes are typed by many organisations, so every such text cell is prefixed with a single
quote, which spreadsheets show as text (OWASP's advice). Numbers and dates are written as such and
cannot carry a formula.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .importers import CSV_COLUMNS
from .models import Service

# The import columns, then what the tracker derives or keeps itself (ignored by a re-import).
EXPORT_COLUMNS: tuple[str, ...] = (
    *CSV_COLUMNS,
    "status",
    "status_changed_at",
    "actual_start",
    "actual_done",
    "readiness",
    "readiness_score",
    "version",
    "id",
)
# Export column → the queryset column it is read from.
_SOURCES: dict[str, str] = {
    "owner": "owner__code",
    "readiness": "readiness__state",
    "readiness_score": "readiness__score",
}

# What makes a spreadsheet read a cell as a formula: the OWASP list, plus the full-width forms some
# spreadsheet locales also accept as formula starts.
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(text: str) -> str:
    """Text a spreadsheet will show and never evaluate: a formula start gets a leading single quote."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_rows(services: QuerySet[Service]) -> Iterator[tuple[Any, ...]]:
    """The services as rows of EXPORT_COLUMNS' raw values: one query, no model instances."""
    return services.values_list(*(_SOURCES.get(column, column) for column in EXPORT_COLUMNS)).iterator(chunk_size=2000)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return neutralise(str(value))


def services_csv(rows: Iterable[tuple[Any, ...]]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel reads æøå correctly; the importer skips the mark."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([_text(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _xlsx_cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime.datetime):
        # Excel has no time zones: write the instant as UTC text rather than a misleading local time.
        return _text(value)
    if isinstance(value, datetime.date):
        return value
    # openpyxl refuses control characters that XML 1.0 cannot hold; they carry no meaning in a name.
    return neutralise(ILLEGAL_CHARACTERS_RE.sub("", str(value)))


def services_xlsx(rows: Iterable[tuple[Any, ...]]) -> bytes:
    """One sheet, "Services", with a header row; numbers as numbers and dates as dates."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Services")
    sheet.append(list(EXPORT_COLUMNS))
    for row in rows:
        sheet.append([_xlsx_cell(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
