"""Celery tasks: thin, explicitly named wrappers that call services (STYLE.md, after Sentry's tasks).

Both tasks are safe to run twice or concurrently: a recompute overwrites stored results with a fresh
computation and a snapshot upserts its day's rows, so they use ``acks_late`` with
``reject_on_worker_lost``: a worker killed mid-run hands the job back to the broker for another worker.
"""

from __future__ import annotations

import datetime
import logging

from celery import shared_task
from django.db import transaction
from django.db.models import F

from .models import PortfolioState

logger = logging.getLogger(__name__)

# Well below the broker's visibility timeout (settings.CELERY_BROKER_TRANSPORT_OPTIONS), so Redis
# never redelivers a job that is still running.
RECOMPUTE_SOFT_LIMIT = 300
RECOMPUTE_HARD_LIMIT = 360
# A burst of edits within this many seconds is served by one recompute.
RECOMPUTE_COALESCE_SECONDS = 2


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
        revision=F("revision") + 1, recompute_pending=True
    )
    if not claimed:
        PortfolioState.objects.filter(pk=1).update(revision=F("revision") + 1)
        return
    try:
        recompute_portfolio.apply_async(
            countdown=RECOMPUTE_COALESCE_SECONDS, expires=RECOMPUTE_HARD_LIMIT * 2, retry=False
        )
    except Exception:
        # The broker is down. The user's change is committed and stays so; the hourly beat run (or
        # the next change once the broker is back) recomputes. Release the claim so that next change
        # tries again instead of assuming a task is queued.
        PortfolioState.objects.filter(pk=1).update(recompute_pending=False)
        logger.exception("Could not queue the portfolio recompute; the scheduled run will pick it up.")


def recompute_portfolio_request() -> None:
    """Ask for a recompute once the current transaction commits; a rollback queues nothing."""
    transaction.on_commit(_enqueue_recompute_if_idle)
