"""Parsing the three service export formats (pure: no database access).

``parse_services`` detects which format it was given, reads it and checks every row, returning
``ServiceRow`` and ``RowError`` values. The constants, types and file-level error shared by the writers
in ``altinn2`` and ``orgs`` live here too. See the package docstring for the rules every format follows.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from ..choices import Altinn3Target, Criticality, ServiceType
from ..models import SERVICE_EDITABLE_FIELDS, Service, ServiceOwner
from ..validators import ORG_CODE_RE

NaturalKey = tuple[str, int]

# PositiveIntegerField's upper bound on every backend Django supports.
MAX_EDITION_CODE = 2_147_483_647
# Each bulk statement carries at most this many rows. PostgreSQL would otherwise take a whole file in
# one statement and could pass its 65,535-parameter limit; SQLite's own limit makes its batches smaller.
BULK_BATCH_SIZE = 500


class ImportFormat(StrEnum):
    """The service export formats ``parse_services`` understands."""

    METADATA_API = "metadata-api"
    AVAILABLE_SERVICE = "available-service"
    CSV = "csv"


# What a caller may say about the content: one of the formats, "json" for "either JSON format", or None.
FORMAT_HINTS: tuple[str, ...] = ("json", *ImportFormat)

# AltinnApp in the metadata API is an Altinn 3 app listed in Altinn II's catalog; it behaves like a form
# (an owner-built app an end user fills in), so it is tracked as FormTask and keeps the AltinnApp target
# family. The other names are our ServiceType values, compared case-insensitively.
METADATA_API_TYPES: dict[str, str] = {
    **{value.lower(): value for value in ServiceType.values},
    "altinnapp": ServiceType.FORM_TASK,
    "reporting": ServiceType.FORM_TASK,
}

# The AvailableService export's integer ServiceType (Altinn.ResourceRegistry's Altinn2 enum).
AVAILABLE_SERVICE_TYPES: dict[int, str] = {
    0: ServiceType.DELEGATION_SCHEME,
    1: ServiceType.CORRESPONDENCE,
    2: ServiceType.FORM_TASK,
    3: ServiceType.COLLABORATION,
    4: ServiceType.LOOKUP,
    5: ServiceType.LINK,
    6: ServiceType.BROKER,
}

# Source field for each model field, per format. Keys beyond the natural key are imported when present.
SOURCE_FIELDS: dict[ImportFormat, dict[str, str]] = {
    ImportFormat.METADATA_API: {
        "service_code": "ServiceCode",
        "edition_code": "ServiceEditionCode",
        "owner": "ServiceOwnerCode",
        "name_nb": "ServiceName",
        "edition_name": "ServiceEditionName",
        "service_type": "ServiceType",
        "valid_from": "ValidFrom",
        "valid_to": "ValidTo",
    },
    ImportFormat.AVAILABLE_SERVICE: {
        "service_code": "ExternalServiceCode",
        "edition_code": "ExternalServiceEditionCode",
        "owner": "ServiceOwnerCode",
        "name_nb": "ServiceName",
        "edition_name": "ServiceEditionVersionName",
        "service_type": "ServiceType",
        "valid_from": "ValidFrom",
        "valid_to": "ValidTo",
    },
}

# The tracker's own CSV: model field names as headers, the same shape as the CSV export. ``owner`` holds
# the org code. actual_start/actual_done are left out because status changes set them; status, version,
# ids and timestamps in an exported file are ignored and listed in ``ImportResult.ignored_columns``.
# The dates a status change sets (services.catalog.service_change_status), which no import writes.
STATUS_SET_FIELDS = frozenset({"actual_start", "actual_done"})
CSV_COLUMNS: tuple[str, ...] = (
    "service_code",
    "edition_code",
    "owner",
    *(name for name in SERVICE_EDITABLE_FIELDS if name not in STATUS_SET_FIELDS),
)
SOURCE_FIELDS[ImportFormat.CSV] = {name: name for name in CSV_COLUMNS}

# Fields that may not be empty: an empty value means "not given" instead of "clear it".
NOT_EMPTY_FIELDS = frozenset({"owner", "name_nb", "service_type", "yearly_volume", "criticality"})
# What a new service must have; the model supplies defaults for the rest.
REQUIRED_FOR_NEW = ("owner", "name_nb", "service_type")
CASE_INSENSITIVE_CHOICES: dict[str, list[str]] = {
    "criticality": list(Criticality.values),
    "target": list(Altinn3Target.values),
}


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, wrong shape); ``errors`` says why."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass(frozen=True)
class RowError:
    """One problem in the input. ``row_number`` is 1-based (the n-th object in a JSON list, the n-th
    data line of a CSV after its header); 0 means the file as a whole."""

    row_number: int
    field: str
    message: str
    service_code: str = ""

    def __str__(self) -> str:
        if self.row_number == 0:
            return _("File: %(message)s") % {"message": self.message}
        where = _("Row %(row)s") % {"row": self.row_number}
        if self.service_code:
            where += " " + _("(service %(code)s)") % {"code": self.service_code}
        if self.field:
            where += f", {self.field}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ServiceRow:
    """One valid input row, normalised. ``values`` holds only the model fields this row sets; ``owner``
    is set as the lower-case org code in ``owner_code``, not in ``values``."""

    row_number: int
    format: ImportFormat
    service_code: str
    edition_code: int
    owner_code: str | None
    owner_name: str
    values: dict[str, Any]

    @property
    def key(self) -> NaturalKey:
        return (self.service_code, self.edition_code)

    def error(self, model_field: str, message: str) -> RowError:
        source = SOURCE_FIELDS[self.format].get(model_field, model_field)
        return RowError(self.row_number, source, message, self.service_code)


@dataclass(frozen=True)
class ParsedServices:
    """What ``parse_services`` found: the format (None when not even that is known), the valid rows,
    every error, the number of rows read and CSV columns that were ignored."""

    format: ImportFormat | None
    rows: list[ServiceRow]
    errors: list[RowError]
    total_rows: int
    ignored_columns: list[str] = field(default_factory=list)


def field_max_length(model: type[models.Model], name: str) -> int:
    """The length limit of one of ``model``'s text fields, checked before the database would refuse."""
    text_field = model._meta.get_field(name)
    if not isinstance(text_field, models.CharField) or text_field.max_length is None:
        raise TypeError(f"{model.__name__}.{name} is not a text field with a max_length")
    return text_field.max_length


# --- Parsing (pure) ---------------------------------------------------------------------------------


def _decode(content: bytes | str) -> str:
    if isinstance(content, bytes):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                [_("The file is not UTF-8 text (byte %(pos)s). Save it as UTF-8 and try again.") % {"pos": exc.start}]
            ) from None
    else:
        text = content.removeprefix("\ufeff")
    if "\x00" in text:
        raise ImportFileError([_("The file is binary, not JSON or CSV.")])
    if not text.strip():
        raise ImportFileError([_("The file is empty.")])
    return text


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            [
                _("Not valid JSON: %(msg)s (line %(line)s, column %(col)s).")
                % {"msg": exc.msg, "line": exc.lineno, "col": exc.colno}
            ]
        ) from None


def _json_format(records: Any, hint: str | None) -> ImportFormat:
    if not isinstance(records, list):
        raise ImportFileError(
            [_("Expected a JSON list of service editions, got a JSON %(kind)s.") % {"kind": type(records).__name__}]
        )
    if hint in (ImportFormat.METADATA_API, ImportFormat.AVAILABLE_SERVICE):
        return ImportFormat(hint)
    first = next((r for r in records if isinstance(r, dict)), {})
    # ExternalServiceCode exists only in the AvailableService export; the metadata API says ServiceCode.
    if "ExternalServiceCode" in first:
        return ImportFormat.AVAILABLE_SERVICE
    if "ServiceCode" in first or not records:
        return ImportFormat.METADATA_API
    raise ImportFileError(
        [_("Not an Altinn II export: the first object has neither ServiceCode nor ExternalServiceCode.")]
    )


def _csv_records(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[RowError], list[str]]:
    """(row number, {column: cell}) per data line, row errors for ragged lines, and ignored columns."""
    header_line = text.lstrip().split("\n", 1)[0]
    # Excel with Norwegian settings saves CSV with semicolons; take whichever separator the header uses most.
    delimiter = max((",", ";", "\t"), key=header_line.count)
    try:
        lines = [line for line in csv.reader(io.StringIO(text.lstrip()), delimiter=delimiter) if any(line)]
    except csv.Error as exc:
        raise ImportFileError([_("Not a readable CSV file: %(msg)s.") % {"msg": exc}]) from None
    if not lines:  # nothing but separators and blank lines
        raise ImportFileError([_("The file is empty.")])
    header = [column.strip().lower() for column in lines[0]]
    missing = [c for c in ("service_code", "edition_code") if c not in header]
    if missing:
        raise ImportFileError(
            [
                _(
                    "Not JSON, and not a CSV with the tracker's columns: the header lacks %(missing)s. "
                    "Expected columns: %(columns)s."
                )
                % {"missing": ", ".join(missing), "columns": ", ".join(CSV_COLUMNS)}
            ]
        )
    duplicated = sorted({c for c in header if c and header.count(c) > 1})
    if duplicated:
        raise ImportFileError([_("The CSV header repeats columns: %(cols)s.") % {"cols": ", ".join(duplicated)}])
    ignored = [c for c in header if c not in CSV_COLUMNS]
    records: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    for number, cells in enumerate(lines[1:], start=1):
        if len(cells) > len(header):
            errors.append(
                RowError(
                    number,
                    "",
                    _("The row has %(cells)s cells but the header has %(cols)s columns.")
                    % {"cells": len(cells), "cols": len(header)},
                    cells[header.index("service_code")].strip(),
                )
            )
            continue
        records.append((number, {c: v for c, v in zip(header, cells, strict=False) if c in CSV_COLUMNS}))
    return records, errors, ignored


def _is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _text(raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValidationError(_("Expected text, got %(value)r.") % {"value": raw})
    return str(raw).strip()


def _edition_code(raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        value = int(raw.strip())
    else:
        raise ValidationError(_("The edition code must be a whole number, not %(value)r.") % {"value": raw})
    if not 0 <= value <= MAX_EDITION_CODE:
        raise ValidationError(_("The edition code %(value)s is out of range.") % {"value": value})
    return value


def _dotted_date(text: str) -> datetime.date | None:
    """Norwegian dd.mm.yyyy, which Excel writes back when a CSV is edited with Norwegian settings."""
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text)
    if match is None:
        return None
    day, month, year = (int(g) for g in match.groups())
    return datetime.date(year, month, day)


def _date(raw: Any) -> datetime.date:
    text = _text(raw)
    try:
        value = parse_date(text) or _dotted_date(text)
    except ValueError:
        value = None
    if value is None:
        raise ValidationError(_("%(value)r is not a date (use YYYY-MM-DD).") % {"value": text})
    return value


def _datetime(raw: Any) -> datetime.datetime | None:
    text = _text(raw)
    try:
        value = parse_datetime(text)
        if value is None:
            day = parse_date(text) or _dotted_date(text)
            value = datetime.datetime.combine(day, datetime.time()) if day else None
    except ValueError:
        value = None
    if value is None:
        raise ValidationError(_("%(value)r is not a date or date-time (use YYYY-MM-DDTHH:MM:SS).") % {"value": text})
    # .NET writes DateTime.MinValue for "no date"; it is not a real date and cannot be made time-zone aware.
    if value.year == 1:
        return None
    if timezone.is_naive(value):
        # Altinn II exports local Norwegian time without an offset.
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


def _metadata_api_type(raw: Any) -> str:
    value = METADATA_API_TYPES.get(_text(raw).lower())
    if value is None:
        raise ValidationError(_("Unknown service type %(value)r.") % {"value": raw})
    return value


def _available_service_type(raw: Any) -> str:
    try:
        number = _edition_code(raw)
    except ValidationError:
        number = -1
    if number not in AVAILABLE_SERVICE_TYPES:
        raise ValidationError(_("Unknown service type %(value)r (expected 0 to 6).") % {"value": raw})
    return AVAILABLE_SERVICE_TYPES[number]


def _csv_type(raw: Any) -> str:
    value = {v.lower(): v for v in ServiceType.values}.get(_text(raw).lower())
    if value is None:
        raise ValidationError(
            _("Unknown service type %(value)r (expected one of %(choices)s).")
            % {"value": raw, "choices": ", ".join(ServiceType.values)}
        )
    return value


def _model_value(model_field: str, raw: Any) -> Any:
    """Convert and validate with the model field itself, so messages match forms and the API."""
    field_obj = Service._meta.get_field(model_field)
    if not isinstance(field_obj, models.Field):
        raise TypeError(f"Service.{model_field} is a relation's reverse side, not a field")
    if isinstance(field_obj, models.DateTimeField):
        return _datetime(raw)
    if isinstance(field_obj, models.DateField):
        return _date(raw)
    value: Any = _text(raw)
    if isinstance(field_obj, models.IntegerField):
        # Accept "12 000": Norwegian digit grouping.
        value = re.sub(r"[\s\u00a0]", "", value)
    if model_field in CASE_INSENSITIVE_CHOICES:
        value = {c.lower(): c for c in CASE_INSENSITIVE_CHOICES[model_field]}.get(value.lower(), value)
    return field_obj.clean(value, None)


TYPE_CONVERTERS: dict[ImportFormat, Callable[[Any], str]] = {
    ImportFormat.METADATA_API: _metadata_api_type,
    ImportFormat.AVAILABLE_SERVICE: _available_service_type,
    ImportFormat.CSV: _csv_type,
}


def _empty_value(model_field: str) -> Any:
    return None if Service._meta.get_field(model_field).null else ""


def _message(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _parse_row(fmt: ImportFormat, number: int, record: Any) -> tuple[ServiceRow | None, list[RowError]]:
    """Check one record of any format; returns the row, or None and every error in it."""
    if not isinstance(record, dict):
        return None, [RowError(number, "", _("Expected an object, got %(value)r.") % {"value": record})]
    sources = SOURCE_FIELDS[fmt]
    errors: list[RowError] = []

    code_source = sources["service_code"]
    service_code = ""
    raw_code = record.get(code_source)
    if _is_empty(raw_code):
        errors.append(RowError(number, code_source, _("The service code is missing.")))
    else:
        try:
            service_code = _text(raw_code)
            if len(service_code) > field_max_length(Service, "service_code"):
                raise ValidationError(_("The service code is too long."))
        except ValidationError as exc:
            errors.append(RowError(number, code_source, _message(exc)))
            service_code = ""

    edition_source = sources["edition_code"]
    edition_code = 0
    raw_edition = record.get(edition_source)
    if _is_empty(raw_edition):
        errors.append(RowError(number, edition_source, _("The edition code is missing."), service_code))
    else:
        try:
            edition_code = _edition_code(raw_edition)
        except ValidationError as exc:
            errors.append(RowError(number, edition_source, _message(exc), service_code))

    owner_code: str | None = None
    owner_source = sources["owner"]
    if not _is_empty(record.get(owner_source)):
        try:
            owner_code = _text(record[owner_source]).lower()
            if len(owner_code) > field_max_length(ServiceOwner, "code") or not ORG_CODE_RE.match(owner_code):
                raise ValidationError(_("%(value)r is not an organisation code.") % {"value": record[owner_source]})
        except ValidationError as exc:
            errors.append(RowError(number, owner_source, _message(exc), service_code))
    owner_name = record.get("ServiceOwnerName")
    owner_name = owner_name.strip() if isinstance(owner_name, str) else ""

    values: dict[str, Any] = {}
    for model_field, source in sources.items():
        if model_field in ("service_code", "edition_code", "owner") or source not in record:
            continue
        raw = record[source]
        if _is_empty(raw):
            if model_field not in NOT_EMPTY_FIELDS:
                values[model_field] = _empty_value(model_field)
            continue
        try:
            if model_field == "service_type":
                values[model_field] = TYPE_CONVERTERS[fmt](raw)
            else:
                values[model_field] = _model_value(model_field, raw)
        except ValidationError as exc:
            errors.append(RowError(number, source, _message(exc), service_code))

    if errors:
        return None, errors
    return ServiceRow(number, fmt, service_code, edition_code, owner_code, owner_name, values), []


def parse_services(content: bytes | str | Sequence[Any], format_hint: str | None = None) -> ParsedServices:
    """Read a service export in any accepted format and check each row; no database access.

    ``content`` is the raw file (bytes or text) or, from an API that already decoded a JSON body, the
    list itself. ``format_hint`` is one of ``FORMAT_HINTS`` or None to detect: JSON starts with ``[`` or
    ``{``, anything else is read as CSV; between the two JSON formats, ``ExternalServiceCode`` marks the
    AvailableService export. A problem with the file as a whole is a single error with row number 0.
    """
    if format_hint is not None and format_hint not in FORMAT_HINTS:
        raise ValueError(f"format_hint must be one of {FORMAT_HINTS} or None, not {format_hint!r}")
    try:
        records: Iterable[tuple[int, Any]]
        ignored: list[str] = []
        errors: list[RowError] = []
        if isinstance(content, bytes | str):
            text = _decode(content)
            is_json = text.lstrip()[0] in "[{" if format_hint is None else format_hint != ImportFormat.CSV
            if is_json:
                data: Any = _load_json(text)
            else:
                fmt = ImportFormat.CSV
                csv_records, errors, ignored = _csv_records(text)
                records, total = csv_records, len(csv_records) + len(errors)
        else:
            data, is_json = content, True
        if is_json:
            fmt = _json_format(data, format_hint)
            records, total = enumerate(data, start=1), len(data)
    except ImportFileError as exc:
        return ParsedServices(None, [], [RowError(0, "", message) for message in exc.errors], 0)

    rows: list[ServiceRow] = []
    for number, record in records:
        row, row_errors = _parse_row(fmt, number, record)
        errors.extend(row_errors)
        if row is not None:
            rows.append(row)

    # The same edition twice in one file is ambiguous: report every occurrence and import none of them.
    by_key: dict[NaturalKey, list[ServiceRow]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    duplicated = {key: group for key, group in by_key.items() if len(group) > 1}
    for (code, edition), group in duplicated.items():
        numbers = ", ".join(str(r.row_number) for r in group)
        for row in group:
            errors.append(
                row.error(
                    "edition_code",
                    _("Service %(code)s edition %(edition)s appears more than once, in rows %(rows)s.")
                    % {"code": code, "edition": edition, "rows": numbers},
                )
            )
    rows = [row for row in rows if row.key not in duplicated]
    errors.sort(key=lambda e: e.row_number)
    return ParsedServices(fmt, rows, errors, total, ignored)
