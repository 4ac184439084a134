"""``manage.py import_altinn2 PATH``: load an Altinn II service export (either JSON format, or the
tracker's own CSV) into the catalog. See ``migration_app.importers`` for the formats and rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from migration_app.importers import FORMAT_HINTS, ImportResult, NaturalKey, altinn2_import

# A file name's extension is a hint only; without one the content decides.
SUFFIX_HINTS = {".json": "json", ".csv": "csv"}


def _label(key: NaturalKey) -> str:
    return f"{key[0]}/{key[1]}"


class Command(BaseCommand):
    help = (
        "Import Altinn II service editions from the metadata API list, the AvailableService export or the "
        "tracker's CSV (detected automatically). Upserts on (service code, edition code); status is never "
        "changed. All or nothing unless --skip-invalid."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The export file (JSON or CSV, UTF-8).")
        parser.add_argument(
            "--format",
            choices=["auto", *FORMAT_HINTS],
            default="auto",
            help="Skip detection: json (either JSON format), metadata-api, available-service or csv.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")
        parser.add_argument("--skip-invalid", action="store_true", help="Import the valid rows and report the others.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None
        hint = None if options["format"] == "auto" else options["format"]
        if hint is None:
            hint = SUFFIX_HINTS.get(path.suffix.lower())

        result = altinn2_import(
            content=content, format_hint=hint, dry_run=options["dry_run"], skip_invalid=options["skip_invalid"]
        )
        if result.ignored_columns:
            self.stderr.write(self.style.WARNING(f"Ignored columns: {', '.join(result.ignored_columns)}"))
        if result.aborted:
            lines = "\n".join(f"  {error}" for error in result.errors)
            raise CommandError(f"{path}: nothing imported, {len(result.errors)} error(s):\n{lines}")
        for error in result.errors:
            self.stderr.write(self.style.WARNING(f"Skipped: {error}"))
        if options["dry_run"] or options["verbosity"] >= 2:
            self._list_changes(result)
        self.stdout.write(self.style.SUCCESS(result.summary()))

    def _list_changes(self, result: ImportResult) -> None:
        verb = ("Would create", "Would update") if result.dry_run else ("Created", "Updated")
        for key in result.created:
            self.stdout.write(f"{verb[0]} {_label(key)}")
        for key in result.updated:
            self.stdout.write(f"{verb[1]} {_label(key)}")
