"""The programme as a whole: its deadline, the overview page's figures and the burn-up history."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
class ProgrammeOverview:
    """Everything the programme page shows from stored results, named, in a fixed number of queries."""

    overall: Mapping[str, Any] | None
    forecast: Mapping[str, Any] | None
    owners: list[OwnerProgressRow]
    leverage: list[LeverageView]
    waves: list[Mapping[str, Any]]
    cycle_count: int
    overdue_count: int
    freshness: Freshness


def programme_overview(*, leverage_limit: int = 15) -> ProgrammeOverview:
    """Queries: stored results (one), owners (one), leverage names (two), freshness (one)."""
    results = {r.kind: r.data for r in PortfolioResult.objects.all()}
    progress_data = results.get(PortfolioResult.Kind.PROGRESS) or {}
    forecast_data = results.get(PortfolioResult.Kind.FORECAST) or {}
    owners = ServiceOwner.objects.in_bulk([int(pk) for pk in progress_data.get("by_owner", {})])
    forecasts = forecast_data.get("by_owner", {})
    rows = []
    for owner_id, figures in progress_data.get("by_owner", {}).items():
        owner_forecast = forecasts.get(owner_id, {})
        rows.append(
            OwnerProgressRow(
                owner=owners[int(owner_id)],
                total_count=figures["total_count"],
                done_count=figures["done_count"],
                pct_done_count=figures["pct_done_count"],
                total_volume=figures["total_volume"],
                done_volume=figures["done_volume"],
                pct_done_volume=figures["pct_done_volume"],
                forecast_status=owner_forecast.get("status", ""),
                p85_date=datetime.date.fromisoformat(owner_forecast["p85_date"])
                if owner_forecast.get("p85_date")
                else None,
            )
        )
    # Furthest behind first: the least done by volume, then by count.
    rows.sort(key=lambda r: (r.pct_done_volume, r.pct_done_count, r.owner.code))
    wave_data = results.get(PortfolioResult.Kind.WAVES) or {}
    return ProgrammeOverview(
        overall=progress_data.get("overall"),
        forecast=forecast_data.get("overall"),
        owners=rows,
        leverage=leverage_list(limit=leverage_limit, results=results),
        waves=[
            {"number": w["number"], "count": len(w["service_ids"]), "yearly_volume": w["yearly_volume"]}
            for w in wave_data.get("waves", [])
        ],
        cycle_count=len(wave_data.get("cycle_service_ids", [])),
        overdue_count=len(progress_data.get("overdue", [])),
        freshness=portfolio_freshness(),
    )


def burnup_series() -> list[tuple[datetime.date, int, int, int, int]]:
    """(day, done count, total count, done volume, total volume) from the overall snapshots: one query."""

    return list(
        ProgressSnapshot.objects.filter(scope=ProgressSnapshot.Scope.OVERALL, scope_key="")
        .order_by("day")
        .values_list("day", "done_count", "total_count", "done_volume", "total_volume")
    )
