"""Celery tasks: thin, explicitly named wrappers that take ids and call services (STYLE.md, after Sentry).

Every task here is safe to run twice or concurrently: a recompute overwrites stored results with a fresh
computation, a snapshot upserts its day's rows, and the weekly-report ledger lets one delivery send. So
the retried ones use ``acks_late`` with ``reject_on_worker_lost``: a worker killed mid-run hands the job
back to the broker for another worker. A recompute that could not be queued at all (the broker was
down) is caught up by ``recompute_portfolio_if_stale`` on beat's one-minute schedule.

Queues by kind (``CELERY_TASK_ROUTES`` in settings): recompute and snapshots on one, e-mail on another,
so a long recompute never delays a delivery. Services queue work by task name (services.task_queue).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from celery import shared_task
from django.utils import timezone

from .reports.weeks import ReportWeek
from .services import recompute, snapshots, weekly_reports
from .services.recompute import RECOMPUTE_HARD_LIMIT, RECOMPUTE_SOFT_LIMIT, RECOMPUTE_TASK

logger = logging.getLogger(__name__)

# The option set shared by the retried tasks: harmless twice, so handed back if a worker dies mid-run.
RETRIED_AND_REDELIVERED: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (Exception,),
    "retry_jitter": True,
}

# A delivery renders one report and talks to one SMTP server: seconds. The hard limit stays far below
# services.weekly_reports.WEEKLY_CLAIM_TIMEOUT, so a claim is never taken over from a live delivery.
WEEKLY_DELIVER_SOFT_LIMIT = 120
WEEKLY_DELIVER_HARD_LIMIT = 180
# A delivery still queued after this long is dropped; the hourly catch-up queues a fresh one.
WEEKLY_DELIVER_EXPIRES = 6 * 3600


@shared_task(
    name=RECOMPUTE_TASK,
    soft_time_limit=RECOMPUTE_SOFT_LIMIT,
    time_limit=RECOMPUTE_HARD_LIMIT,
    max_retries=3,
    retry_backoff=5,
    **RETRIED_AND_REDELIVERED,
)
def recompute_portfolio() -> dict[str, Any]:
    """Recompute readiness, leverage, waves, progress and forecast for the whole portfolio."""
    return recompute.portfolio_recompute().as_dict()


@shared_task(
    name="migration_app.progress_snapshot_take",
    soft_time_limit=RECOMPUTE_SOFT_LIMIT,
    time_limit=RECOMPUTE_HARD_LIMIT,
    max_retries=3,
    retry_backoff=30,
    **RETRIED_AND_REDELIVERED,
)
def progress_snapshot_take(day: str | None = None) -> int:
    """Store the progress snapshot for ``day`` (ISO date; default today in Oslo); returns rows written."""
    return snapshots.progress_snapshot_take(day=datetime.date.fromisoformat(day) if day else None)


@shared_task(
    name="migration_app.recompute_portfolio_if_stale",
    soft_time_limit=RECOMPUTE_SOFT_LIMIT,
    time_limit=RECOMPUTE_HARD_LIMIT,
    # Nobody reads it; and beat, which sends this while the broker may be down, must not wait on the
    # result store (a result subscription retries for ~20 s when Redis is down).
    ignore_result=True,
)
def recompute_portfolio_if_stale() -> dict[str, Any] | None:
    """Beat's catch-up (every minute): recompute if the results are stale and no queued task will do it.

    Covers the recomputes a broker outage swallowed: a change that could not queue one, and a queued one
    lost with a worker's broker connection. Fresh results cost one query. Not retried: the next run is
    a minute away.
    """
    summary = recompute.portfolio_recompute_if_unserved()
    return summary.as_dict() if summary is not None else None


# --- Weekly e-mail reports: a scheduler fans out one delivery per recipient --------------------------


@shared_task(
    name="migration_app.weekly_reports_fan_out",
    # Harmless twice: a second run queues deliveries that the ledger turns away.
    soft_time_limit=RECOMPUTE_SOFT_LIMIT,
    time_limit=RECOMPUTE_HARD_LIMIT,
    max_retries=3,
    retry_backoff=60,
    **RETRIED_AND_REDELIVERED,
)
def weekly_reports_fan_out(iso_week: str | None = None) -> dict[str, Any]:
    """Queue one delivery per recipient whose report for ``iso_week`` is not sent yet.

    The default week is the last complete one, so the Monday run and every catch-up run later in the
    week target the same week. The week's digests are built and stored here first, once.
    """
    week = ReportWeek.parse(iso_week) if iso_week else ReportWeek.due(timezone.localdate())
    pending = weekly_reports.weekly_reports_prepare(week=week)
    failed = 0
    for user_id in pending:
        try:
            weekly_report_deliver.apply_async((user_id, week.label), expires=WEEKLY_DELIVER_EXPIRES)
        except Exception:
            failed += 1
            logger.exception("Could not queue the weekly report %s for user %s.", week.label, user_id)
    if failed:
        # Retry the fan-out (with backoff): what was queued is turned away by the ledger if already sent.
        raise RuntimeError(f"could not queue {failed} of {len(pending)} weekly report deliveries")
    return {"week": week.label, "queued": len(pending)}


@shared_task(
    name="migration_app.weekly_report_deliver",
    # Harmless twice: the ledger's claim lets one run send and turns the other away.
    soft_time_limit=WEEKLY_DELIVER_SOFT_LIMIT,
    time_limit=WEEKLY_DELIVER_HARD_LIMIT,
    # Five attempts here (1, 2, 4, 8 minutes apart, with jitter) leave the ledger's sixth to a catch-up run.
    max_retries=4,
    retry_backoff=60,
    retry_backoff_max=3600,
    **RETRIED_AND_REDELIVERED,
)
def weekly_report_deliver(user_id: int, iso_week: str) -> str:
    """Send ``user_id`` the report for ``iso_week`` unless it is sent or being sent; returns the outcome."""
    return weekly_reports.weekly_report_deliver(user_id=user_id, iso_week=iso_week)
