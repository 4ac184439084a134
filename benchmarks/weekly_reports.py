"""Weekly reports speed: every organisation's report for the 1,000-service demo.

Seeds the demo once (see _harness.py), gives every organisation with services one member, stores the
three end-of-week snapshots the reports read, then measures (best of N runs):

* **render**: rendering every recipient's e-mail (subject, text and HTML) from reports already built,
  the floor that any way of computing the figures must add to;
* **cold**: building the week's digests for every organisation from the history (nothing stored) and
  rendering every recipient's report: what the Monday fan-out does once a week;
* **warm**: the same with the week's digests stored: what a retry or a preview does.

Prints the seconds, the ratios cold/render and warm/render (close to 1 means computing the figures
costs little next to rendering them), the cost per recipient, one report's render time, and the
database queries of a cold run (constant in the number of recipients).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import child_json, prepare

MEASURE = r"""
import json, time
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from migration_app import emails
from migration_app.models import Membership, ServiceOwner, WeeklyReportDigest
from migration_app.reports import ReportWeek
from migration_app.selectors.weekly_reports import weekly_report_recipients
from migration_app.services.snapshots import progress_snapshot_backfill
from migration_app.services.weekly_reports import weekly_report_digests
from migration_app.services.weekly_reports import weekly_reports_build

User = get_user_model()
for owner in ServiceOwner.objects.filter(services__isnull=False).distinct():
    user, _ = User.objects.get_or_create(username=f"bench-{owner.code}", defaults={"email": f"bench-{owner.code}@bench.example"})
    Membership.objects.get_or_create(user=user, owner=owner, defaults={"role": "viewer"})
week = ReportWeek.due(timezone.localdate())
for sunday in (week.sunday, week.previous.sunday, week.previous.previous.sunday):
    progress_snapshot_backfill(first=sunday, last=sunday)
recipients = weekly_report_recipients()
WeeklyReportDigest.objects.filter(iso_week=week.label).delete()

def best(fn, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)

def render_all(store):
    for _recipient, report in weekly_reports_build(week=week, recipients=recipients, store=store):
        emails.weekly_report_render(report)

reports = [report for _r, report in weekly_reports_build(week=week, recipients=recipients)]
render_all(False)  # warm-up: template compilation and translation catalogues load once per process
cold = best(lambda: render_all(False), RUNS)
render = best(lambda: [emails.weekly_report_render(report) for report in reports], RUNS)
owner_report = next(report for report in reports if report.kind == "owner")
one = best(lambda: emails.weekly_report_render(owner_report), RUNS * 10)
with CaptureQueriesContext(connection) as queries:
    render_all(False)
weekly_report_digests(week=week)
warm = best(lambda: render_all(True), RUNS)
print(json.dumps({"render": render, "one": one, "cold": cold, "warm": warm, "recipients": len(recipients),
                  "owners": ServiceOwner.objects.filter(services__isnull=False).distinct().count(),
                  "queries": len(queries), "week": week.label}))
"""


def main(runs: int = 5) -> list[str]:
    env = prepare("weekly-reports-1k", 1_000)
    r = child_json(env, MEASURE.replace("RUNS", str(runs)))
    n = r["recipients"]
    lines = [
        f"weekly reports ({r['week']}): 1,000 services, {r['owners']} organisations, {n} recipients "
        f"(best of {runs} runs)",
        f"  rendering every report from built data (the floor): {r['render']:.3f} s "
        f"({r['render'] / n * 1000:.1f} ms per recipient; the largest organisation's alone {r['one'] * 1000:.1f} ms)",
        f"  every report, digests built from history: {r['cold']:.3f} s "
        f"(ratio to the floor {r['cold'] / r['render']:.2f}; {r['cold'] / n * 1000:.1f} ms per recipient; "
        f"{r['queries']} queries in all)",
        f"  every report, digests stored: {r['warm']:.3f} s (ratio to the floor {r['warm'] / r['render']:.2f})",
    ]
    for line in lines:
        print(line, flush=True)
    return lines


if __name__ == "__main__":
    main()
