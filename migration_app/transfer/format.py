"""The catalog file: its name and version, its sections in order, and how each field is written and read.

A catalog file is one JSON object::

    {"format": "altinn-migration-tracker/catalog", "format_version": 1,
     "exported_at": "2026-11-28T19:00:00.123456+00:00", "migration": {"migration_app": "0004_weekly_reports"},
     "counts": {"service_owners": 106, ...},
     "service_owners": [{"id": 1, "code": "skd", ...}, ...], "platform_capabilities": [...], "services": [...],
     "dependencies": [...], "status_changes": [...], "milestones": [...], "progress_snapshots": [...]}

Every row holds every concrete field of its model under the field's name, so a field added to a model
is carried without touching this package (a field type without a codec below fails loudly instead).
A row keeps its primary key, so a restored tracker keeps its URLs (``/services/17/``), its API ids and
the ids stored inside engine results and e-mails. A foreign key is written as the target's natural key
(``"owner": "skd"``, ``"service": ["3906", 1]``, ``"changed_by": "kari"``), which keeps the file readable
and lets the import check every reference against the rows it has read, not against a number.
"""

from __future__ import annotations

import datetime
import gzip
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, NoReturn, TextIO, TypeVar, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from ..models import Dependency, Milestone, PlatformCapability, ProgressSnapshot, Service, ServiceOwner, StatusChange

FORMAT_NAME = "altinn-migration-tracker/catalog"
# Bump when the layout changes in a way an older importer would misread; field changes need no bump,
# since the migration state recorded in the file already pins the fields.
FORMAT_VERSION = 1
# The members before the sections, in the order they are written.
HEADER_KEYS = ("format", "format_version", "exported_at", "migration", "counts")
# The app whose migration state the file records and the import requires.
APP_LABEL = "migration_app"


@dataclass(frozen=True)
class Section:
    """One list in the file: the rows of ``model``, identified across databases by ``natural_key``."""

    name: str
    model: type[models.Model]
    # Fields that identify a row in any database; empty for rows known only by their id (edges, history).
    natural_key: tuple[str, ...]

    @property
    def fields(self) -> list[models.Field]:
        return list(self.model._meta.concrete_fields)


# In dependency order: a row refers only to rows of sections before it, so one pass imports the file.
SECTIONS: tuple[Section, ...] = (
    Section("service_owners", ServiceOwner, ("code",)),
    Section("platform_capabilities", PlatformCapability, ("key",)),
    Section("services", Service, ("service_code", "edition_code")),
    Section("dependencies", Dependency, ()),
    Section("status_changes", StatusChange, ()),
    Section("milestones", Milestone, ("key",)),
    # Daily records, not results: a day's figures used that day's volumes, owners and set of services,
    # which replaying today's catalog through the history cannot reproduce. So they travel with it.
    Section("progress_snapshots", ProgressSnapshot, ("day", "scope", "scope_key")),
)


def natural_key_fields(model: type[models.Model]) -> tuple[str, ...]:
    """The fields a foreign key to ``model`` is written as: a section's natural key, or a user's name.

    Matched by label, so it answers for the historical models of an older migration too.
    """
    label = model._meta.label_lower
    if label == settings.AUTH_USER_MODEL.lower():
        return (get_user_model().USERNAME_FIELD,)
    for section in SECTIONS:
        if section.model._meta.label_lower == label and section.natural_key:
            return section.natural_key
    raise LookupError(f"{model.__name__} has no natural key, so a catalog file cannot refer to it")


def related_model(field: models.Field) -> type[models.Model]:
    """The model a foreign key refers to."""
    target = field.related_model
    if target is None:
        raise TypeError(f"{field.name} is not a relation")
    return target


def concrete_field(model: type[models.Model], name: str) -> models.Field:
    """One of ``model``'s own fields by name (a natural key's, a foreign key's), never a reverse relation."""
    found = model._meta.get_field(name)
    if not isinstance(found, models.Field):
        raise TypeError(f"{model.__name__}.{name} is a reverse relation, not a field")
    return found


def is_user_model(model: type[models.Model]) -> bool:
    return model._meta.label_lower == settings.AUTH_USER_MODEL.lower()


def natural_key_label(value: Any) -> str:
    """``["3906", 1]`` → ``3906/1``: how rows and references are named in messages."""
    if isinstance(value, list | tuple):
        return "/".join(str(part) for part in value)
    return str(value)


# --- Values: one codec per internal field type --------------------------------------------------------

_TEXT = {"CharField", "TextField", "SlugField", "EmailField", "URLField"}
_INTEGER = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}


def encode_value(field: models.Field, value: Any) -> Any:
    """A field's Python value as JSON. Datetimes are UTC with microseconds, so they come back exactly."""
    if value is None:
        return None
    kind = field.get_internal_type()
    if kind == "DateTimeField":
        return value.astimezone(datetime.UTC).isoformat()
    if kind == "DateField":
        return value.isoformat()
    if kind in _TEXT or kind in _INTEGER or kind in {"BooleanField", "JSONField"}:
        return value
    raise TypeError(f"No catalog codec for {field.model.__name__}.{field.name} ({kind})")


# What a value should have been, for messages; lazy, so decoding a valid row translates nothing.
_EXPECTED_TEXT = _lazy("text")
_EXPECTED_INTEGER = _lazy("a whole number")
_EXPECTED_BOOLEAN = _lazy("true or false")
_EXPECTED_DATE = _lazy("a date (YYYY-MM-DD)")
_EXPECTED_DATETIME = _lazy("a date and time (ISO 8601)")


def value_decoder(field: models.Field) -> Callable[[Any], Any]:
    """A function from a JSON value to the field's Python value: strictly typed, then checked by the
    field's own rules (length, choices, blank, validators such as the MOD11 organisation number), as a
    form would. It raises ValidationError saying what is wrong. Built once per field, used per row."""
    kind = field.get_internal_type()
    if kind in _TEXT:
        convert = _typed_as(str, _EXPECTED_TEXT)
    elif kind in _INTEGER:
        convert = _integer
    elif kind == "BooleanField":
        convert = _typed_as(bool, _EXPECTED_BOOLEAN)
    elif kind == "DateField":
        convert = _parsed_as(datetime.date.fromisoformat, _EXPECTED_DATE)
    elif kind == "DateTimeField":
        convert = _aware_datetime
    elif kind == "JSONField":
        convert = _unchanged
    else:
        raise TypeError(f"No catalog codec for {field.model.__name__}.{field.name} ({kind})")
    validators = field.validators
    # Forms skip validate() (choices, blank) for non-editable fields such as version; so does this.
    validate = field.validate if field.editable else None

    def decode(raw: Any) -> Any:
        if raw is None:
            if not field.null:
                raise ValidationError(_("This field cannot be empty (null)."))
            return None
        value = convert(raw)
        if validators:
            field.run_validators(value)
        if validate is not None:
            validate(value, None)
        return value

    return decode


def _typed_as(kind: type, expected: Any) -> Callable[[Any], Any]:
    def convert(raw: Any) -> Any:
        if not isinstance(raw, kind):
            _wrong_type(expected)
        return raw

    return convert


def _integer(raw: Any) -> int:
    # bool is an int in Python; in a file it is a mistake.
    if not isinstance(raw, int) or isinstance(raw, bool):
        _wrong_type(_EXPECTED_INTEGER)
    return raw


_ParsedT = TypeVar("_ParsedT")


def _parsed_as(parse: Callable[[str], _ParsedT], expected: Any) -> Callable[[Any], _ParsedT]:
    def convert(raw: Any) -> _ParsedT:
        if not isinstance(raw, str):
            _wrong_type(expected)
        try:
            return parse(raw)
        except ValueError:
            raise ValidationError(_("%(value)r is not %(expected)s.") % {"value": raw, "expected": expected}) from None

    return convert


_parse_datetime = _parsed_as(datetime.datetime.fromisoformat, _EXPECTED_DATETIME)


def _aware_datetime(raw: Any) -> datetime.datetime:
    value = _parse_datetime(raw)
    if value.tzinfo is None:
        raise ValidationError(_("The time %(value)s has no UTC offset.") % {"value": raw})
    return value.astimezone(datetime.UTC)


def _unchanged(raw: Any) -> Any:
    return raw


def _wrong_type(expected: Any) -> NoReturn:
    raise ValidationError(_("Expected %(expected)s.") % {"expected": expected})


GZIP_MAGIC = b"\x1f\x8b"


def catalog_text(raw: BinaryIO) -> TextIO:
    """The file's text, gunzipped if it starts with the gzip magic (whatever its name; stdin too)."""
    buffered = cast(io.BufferedReader, raw if hasattr(raw, "peek") else io.BufferedReader(cast(io.RawIOBase, raw)))
    stream: gzip.GzipFile | io.BufferedReader = (
        gzip.GzipFile(fileobj=buffered, mode="rb") if buffered.peek(2)[:2] == GZIP_MAGIC else buffered
    )
    return io.TextIOWrapper(stream, encoding="utf-8")
