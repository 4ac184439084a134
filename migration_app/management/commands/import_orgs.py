"""``manage.py import_orgs PATH``: load Altinn's organisation list (altinn-orgs.json) as service owners."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from migration_app.importers import ImportFileError, orgs_import


class Command(BaseCommand):
    help = (
        "Import service owners from Altinn's organisation list (altinn-orgs.json). Upserts on the lower-case "
        "org code; invalid or test organisation numbers are stored empty and reported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="altinn-orgs.json, as published on Altinn's CDN.")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        try:
            data = json.loads(path.read_bytes().decode("utf-8-sig"))
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text.") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from None
        try:
            result = orgs_import(data=data, dry_run=options["dry_run"])
        except ImportFileError as exc:
            raise CommandError(f"{path}: nothing imported: {exc}") from None
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(warning))
        if options["verbosity"] >= 2 or options["dry_run"]:
            for label, codes in (("created", result.created), ("updated", result.updated)):
                if codes:
                    self.stdout.write(f"{label}: {', '.join(codes)}")
        self.stdout.write(self.style.SUCCESS(result.summary()))
