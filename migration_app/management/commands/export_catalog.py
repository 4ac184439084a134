"""``manage.py export_catalog PATH``: the whole catalog to one JSON file (gzipped for ``.gz``, ``-`` for stdout)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from migration_app.transfer import CatalogExportError, ExportSummary, catalog_export, catalog_export_file


class Command(BaseCommand):
    help = (
        "Write the whole catalog (service owners, platform capabilities, services, dependencies, status "
        "history, milestones, progress snapshots) to one JSON file that import_catalog reads back. "
        "Gzipped when PATH ends in .gz; '-' writes to standard output. Accounts are not included."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="File to write (.json or .json.gz), or '-' for standard output.")

    def handle(self, *args: Any, path: str, **options: Any) -> None:
        progress = self.stderr.write if options["verbosity"] >= 1 else (lambda line: None)
        try:
            summary, report = self._export(path, progress)
        except CatalogExportError as exc:
            raise CommandError(str(exc)) from None
        rows = ", ".join(f"{count:,} {name.replace('_', ' ')}" for name, count in summary.counts.items())
        report.write(
            f"Exported {rows} at migration {summary.migration} in {summary.seconds:.1f} s "
            f"(exported_at {summary.exported_at})."
        )

    def _export(self, path: str, progress: Callable[[str], None]) -> tuple[ExportSummary, OutputWrapper]:
        if path == "-":
            summary = catalog_export(write=lambda text: self.stdout.write(text, ending=""), progress=progress)
            # Standard output carries the document, so the summary goes to standard error.
            report = self.stderr
        else:
            target = Path(path)
            if not target.parent.is_dir():
                raise CommandError(f"{target.parent} is not a directory.")
            try:
                summary = catalog_export_file(target, progress=progress)
            except OSError as exc:
                raise CommandError(f"Cannot write {target}: {exc.strerror or exc}") from None
            report = self.stdout
        return summary, report
