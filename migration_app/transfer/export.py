"""Writing the catalog to one JSON document, streamed row by row from one consistent read of the database."""

from __future__ import annotations

import datetime
import gzip
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Field
from django.utils import timezone

from .format import (
    APP_LABEL,
    FORMAT_NAME,
    FORMAT_VERSION,
    SECTIONS,
    Section,
    concrete_field,
    encode_value,
    natural_key_fields,
    related_model,
)

# Rows fetched per round trip (a server-side cursor on PostgreSQL): memory stays flat at any catalog size.
CHUNK_SIZE = 2000
# A progress line every this many rows of a section.
PROGRESS_EVERY = 50_000


@dataclass(frozen=True)
class ExportSummary:
    """What ``catalog_export`` wrote: rows per section, when, and at which migration."""

    counts: dict[str, int]
    exported_at: str
    migration: str
    seconds: float


class CatalogExportError(Exception):
    """The catalog cannot be exported as it stands (the database is not at this code's migration)."""


def applied_migration() -> str:
    """The latest applied migration of the tracker's app, e.g. ``0004_weekly_reports``; '' if none.

    Migration names start with a zero-padded sequence number, so the greatest name is the latest.
    """
    applied = [name for app, name in MigrationRecorder(connection).applied_migrations() if app == APP_LABEL]
    return max(applied, default="")


def code_migration() -> str:
    """The latest migration of the tracker's app in this code: the one ``migrate`` brings a database to."""
    leaves = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes(APP_LABEL)
    # Django refuses to migrate an app with two leaves (makemigrations --merge), so there is one.
    return leaves[0][1] if leaves else ""


def catalog_export(
    *, write: Callable[[str], Any], progress: Callable[[str], None] = lambda line: None
) -> ExportSummary:
    """Write every catalog row as one JSON document through ``write`` (called with text pieces).

    All reads happen in one transaction; on PostgreSQL it is REPEATABLE READ, so a catalog edited
    during a long export is still written as it was at one instant (no dependency on a service that
    the services section lacks). Rows go out in primary-key order, one per line, so two exports of an
    unchanged catalog differ only in ``exported_at``.
    """
    started = time.monotonic()
    migration = applied_migration()
    if migration != code_migration():
        # The file records the fields of the models in this code; a database behind them lacks columns.
        raise CatalogExportError(
            f"The database is at migration {migration!r}, this code at {code_migration()!r}: run manage.py migrate first."
        )
    # The isolation level can only be chosen by the statement that opens the transaction; inside a
    # caller's transaction (tests, or a caller that wants its own snapshot) that transaction decides.
    opens_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if opens_transaction and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        counts = {section.name: section.model._default_manager.count() for section in SECTIONS}
        # Written like every other time in the file: UTC, with microseconds.
        exported_at = timezone.now().astimezone(datetime.UTC).isoformat()
        header = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "exported_at": exported_at,
            "migration": {APP_LABEL: migration},
            "counts": counts,
        }
        write("{\n")
        for key, value in header.items():
            write(f"{_dumps(key)}: {_dumps(value)},\n")
        for position, section in enumerate(SECTIONS):
            write(f"{_dumps(section.name)}: [")
            written = 0
            for row in _rows(section):
                write(("\n" if written == 0 else ",\n") + _dumps(row))
                written += 1
                if written % PROGRESS_EVERY == 0:
                    progress(f"export_catalog: {section.name} {written:,}/{counts[section.name]:,}")
            closing = "\n]" if written else "]"
            write(closing + (",\n" if position < len(SECTIONS) - 1 else "\n"))
            progress(f"export_catalog: {section.name} {written:,} rows ({time.monotonic() - started:.1f} s)")
        write("}\n")
    return ExportSummary(
        counts=counts,
        exported_at=exported_at,
        migration=migration,
        seconds=round(time.monotonic() - started, 3),
    )


def catalog_export_file(path: Path, *, progress: Callable[[str], None] = lambda line: None) -> ExportSummary:
    """Export to ``path``, gzipped when its name ends in ``.gz``; the file appears only when complete.

    It is written to a temporary file beside ``path`` (readable by its owner only, as the catalog names
    people and their e-mail addresses) and renamed over ``path`` at the end, so a failed export never
    leaves a truncated file that looks like a catalog.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as raw:
            # mtime=0 and no file name in the gzip header: the same catalog gives the same bytes.
            compressed = (
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
                if path.suffix == ".gz"
                else None
            )
            text = io.TextIOWrapper(compressed or raw, encoding="utf-8", newline="\n")
            summary = catalog_export(write=text.write, progress=progress)
            text.flush()
            text.detach()
            if compressed is not None:
                compressed.close()  # writes the gzip trailer; leaves ``raw`` open
            raw.flush()
            # On disk before it takes the final name: a backup that a crash could empty is no backup.
            os.fsync(raw.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return summary


def _dumps(value: Any) -> str:
    # Compact, and UTF-8 rather than \u escapes: Norwegian names stay readable in the file.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _rows(section: Section) -> Iterator[dict[str, Any]]:
    """The section's rows as file rows, without model instances: one joined ``values_list`` query.

    A foreign key becomes the target's natural key through the join, e.g. ``owner__code``.
    """
    readers: list[tuple[str, int, Callable[[tuple], Any]]] = []
    lookups: list[str] = []
    for field in section.fields:
        if field.is_relation:
            target = related_model(field)
            names = natural_key_fields(target)
            parts = [concrete_field(target, name) for name in names]
            lookups += [f"{field.name}__{name}" for name in names]
            readers.append((field.name, len(names), _reference_encoder(parts)))
        else:
            lookups.append(field.attname)
            readers.append((field.name, 1, _value_encoder(field)))
    queryset = section.model._default_manager.order_by("pk").values_list(*lookups)
    for values in queryset.iterator(chunk_size=CHUNK_SIZE):
        row, index = {}, 0
        for name, width, encode in readers:
            row[name] = encode(values[index : index + width])
            index += width
        yield row


def _value_encoder(field: Field) -> Callable[[tuple], Any]:
    return lambda values: encode_value(field, values[0])


def _reference_encoder(parts: list[Field]) -> Callable[[tuple], Any]:
    """A natural key: a scalar for one field, a list for several, null for no reference."""
    if len(parts) == 1:
        return lambda values: encode_value(parts[0], values[0])

    def encode(values: tuple) -> Any:
        if all(value is None for value in values):
            return None
        return [encode_value(part, value) for part, value in zip(parts, values, strict=True)]

    return encode
