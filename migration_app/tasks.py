"""Celery tasks: thin, explicitly named wrappers that call services (STYLE.md, after Sentry's tasks).

Both tasks are safe to run twice or concurrently: a recompute overwrites stored results with a fresh
computation and a snapshot upserts its day's rows, so they use ``acks_late`` with
``reject_on_worker_lost``: a worker killed mid-run hands the job back to the broker for another worker.
A recompute that could not be queued at all (the broker was down) is caught up by
``recompute_portfolio_if_stale`` on beat's one-minute schedule.
"""

from __future__ import annotations

import datetime
import logging

from celery import shared_task
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import PortfolioState

logger = logging.getLogger(__name__)

# Well below the broker's visibility timeout (settings.CELERY_BROKER_TRANSPORT_OPTIONS), so Redis
# never redelivers a job that is still running.
RECOMPUTE_SOFT_LIMIT = 300
RECOMPUTE_HARD_LIMIT = 360
# A burst of edits within this many seconds is served by one recompute.
RECOMPUTE_COALESCE_SECONDS = 2
# Queueing happens inside the user's request, so with the broker down it must fail at once. retry=False
# does not do that (kombu still spends its connect timeout reconnecting: ~6 s a call); one immediate retry
# replaces a pooled connection that Redis closed, and nothing more.
PUBLISH_FAST_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}


@shared_task(
    name="migration_app.recompute_portfolio",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=RECOMPUTE_SOFT_LIMIT,
    time_limit=RECOMPUTE_HARD_LIMIT,
    autoretry_for=(Exception,),
    max_retries=3,
    retry_backoff=5,
    retry_jitter=True,
)
def recompute_portfolio() -> dict:
    """Recompute readiness, leverage, waves, progress and forecast for the whole portfolio."""
    from .services import portfolio_recompute

    summary = portfolio_recompute()
    return summary.as_dict()


@shared_task(
    name="migration_app.progress_snapshot_take",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=RECOMPUTE_SOFT_LIMIT,
    time_limit=RECOMPUTE_HARD_LIMIT,
    autoretry_for=(Exception,),
    max_retries=3,
    retry_backoff=30,
)
def progress_snapshot_take(day: str | None = None) -> int:
    """Store the progress snapshot for ``day`` (ISO date; default today in Oslo); returns rows written."""
    from .services import progress_snapshot_take as take

    return take(day=datetime.date.fromisoformat(day) if day else None)


def _enqueue_recompute_if_idle() -> None:
    """Bump the revision; queue a recompute unless one is already pending (compare-and-set)."""
    PortfolioState.objects.get_or_create(pk=1)
    claimed = PortfolioState.objects.filter(pk=1, recompute_pending=False).update(
        revision=F("revision") + 1, recompute_pending=True, recompute_claimed_at=timezone.now()
    )
    if not claimed:
        PortfolioState.objects.filter(pk=1).update(revision=F("revision") + 1)
        return
    try:
        recompute_portfolio.apply_async(
            countdown=RECOMPUTE_COALESCE_SECONDS,
            expires=RECOMPUTE_HARD_LIMIT * 2,
            retry=True,
            retry_policy=PUBLISH_FAST_RETRY_POLICY,
            # Nobody waits for this result. Without this, each call would also subscribe the web process
            # to the result's channel on the Redis result backend, which retries for ~20 s when Redis is down.
            ignore_result=True,
        )
    except Exception:
        # The broker is down. The user's change is committed and stays so; the catch-up run
        # (recompute_portfolio_if_stale, within a minute of the broker being back) or the next change
        # recomputes. Release the claim so that both know no task is queued.
        PortfolioState.objects.filter(pk=1).update(recompute_pending=False)
        logger.exception("Could not queue the portfolio recompute; the scheduled run will pick it up.")


def recompute_portfolio_request() -> None:
    """Ask for a recompute once the current transaction commits; a rollback queues nothing."""
    transaction.on_commit(_enqueue_recompute_if_idle)


@shared_task(
    name="migration_app.recompute_portfolio_if_stale",
    soft_time_limit=RECOMPUTE_SOFT_LIMIT,
    time_limit=RECOMPUTE_HARD_LIMIT,
    # Nobody reads it; and beat, which sends this while the broker may be down, must not wait on the
    # result store (a result subscription retries for ~20 s when Redis is down).
    ignore_result=True,
)
def recompute_portfolio_if_stale() -> dict | None:
    """Beat's catch-up (every minute): recompute if the results are stale and no queued task will do it.

    Covers the recomputes a broker outage swallowed: a change that could not queue one, and a queued one
    lost with a worker's broker connection. Fresh results cost one query. Not retried: the next run is
    a minute away.
    """
    from .services import portfolio_recompute_if_unserved

    summary = portfolio_recompute_if_unserved()
    return summary.as_dict() if summary is not None else None


# --- Weekly e-mail reports: a scheduler fans out one delivery per recipient --------------------------

# A delivery renders one report and talks to one SMTP server: seconds. The hard limit stays far below
# services.WEEKLY_CLAIM_TIMEOUT, so a claim is never taken over from a delivery that is still running.
WEEKLY_DELIVER_SOFT_LIMIT = 120
WEEKLY_DELIVER_HARD_LIMIT = 180
# A delivery still queued after this long is dropped; the hourly catch-up queues a fresh one.
WEEKLY_DELIVER_EXPIRES = 6 * 3600


@shared_task(
    name="migration_app.weekly_reports_fan_out",
    # Harmless twice: a second run queues deliveries that the ledger turns away.
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=RECOMPUTE_SOFT_LIMIT,
    time_limit=RECOMPUTE_HARD_LIMIT,
    autoretry_for=(Exception,),
    max_retries=3,
    retry_backoff=60,
    retry_jitter=True,
)
def weekly_reports_fan_out(iso_week: str | None = None) -> dict:
    """Queue one delivery per recipient whose report for ``iso_week`` is not sent yet.

    The default week is the last complete one, so the Monday run and every catch-up run later in the
    week target the same week. The week's digests are built and stored here first, once.
    """
    from django.utils import timezone

    from .reports import ReportWeek
    from .services import weekly_reports_prepare

    week = ReportWeek.parse(iso_week) if iso_week else ReportWeek.due(timezone.localdate())
    pending = weekly_reports_prepare(week=week)
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
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=WEEKLY_DELIVER_SOFT_LIMIT,
    time_limit=WEEKLY_DELIVER_HARD_LIMIT,
    autoretry_for=(Exception,),
    # Five attempts here (1, 2, 4, 8 minutes apart, with jitter) leave the ledger's sixth to a catch-up run.
    max_retries=4,
    retry_backoff=60,
    retry_backoff_max=3600,
    retry_jitter=True,
)
def weekly_report_deliver(user_id: int, iso_week: str) -> str:
    """Send ``user_id`` the report for ``iso_week`` unless it is sent or being sent; returns the outcome."""
    from .services import weekly_report_deliver as deliver

    return deliver(user_id=user_id, iso_week=iso_week)
