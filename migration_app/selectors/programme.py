"""The programme as a whole: its deadline, the overview page's figures and the burn-up history."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from ..engine.codec import forecast_decode, leverage_decode, progress_decode, waves_decode
from ..engine.progress import Forecast, ProgressFigures
from ..models import (
    Milestone,
    PortfolioResult,
    ProgressSnapshot,
    ServiceOwner,
)
from .results import Freshness, LeverageView, leverage_list, portfolio_freshness


def deadline_date() -> datetime.date | None:
    """The date forecasts are measured against: the deadline milestone, else the latest milestone."""
    milestone = Milestone.objects.order_by("-is_deadline", "-date").first()
    return milestone.date if milestone else None


@dataclass(frozen=True)
class OwnerProgressRow:
    owner: ServiceOwner
    total_count: int
    done_count: int
    pct_done_count: float
    total_volume: int
    done_volume: int
    pct_done_volume: float
    forecast_status: str
    p85_date: datetime.date | None


@dataclass(frozen=True)
class WaveRow:
    number: int
    count: int
    yearly_volume: int


@dataclass(frozen=True)
class ProgrammeOverview:
    """Everything the programme page shows from stored results, named, in a fixed number of queries."""

    overall: ProgressFigures | None
    forecast: Forecast | None
    owners: list[OwnerProgressRow]
    leverage: list[LeverageView]
    waves: list[WaveRow]
    cycle_count: int
    overdue_count: int
    freshness: Freshness


def programme_overview(*, leverage_limit: int = 15) -> ProgrammeOverview:
    """Queries: stored results (one), owners (one), leverage names (two), freshness (one)."""
    results = {r.kind: r.data for r in PortfolioResult.objects.all()}
    progress = progress_decode(results.get(PortfolioResult.Kind.PROGRESS))
    forecast = forecast_decode(results.get(PortfolioResult.Kind.FORECAST))
    by_owner = progress.progress.by_owner if progress else {}
    forecasts = forecast.by_owner if forecast else {}
    owners = ServiceOwner.objects.in_bulk(list(by_owner))
    rows = []
    for owner_id, figures in by_owner.items():
        owner_forecast = forecasts.get(owner_id)
        rows.append(
            OwnerProgressRow(
                owner=owners[owner_id],
                total_count=figures.total_count,
                done_count=figures.done_count,
                pct_done_count=figures.pct_done_count,
                total_volume=figures.total_volume,
                done_volume=figures.done_volume,
                pct_done_volume=figures.pct_done_volume,
                forecast_status=owner_forecast.status if owner_forecast else "",
                p85_date=owner_forecast.p85_date if owner_forecast else None,
            )
        )
    # Furthest behind first: the least done by volume, then by count.
    rows.sort(key=lambda r: (r.pct_done_volume, r.pct_done_count, r.owner.code))
    plan = waves_decode(results.get(PortfolioResult.Kind.WAVES))
    return ProgrammeOverview(
        overall=progress.progress.overall if progress else None,
        forecast=forecast.overall if forecast else None,
        owners=rows,
        leverage=leverage_list(rows=leverage_decode(results.get(PortfolioResult.Kind.LEVERAGE), limit=leverage_limit)),
        waves=[WaveRow(number=w.number, count=len(w.service_ids), yearly_volume=w.yearly_volume) for w in plan.waves],
        cycle_count=len(plan.cycle_service_ids),
        overdue_count=len(progress.overdue) if progress else 0,
        freshness=portfolio_freshness(),
    )


def burnup_series() -> list[tuple[datetime.date, int, int, int, int]]:
    """(day, done count, total count, done volume, total volume) from the overall snapshots: one query."""

    return list(
        ProgressSnapshot.objects.filter(scope=ProgressSnapshot.Scope.OVERALL, scope_key="")
        .order_by("day")
        .values_list("day", "done_count", "total_count", "done_volume", "total_volume")
    )


# Burn-up points: at most one a week, and never more than this many measured weeks (the page's table
# alternative lists each of them).
BURNUP_MAX_WEEKS = 120
# The axis goes on in empty weeks to the deadline or the forecast, but never past this many points.
BURNUP_MAX_POINTS = BURNUP_MAX_WEEKS + 60


@dataclass(frozen=True)
class BurnupWeek:
    """One measured week of the burn-up: the overall snapshot of the week's last day."""

    day: datetime.date
    done_count: int
    total_count: int
    done_volume: int
    total_volume: int


@dataclass(frozen=True)
class Burnup:
    """The programme's burn-up: the measured weeks, and the chart's axis running on to its horizon."""

    weeks: tuple[BurnupWeek, ...]
    # The measured weeks' days, then empty weeks up to the latest of the deadline, P50 and P85.
    days: tuple[datetime.date, ...]
    deadline: datetime.date | None
    p50: datetime.date | None
    p85: datetime.date | None


def programme_burnup(*, forecast: Forecast | None) -> Burnup | None:
    """The burn-up from the daily overall snapshots, None before the first one.

    ``forecast`` is the stored overall forecast (``ProgrammeOverview.forecast``), for its P50 and P85.
    Queries: the snapshots (one) and, when there are any, the deadline (one).
    """
    series = burnup_series()
    if not series:
        return None
    deadline = deadline_date()
    # Every seventh day counted back from the latest, so the last point is always today's figures.
    weeks = [
        BurnupWeek(day=day, done_count=done, total_count=total, done_volume=done_volume, total_volume=total_volume)
        for index, (day, done, total, done_volume, total_volume) in enumerate(series)
        if index % 7 == (len(series) - 1) % 7
    ][-BURNUP_MAX_WEEKS:]
    p50 = forecast.p50_date if forecast else None
    p85 = forecast.p85_date if forecast else None
    horizon = max(d for d in (series[-1][0], deadline, p85, p50) if d is not None)
    days = [week.day for week in weeks]
    day = days[-1]
    while day < horizon and len(days) < BURNUP_MAX_POINTS:
        day += datetime.timedelta(days=7)
        days.append(day)
    return Burnup(weeks=tuple(weeks), days=tuple(days), deadline=deadline, p50=p50, p85=p85)


def milestones_list() -> list[Milestone]:
    """The programme's milestones by date (the model's ordering): one query."""
    return list(Milestone.objects.all())
