"""The portfolio as it stood at the end of a past day, replayed from the stored history: statuses,
dependency graph, progress figures and the forecast as of the report day (see ``build`` for the rules)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from ..engine.portfolio import CapabilityNode, Edge, Portfolio, ServiceNode, build_portfolio
from ..engine.progress import Forecast, ForecastStatus, StatusEvent, StatusTally, forecast_report
from ..engine.readiness import Readiness, ReadinessState
from .data import Figures, ForecastLine
from .inputs import CapabilityRow, SnapshotRow, WeekInputs

# The forecast line shows this many of the last weeks' throughput.
RECENT_THROUGHPUT_WEEKS = 8


def _capability_delivered_by(capability: CapabilityRow, day: datetime.date) -> bool:
    return capability.delivered and (capability.delivered_date is None or capability.delivered_date <= day)


def portfolio_at(inputs: WeekInputs, statuses: Mapping[int, str], day: datetime.date) -> Portfolio:
    """The dependency graph as it stood at the end of ``day`` (as far as the history tells)."""
    return build_portfolio(
        (
            ServiceNode(s.id, s.owner_id, s.service_type, statuses[s.id], s.target, s.target_date, s.yearly_volume)
            for s in inputs.services
            if s.created_on <= day
        ),
        (CapabilityNode(c.id, c.key, _capability_delivered_by(c, day), c.planned_date) for c in inputs.capabilities),
        (Edge(e.service_id, e.on_service_id, e.on_capability_id, e.hard) for e in inputs.edges if e.created_on <= day),
    )


def blocked_by_owner(portfolio: Portfolio, readiness: Mapping[int, Readiness]) -> dict[int, set[int]]:
    blocked: dict[int, set[int]] = defaultdict(set)
    for sid, verdict in readiness.items():
        if verdict.state == ReadinessState.BLOCKED:
            blocked[portfolio.services[sid].owner_id].add(sid)
    return blocked


# --- Progress figures --------------------------------------------------------------------------------


def _replayed_figures(tally: StatusTally) -> Figures:
    figures = tally.figures()
    return Figures(
        total_count=figures.total_count,
        done_count=figures.done_count,
        total_volume=figures.total_volume,
        done_volume=figures.done_volume,
        by_status=tuple(figures.count_by_status.items()),
        from_snapshot=False,
    )


def _snapshot_figures(row: SnapshotRow) -> Figures:
    return Figures(row.total_count, row.done_count, row.total_volume, row.done_volume, row.by_status, True)


class FiguresAt:
    """Figures per owner (and overall) at the end of one day: the snapshot when stored, else replayed."""

    def __init__(
        self, inputs: WeekInputs, statuses: Mapping[int, str], day: datetime.date, snapshots: Mapping[Any, SnapshotRow]
    ) -> None:
        self.day = day
        self.snapshots = snapshots
        self.overall = StatusTally()
        self.by_owner: dict[int, StatusTally] = defaultdict(StatusTally)
        for s in inputs.services:
            if s.created_on <= day:
                status = statuses[s.id]
                self.overall.add(status, s.yearly_volume)
                self.by_owner[s.owner_id].add(status, s.yearly_volume)

    def get(self, owner_id: int | None) -> Figures:
        stored = self.snapshots.get((self.day, owner_id))
        if stored is not None:
            return _snapshot_figures(stored)
        tally = self.overall if owner_id is None else self.by_owner.get(owner_id, StatusTally())
        return _replayed_figures(tally)


# --- Forecast ----------------------------------------------------------------------------------------


def forecast_line(forecast: Forecast | None, *, open_count: int, deadline: datetime.date | None) -> ForecastLine:
    if forecast is None:
        status = ForecastStatus.DONE if open_count == 0 else ForecastStatus.NO_DATA
        return ForecastLine(status, open_count, deadline, None, None, 0.0, None, ())
    throughput = tuple(forecast.weekly_throughput)
    return ForecastLine(
        status=forecast.status,
        open_count=forecast.open_count,
        deadline=forecast.deadline or deadline,
        p50_date=forecast.p50_date,
        p85_date=forecast.p85_date,
        mean_weekly_throughput=forecast.mean_weekly_throughput,
        as_of=forecast.today,
        recent_throughput=throughput[-RECENT_THROUGHPUT_WEEKS:],
    )


def forecasts(
    inputs: WeekInputs, statuses: Mapping[int, str], end: datetime.date
) -> tuple[Forecast | None, Mapping[int, Forecast]]:
    """(overall, {owner id: ...}) forecasts: the stored ones, or computed as of the report day."""
    if inputs.stored_forecast is not None:
        return inputs.stored_forecast.overall, inputs.stored_forecast.by_owner
    if inputs.deadline is None:
        return None, {}
    report_day = inputs.week.report_day
    events = [StatusEvent(c.service_id, c.to_status, c.on, c.from_status) for c in inputs.changes if c.on < report_day]
    nodes = [
        ServiceNode(s.id, s.owner_id, s.service_type, statuses[s.id], s.target, s.target_date, s.yearly_volume)
        for s in inputs.services
        if s.created_on <= end
    ]
    report = forecast_report(
        events, nodes, today=report_day, deadline=inputs.deadline, weeks=inputs.forecast_window_weeks
    )
    return report.overall, report.by_owner
