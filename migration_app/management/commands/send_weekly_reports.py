"""``manage.py send_weekly_reports``: send (or show) the weekly e-mail reports for one ISO week."""

from __future__ import annotations

import time
from email.utils import make_msgid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.utils import timezone

from migration_app import emails
from migration_app.reports import ReportWeek
from migration_app.services.weekly_reports import (
    DeliveryOutcome,
    weekly_report_deliver,
    weekly_reports_build,
    weekly_reports_prepare,
)


class Command(BaseCommand):
    help = (
        "Send the weekly report to every recipient who has not had it for the week (default: the last "
        "complete week), through the same ledger as the scheduled task, so running it again sends nothing "
        "twice. --dry-run only lists the messages; --to sends every recipient's report to one address "
        "instead (for checking the content) and leaves the ledger alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--week", help="ISO week such as 2026-W48 (default: the last complete week).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Build and render every report, print a line each, send nothing."
        )
        parser.add_argument(
            "--to", metavar="ADDRESS", help="Send every recipient's report to ADDRESS instead; the ledger is not used."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        try:
            week = ReportWeek.parse(options["week"]) if options["week"] else ReportWeek.due(today)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not week.is_complete(today) and not options["dry_run"]:
            raise CommandError(f"Week {week.label} is not over yet (it ends {week.sunday}); try --dry-run.")
        if options["to"]:
            try:
                validate_email(options["to"])
            except ValidationError:
                raise CommandError(f"--to {options['to']!r} is not an e-mail address.") from None

        started = time.monotonic()
        if options["dry_run"] or options["to"]:
            self._render_all(week, today, to=None if options["dry_run"] else options["to"])
        else:
            self._deliver(week, today)
        self.stdout.write(f"({time.monotonic() - started:.2f} s)")

    def _render_all(self, week: ReportWeek, today: Any, *, to: str | None) -> None:
        pairs = weekly_reports_build(week=week, today=today)
        for recipient, report in pairs:
            rendered = emails.weekly_report_render(report)
            if to is None:
                self.stdout.write(
                    f"{week.label} → {recipient.email} ({report.kind}, {report.language}): {rendered.subject} "
                    f"[text {len(rendered.text):,} B, html {len(rendered.html):,} B]"
                )
                continue
            emails.weekly_report_message(
                report,
                rendered,
                to=to,
                # A fresh id: a copy for checking must not share the real message's identity.
                message_id=make_msgid(domain=f"tracker.{emails.site_host()}"),
                date=timezone.now(),
            ).send()
            self.stdout.write(f"{week.label}: {recipient.email}'s report sent to {to}: {rendered.subject}")
        verb = "would go to" if to is None else "sent to " + to + " for"
        self.stdout.write(self.style.SUCCESS(f"{len(pairs)} report(s) for {week.label} {verb} their recipients."))

    def _deliver(self, week: ReportWeek, today: Any) -> None:
        outcomes: dict[str, int] = {}
        failures = 0
        for user_id in weekly_reports_prepare(week=week, today=today):
            try:
                outcome = weekly_report_deliver(user_id=user_id, iso_week=week.label, today=today)
            except Exception as exc:
                failures += 1
                self.stderr.write(f"user {user_id}: {type(exc).__name__}: {exc}")
                continue
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "nothing to send"
        self.stdout.write(self.style.SUCCESS(f"{week.label}: {summary}."))
        if failures:
            raise CommandError(f"{failures} report(s) failed; running the command again retries them.")
        if outcomes.get(DeliveryOutcome.GAVE_UP):
            self.stderr.write(
                "Some reports reached the attempt limit; see last_error in the WeeklyReportDelivery ledger."
            )
