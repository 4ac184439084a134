"""``manage.py import_catalog PATH``: load a file written by export_catalog, all or nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from migration_app.transfer import CatalogImportError, MissingUsers, catalog_import, catalog_text


class Command(BaseCommand):
    help = (
        "Import a catalog file written by export_catalog (plain or gzipped; '-' reads standard input) into "
        "an empty tracker, in one transaction, keeping ids and timestamps. Refuses a non-empty catalog "
        "unless --replace."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="File to read (.json or .json.gz), or '-' for standard input.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Delete the existing catalog first, in the same transaction (memberships of owners in the file are kept).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and import everything, then roll back: nothing changes."
        )
        parser.add_argument(
            "--missing-users",
            choices=MissingUsers.choices,
            default=MissingUsers.REFUSE,
            help=(
                "History naming a user with no account here: refuse the import (default), create the account "
                "inactive and without a password, or leave those rows without an author."
            ),
        )

    def handle(self, *args: Any, path: str, **options: Any) -> None:
        progress = self.stderr.write if options["verbosity"] >= 1 else (lambda line: None)
        try:
            raw = sys.stdin.buffer if path == "-" else Path(path).open("rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None
        try:
            summary = catalog_import(
                source=catalog_text(raw),
                replace=options["replace"],
                dry_run=options["dry_run"],
                missing_users=options["missing_users"],
                progress=progress,
            )
        except CatalogImportError as exc:
            raise CommandError("Nothing was imported:\n  " + "\n  ".join(exc.problems)) from None
        finally:
            if raw is not sys.stdin.buffer:
                raw.close()

        rows = ", ".join(f"{count:,} {name.replace('_', ' ')}" for name, count in summary.counts.items())
        if options["replace"]:
            deleted = ", ".join(f"{count:,} {name.replace('_', ' ')}" for name, count in summary.deleted.items())
            self.stdout.write(
                f"Deleted the existing catalog: {deleted}; kept {summary.memberships_kept} memberships, "
                f"dropped {summary.memberships_dropped} (their organisations are not in the file)."
            )
        if summary.users_created:
            self.stdout.write(
                f"Created {len(summary.users_created)} inactive accounts without a password for history authors: "
                + ", ".join(summary.users_created)
            )
        if summary.history_without_author:
            self.stdout.write(
                f"{summary.history_without_author:,} status changes have no author (no such account here)."
            )
        verb = "Checked (dry run, nothing changed)" if summary.dry_run else "Imported"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb}: {rows}, exported {summary.exported_at} at migration {summary.migration}, "
                f"in {summary.seconds:.1f} s."
            )
        )
        if summary.dry_run:
            return
        if summary.recompute_requested:
            self.stdout.write("A recompute of readiness and forecasts has been requested.")
        else:
            self.stdout.write(
                "The database is at the file's (older) migration: run manage.py migrate, then manage.py recompute."
            )
