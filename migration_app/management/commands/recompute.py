"""``manage.py recompute``: the Celery recompute, run synchronously here, with a summary."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandParser

from migration_app.services.recompute import portfolio_recompute
from migration_app.services.snapshots import progress_snapshot_take


class Command(BaseCommand):
    help = "Recompute readiness, leverage, waves, progress and forecast now, and take today's snapshot."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", type=datetime.date.fromisoformat, help="Compute as of this date (YYYY-MM-DD).")
        parser.add_argument("--no-snapshot", action="store_true", help="Skip today's progress snapshot.")

    def handle(self, *args, today: datetime.date | None, no_snapshot: bool, **options) -> None:
        self.stderr.write("Recomputing the portfolio…")
        summary = portfolio_recompute(
            today=today, on_step=lambda name, seconds: self.stderr.write(f"  {name}: {seconds:.2f} s")
        )
        states = ", ".join(f"{state} {count}" for state, count in sorted(summary.by_state.items()))
        self.stdout.write(
            f"Recomputed {summary.services} services and {summary.edges} dependencies "
            f"at revision {summary.revision} in {summary.seconds:.2f} s: {states}; "
            f"{summary.readiness_rows_written} readiness rows changed."
        )
        if not summary.stored:
            self.stdout.write("A newer recompute had already stored its results; these were not stored.")
        if not no_snapshot:
            rows = progress_snapshot_take(day=today)
            self.stdout.write(f"Progress snapshot: {rows} rows for {today or 'today'}.")
