"""``manage.py seed_demo``: fill an empty tracker with a believable, deterministic demo programme."""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from migration_app.demo.seed import CatalogNotEmptyError, demo_logins, demo_seed, demo_snapshots_backfill
from migration_app.demo.specs import orgs_read
from migration_app.demo.vocabulary import ORGS_FILE
from migration_app.models import Service

# Replaying a year of history day by day takes seconds for a demo-sized catalog and minutes for
# 100,000 services, so by default only demo-sized catalogs get their past snapshots.
SNAPSHOTS_AUTO_LIMIT = 10_000


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--today {text!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "Seed a demo programme: Altinn's real service owners, N services with a year of status history, "
        "platform capabilities, dependencies and demo users. The same --seed and --today give the same data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--services", type=int, default=1000, help="Number of service editions (default 1000).")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed (default 2026).")
        parser.add_argument(
            "--today", help="Seed as if today were YYYY-MM-DD (default: today). History ends the day before."
        )
        parser.add_argument(
            "--orgs", help=f"Altinn's organisation list (default: {ORGS_FILE.name} shipped with the app)."
        )
        parser.add_argument(
            "--snapshots",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=(
                "Backfill one progress snapshot per day of the history, for burn-up charts "
                f"(default: only up to {SNAPSHOTS_AUTO_LIMIT:,} services)."
            ),
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--if-empty", action="store_true", help="Do nothing if any service exists (used by `make run`)."
        )
        group.add_argument(
            "--replace", action="store_true", help="Delete every existing service, dependency and status change first."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["services"] < 1:
            raise CommandError("--services must be at least 1.")
        if options["if_empty"] and Service.objects.exists():
            self.stdout.write("The catalog already has services; seed_demo left it alone.")
            self.stdout.write(demo_logins())
            return
        today = _date(options["today"]) if options["today"] else timezone.localdate()
        path = Path(options["orgs"]) if options["orgs"] else ORGS_FILE
        try:
            orgs_data = orgs_read(path)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{path} is not a JSON organisation list: {exc}") from None

        progress = self.stderr.write if options["verbosity"] >= 1 else (lambda line: None)
        try:
            result = demo_seed(
                seed=options["seed"],
                services=options["services"],
                today=today,
                tz=timezone.get_current_timezone(),
                orgs_data=orgs_data,
                replace=options["replace"],
                progress=progress,
            )
        except CatalogNotEmptyError:
            raise CommandError(
                "The catalog already has services. Use --replace to delete them and seed again, "
                "or --if-empty to keep them."
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {result.services} services, {result.dependencies} dependencies and "
                f"{result.status_changes} status changes for {result.owners} service owners "
                f"in {result.seconds:.1f} s (seed {options['seed']}, today {today:%Y-%m-%d})."
            )
        )

        snapshots = options["snapshots"]
        if snapshots is None:
            snapshots = result.services <= SNAPSHOTS_AUTO_LIMIT
        if snapshots:
            started = time.monotonic()
            rows = demo_snapshots_backfill(today=today)
            progress(f"seed_demo: {rows} daily progress snapshots ({time.monotonic() - started:.1f} s)")
        else:
            progress("seed_demo: no progress snapshots backfilled (pass --snapshots to replay the history into them)")
        self.stdout.write(demo_logins())
