"""Recompute: load once, compute with the pure engine, store (STYLE.md rule 2); and the one way to ask for it."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..engine.codec import forecast_encode, leverage_encode, progress_encode, readiness_detail_encode, waves_encode
from ..engine.leverage import leverage
from ..engine.portfolio import build_portfolio, gc_paused
from ..engine.progress import FORECAST_WINDOW_WEEKS, forecast_report, overdue, progress
from ..engine.readiness import Readiness, readiness_all
from ..engine.waves import waves
from ..models import (
    PortfolioResult,
    PortfolioState,
    ServiceReadiness,
)
from ..selectors.engine_inputs import done_arrivals_load, portfolio_load
from ..selectors.programme import deadline_date
from .task_queue import task_send

logger = logging.getLogger(__name__)

# The recompute task's name (tasks.py registers it under this name; services send it by name).
RECOMPUTE_TASK = "migration_app.recompute_portfolio"
# Well below the broker's visibility timeout (settings.CELERY_BROKER_TRANSPORT_OPTIONS), so Redis
# never redelivers a job that is still running. tasks.py gives the recompute tasks these limits.
RECOMPUTE_SOFT_LIMIT = 300
RECOMPUTE_HARD_LIMIT = 360
# A burst of edits within this many seconds is served by one recompute.
RECOMPUTE_COALESCE_SECONDS = 2
# Queueing happens inside the user's request, so with the broker down it must fail at once. retry=False
# does not do that (kombu still spends its connect timeout reconnecting: ~6 s a call); one immediate retry
# replaces a pooled connection that Redis closed, and nothing more.
PUBLISH_FAST_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}


def portfolio_recompute_request() -> None:
    """Ask for a recompute of readiness and forecasts once the current transaction commits.

    The one way every writer (services, imports, the demo, the catalog transfer) says "the portfolio
    changed". A rollback queues nothing; a burst of changes queues one coalesced task.
    """
    transaction.on_commit(_recompute_claim_and_queue)


def _recompute_claim_and_queue() -> None:
    """Bump the revision; queue a recompute unless one is already pending (compare-and-set)."""
    PortfolioState.objects.singleton().get_or_create()
    claimed = (
        PortfolioState.objects.singleton()
        .filter(recompute_pending=False)
        .update(revision=F("revision") + 1, recompute_pending=True, recompute_claimed_at=timezone.now())
    )
    if not claimed:
        PortfolioState.objects.singleton().update(revision=F("revision") + 1)
        return
    try:
        task_send(
            RECOMPUTE_TASK,
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
        PortfolioState.objects.singleton().update(recompute_pending=False)
        logger.exception("Could not queue the portfolio recompute; the scheduled run will pick it up.")


@dataclass(frozen=True)
class RecomputeSummary:
    revision: int
    services: int
    edges: int
    by_state: dict[str, int]
    readiness_rows_written: int
    stored: bool
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _readiness_fingerprint(r: Readiness) -> str:
    """A digest of everything stored for a service's readiness (this runs 100,000 times a recompute).

    Stable across processes (unlike hash()). Most services have no blockers: their verdict is a short
    string of state and score parts, stored as it is; the rest hash the repr of plain tuples, several
    times cheaper than the dataclasses' generated repr.
    """
    points = ":".join(str(p) for _, p in r.score_parts)
    if not r.blockers and not r.capability_blocker_count and not r.service_blocker_count:
        return f"{r.state}:{r.score}:{points}"
    blockers = tuple((b.kind, b.capability_id, b.service_id, b.path, b.planned_date, b.missing) for b in r.blockers)
    key = repr((r.state, r.score, points, blockers, r.capability_blocker_count, r.service_blocker_count))
    return hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


def portfolio_recompute(
    *, today: datetime.date | None = None, on_step: Callable[[str, float], None] | None = None
) -> RecomputeSummary:
    """Recompute readiness, leverage, waves, progress and forecast for everything, and store them.

    Safe to run twice or concurrently: results are a function of the data read, every store
    overwrites, and a run that read an older revision than the stored results does not store.
    ``on_step(name, seconds)`` is told as each phase finishes (the command prints it as progress).
    """
    started = time.perf_counter()
    mark = started

    def step(name: str) -> None:
        nonlocal mark
        if on_step is not None:
            now = time.perf_counter()
            on_step(name, now - mark)
            mark = now

    today = today or timezone.localdate()
    deadline = deadline_date()
    PortfolioState.objects.singleton().get_or_create()
    # Clear the pending flag before reading, so a change committed from now on queues another run.
    PortfolioState.objects.singleton().update(recompute_pending=False)
    revision = PortfolioState.objects.singleton().values_list("revision", flat=True).get()

    # The load and the engine allocate millions of small objects and create no reference cycles:
    # without the collector's repeated full passes the whole run is markedly faster at 100,000.
    with gc_paused():
        return _portfolio_recompute(revision=revision, today=today, deadline=deadline, step=step, started=started)


# A queued recompute starts seconds after its claim (RECOMPUTE_COALESCE_SECONDS, then a free worker).
# A claim held much longer than that lost its task: a worker that loses its broker connection drops the
# countdown tasks it holds (Redis hands them out again only after the visibility timeout, an hour).
RECOMPUTE_CLAIM_LOST_AFTER = datetime.timedelta(minutes=1)


def portfolio_recompute_if_unserved(*, now: datetime.datetime | None = None) -> RecomputeSummary | None:
    """Recompute when the stored results are stale and no queued recompute is going to refresh them.

    That is when nothing is claimed (a change could not queue its recompute because the broker was down,
    and released the claim), or when the claim is older than RECOMPUTE_CLAIM_LOST_AFTER. Otherwise one
    query and nothing else. Should a slow queue still start the claimed task later, the two runs are
    harmless together (see portfolio_recompute), only wasted work.
    """
    state = PortfolioState.objects.singleton().first()
    if state is None or state.is_fresh:
        return None
    now = now or timezone.now()
    claimed_at = state.recompute_claimed_at
    if state.recompute_pending and claimed_at is not None and claimed_at > now - RECOMPUTE_CLAIM_LOST_AFTER:
        return None
    logger.info(
        "Results are stale (revision %s, computed %s) and no recompute is on its way: recomputing now.",
        state.revision,
        state.computed_revision,
    )
    return portfolio_recompute()


def _portfolio_recompute(
    *,
    revision: int,
    today: datetime.date,
    deadline: datetime.date | None,
    step: Callable[[str], None],
    started: float,
) -> RecomputeSummary:
    services, capabilities, edges = portfolio_load()
    step("load services, capabilities and dependencies")
    portfolio = build_portfolio(services, capabilities, edges)
    readiness = readiness_all(portfolio)
    step("readiness")
    results: dict[str, Any] = {
        PortfolioResult.Kind.LEVERAGE: leverage_encode(leverage(portfolio)),
        PortfolioResult.Kind.WAVES: waves_encode(waves(portfolio)),
    }
    step("leverage and waves")
    results[PortfolioResult.Kind.PROGRESS] = progress_encode(
        progress(services, edges=edges, capabilities=capabilities), overdue=overdue(services, today)
    )
    results[PortfolioResult.Kind.FORECAST] = forecast_encode(
        forecast_report(
            done_arrivals_load(since=today - datetime.timedelta(weeks=FORECAST_WINDOW_WEEKS + 1)),
            services,
            today=today,
            deadline=deadline,
            weeks=FORECAST_WINDOW_WEEKS,
        )
        if deadline
        else None
    )
    step("progress and forecast")
    stored, written = _portfolio_results_store(revision=revision, readiness=readiness, results=results)
    step("store")
    by_state: dict[str, int] = {}
    for r in readiness.values():
        by_state[r.state] = by_state.get(r.state, 0) + 1
    return RecomputeSummary(
        revision=revision,
        services=len(services),
        edges=len(edges),
        by_state=by_state,
        readiness_rows_written=written,
        stored=stored,
        seconds=round(time.perf_counter() - started, 3),
    )


@transaction.atomic
def _portfolio_results_store(
    *, revision: int, readiness: Mapping[int, Readiness], results: Mapping[str, Any]
) -> tuple[bool, int]:
    """Write what changed; returns (stored, readiness rows written). Serialised on the state row."""
    state = PortfolioState.objects.singleton().select_for_update().get()
    if state.computed_revision is not None and state.computed_revision > revision:
        return False, 0  # A run that read newer data has already stored its results.
    now = timezone.now()
    stored_prints = dict(ServiceReadiness.objects.values_list("service_id", "fingerprint"))
    changed = []
    for sid, r in readiness.items():
        fingerprint = _readiness_fingerprint(r)
        if stored_prints.get(sid) != fingerprint:
            changed.append(
                ServiceReadiness(
                    service_id=sid,
                    state=r.state,
                    score=r.score,
                    detail=readiness_detail_encode(r),
                    fingerprint=fingerprint,
                    computed_at=now,
                )
            )
    ServiceReadiness.objects.bulk_create(
        changed,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["service"],
        update_fields=["state", "score", "detail", "fingerprint", "computed_at"],
    )
    for kind, data in results.items():
        PortfolioResult.objects.update_or_create(
            kind=kind, defaults={"data": data, "revision": revision, "computed_at": now}
        )
    PortfolioState.objects.singleton().update(computed_revision=revision, computed_at=now)
    return True, len(changed)
