"""The programme's section of the weekly report, for project leads: the portfolio's week, the
organisations furthest behind and the capabilities that hold back the most."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..engine.leverage import leverage
from ..engine.lifecycle import DONE_VALUES, is_backward
from ..engine.portfolio import Portfolio
from ..engine.progress import ForecastStatus
from ..engine.readiness import BlockerKind
from .data import (
    CapabilityRef,
    DueLine,
    ForecastLine,
    LeverageLine,
    OwnerBehindLine,
    OwnerSection,
    ProgrammeSection,
    ProgressWeek,
    WeekNumbers,
)
from .inputs import CapabilityRow, ChangeRow, WeekInputs

OWNERS_BEHIND_LIMIT = 10
TOP_CAPABILITIES = 5
# "Furthest behind" reads the forecast first: late, then at risk, then no data to forecast from.
_FORECAST_SEVERITY = {
    ForecastStatus.LATE: 0,
    ForecastStatus.AT_RISK: 1,
    ForecastStatus.NO_DATA: 2,
    ForecastStatus.ON_TRACK: 3,
    ForecastStatus.DONE: 4,
}


def _is_backward(change: ChangeRow) -> bool:
    return is_backward(change.from_status, change.to_status)


def programme_section(
    inputs: WeekInputs,
    *,
    portfolio: Portfolio,
    sections: Mapping[int, OwnerSection],
    overall: ProgressWeek,
    forecast: ForecastLine,
    week_changes: Sequence[ChangeRow],
    blocked_start: Mapping[int, set[int] | frozenset[int]],
    blocked_end: Mapping[int, set[int]],
    capability_owners: Mapping[int, set[int]],
    overdue: tuple[DueLine, ...],
    overdue_total: int,
) -> ProgrammeSection:
    week = inputs.week
    behind = [
        OwnerBehindLine(
            owner=section.owner,
            total_count=section.progress.this_week.total_count,
            done_count=section.progress.this_week.done_count,
            pct_done_count=section.progress.this_week.pct_done_count,
            pct_done_volume=section.progress.this_week.pct_done_volume,
            open_count=section.open_count,
            overdue_count=section.overdue_total,
            forecast_status=section.forecast.status,
            p85_date=section.forecast.p85_date,
        )
        for section in sections.values()
        if section.open_count
    ]
    behind.sort(
        key=lambda line: (
            _FORECAST_SEVERITY.get(line.forecast_status, 2),
            line.pct_done_volume,
            line.pct_done_count,
            -line.open_count,
            line.owner.code,
        )
    )
    capabilities = {c.id: c for c in inputs.capabilities}
    top = [
        LeverageLine(
            capability=CapabilityRef(row.capability_id, row.capability_key, *_names(capabilities[row.capability_id])),
            planned_date=row.planned_date,
            transitive_count=row.transitive_count,
            transitive_volume=row.transitive_volume,
            unblocks_count=row.unblocks_count,
            owner_count=len(capability_owners.get(row.capability_id, ())),
        )
        for row in leverage(portfolio)
        if row.kind == BlockerKind.CAPABILITY and row.capability_id is not None
    ][:TOP_CAPABILITIES]

    services = portfolio.services
    reached = [c for c in week_changes if c.to_status in DONE_VALUES and c.from_status not in DONE_VALUES]
    start_all = set().union(*blocked_start.values()) if blocked_start else set()
    end_all = set().union(*blocked_end.values()) if blocked_end else set()
    numbers = WeekNumbers(
        status_changes=len(week_changes),
        services_changed=len({c.service_id for c in week_changes}),
        reached_done=len(reached),
        reached_done_volume=sum(services[c.service_id].yearly_volume for c in reached if c.service_id in services),
        moved_back=sum(1 for c in week_changes if _is_backward(c)),
        became_blocked=len(end_all - start_all),
        became_unblocked=len(start_all - end_all),
        owners_active=len({services[c.service_id].owner_id for c in week_changes if c.service_id in services}),
        capabilities_delivered=tuple(
            CapabilityRef(c.id, c.key, c.name_nb, c.name_en)
            for c in sorted(inputs.capabilities, key=lambda c: c.key)
            if c.delivered and c.delivered_date is not None and week.monday <= c.delivered_date <= week.sunday
        ),
    )
    return ProgrammeSection(
        week=week.label,
        report_day=week.report_day,
        progress=overall,
        open_count=sum(section.open_count for section in sections.values()),
        blocked_count=len(end_all),
        forecast=forecast,
        owners_behind=tuple(behind[:OWNERS_BEHIND_LIMIT]),
        owners_open=len(behind),
        top_capabilities=tuple(top),
        numbers=numbers,
        overdue=overdue,
        overdue_total=overdue_total,
    )


def _names(capability: CapabilityRow) -> tuple[str, str]:
    return capability.name_nb, capability.name_en
