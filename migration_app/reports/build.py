"""The weekly report builder: plain loaded data in, one digest per organisation and one for the programme out.

Pure (STYLE.md rule 2): ``selectors.weekly_report_inputs_load`` reads everything in a fixed number
of queries, ``week_digests`` computes every organisation's section and the programme's in one pass,
``weekly_report`` picks one recipient's sections, and ``emails.py`` renders them.

Every figure is a function of the stored history, so rebuilding a week gives the same report:

* **Statuses at the end of a day** are today's statuses with every later change undone (each
  service takes the ``from_status`` of its first change after that day).
* **Progress** comes from the day's stored ``ProgressSnapshot`` (end of Sunday); when that snapshot
  is missing it is counted from the replayed statuses instead (``Figures.from_snapshot`` says which).
* **Readiness at the end of a week** is the engine's ``readiness_all`` over the portfolio as it was:
  replayed statuses, the edges created by then, capabilities delivered by then. "Became blocked /
  unblocked" compares it with the end of the previous week, taken from that week's stored digest
  (which also knows about edges deleted since) or, for the first week, replayed the same way.
* **Forecast** is the stored portfolio forecast when it was computed during the sending week (the
  normal Monday run), otherwise the same ``forecast_report`` run as of the report day.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.graph import (
    BlockerKind,
    CapabilityNode,
    Edge,
    Portfolio,
    Readiness,
    ReadinessState,
    ServiceNode,
    build_portfolio,
    leverage,
    readiness_all,
)
from ..engine.lifecycle import DONE, FORWARD_ORDER, TERMINAL_OUTCOMES
from ..engine.progress import STATUS_ORDER, StatusEvent, forecast_report
from .data import (
    LIST_LIMIT,
    NAMED_LIMIT,
    BlockingLine,
    CapabilityBlockerLine,
    CapabilityRef,
    DueLine,
    Figures,
    ForecastLine,
    LeverageLine,
    OwnerBehindLine,
    OwnerRef,
    OwnerSection,
    ProgrammeSection,
    ProgressWeek,
    ReadinessLine,
    ServiceBlockerLine,
    ServiceRef,
    StatusChangeLine,
    WeeklyReport,
    WeekNumbers,
)
from .weeks import ReportWeek

_DONE: frozenset[str] = frozenset(str(s) for s in DONE)
_FORWARD_INDEX = {str(s): i for i, s in enumerate(FORWARD_ORDER)}
_TERMINAL: frozenset[str] = frozenset(str(s) for s in TERMINAL_OUTCOMES)
DUE_SOON_DAYS = 30
OWNERS_BEHIND_LIMIT = 10
TOP_CAPABILITIES = 5
RECENT_THROUGHPUT_WEEKS = 8
# "Furthest behind" reads the forecast first: late, then at risk, then no data to forecast from.
_FORECAST_SEVERITY = {"late": 0, "at_risk": 1, "no_data": 2, "on_track": 3, "done": 4}


# --- Inputs ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceRow:
    id: int
    owner_id: int
    service_code: str
    edition_code: int
    name_nb: str
    name_en: str
    service_type: str
    status: str  # today
    target: str
    target_date: datetime.date | None
    yearly_volume: int
    created_on: datetime.date


@dataclass(frozen=True, slots=True)
class CapabilityRow:
    id: int
    key: str
    name_nb: str
    name_en: str
    delivered: bool  # today
    planned_date: datetime.date | None
    delivered_date: datetime.date | None


@dataclass(frozen=True, slots=True)
class EdgeRow:
    service_id: int
    on_service_id: int | None
    on_capability_id: int | None
    hard: bool
    created_on: datetime.date


@dataclass(frozen=True, slots=True)
class ChangeRow:
    service_id: int
    at: datetime.datetime
    on: datetime.date  # local (Oslo) date
    from_status: str
    to_status: str
    by: str  # the person's name, "" for the system


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    day: datetime.date
    owner_id: int | None  # None: the whole portfolio
    total_count: int
    done_count: int
    total_volume: int
    done_volume: int
    by_status: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class WeekInputs:
    """Everything one week's reports are built from (see ``selectors.weekly_report_inputs_load``).

    ``changes`` holds every status change on or after ``changes_since`` (oldest first), which must be
    no later than the Monday of the previous week. ``previous_blocked`` is {owner id: blocked service
    ids} from last week's digests, or None when last week has none.
    """

    week: ReportWeek
    deadline: datetime.date | None
    owners: Sequence[OwnerRef]
    services: Sequence[ServiceRow]
    capabilities: Sequence[CapabilityRow]
    edges: Sequence[EdgeRow]
    changes: Sequence[ChangeRow]
    changes_since: datetime.date
    snapshots: Sequence[SnapshotRow]
    stored_forecast: Mapping[str, Any] | None
    previous_blocked: Mapping[int, frozenset[int]] | None
    forecast_window_weeks: int = 26


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    email: str
    name: str
    language: str
    is_lead: bool
    owner_ids: tuple[int, ...]
    receive_weekly: bool = True

    @property
    def kind(self) -> str:
        return "programme" if self.is_lead else "owner"


@dataclass(frozen=True)
class WeekDigests:
    """One week's sections: the programme's, and every organisation's with its blocked services."""

    week: ReportWeek
    programme: ProgrammeSection | None
    owners: Mapping[int, OwnerSection]
    blocked: Mapping[int, tuple[int, ...]]


# --- Replaying the history ---------------------------------------------------------------------------


def statuses_at(current: Mapping[int, str], changes: Sequence[ChangeRow], day: datetime.date) -> dict[int, str]:
    """Every service's status at the end of ``day``: today's, with each change after that day undone.

    ``changes`` must be oldest first and complete from ``day`` + 1 on.
    """
    statuses = dict(current)
    undone: set[int] = set()
    for change in changes:
        if change.on > day and change.service_id not in undone:
            undone.add(change.service_id)
            if change.service_id in statuses:
                statuses[change.service_id] = change.from_status
    return statuses


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


def _blocked_by_owner(portfolio: Portfolio, readiness: Mapping[int, Readiness]) -> dict[int, set[int]]:
    blocked: dict[int, set[int]] = defaultdict(set)
    for sid, verdict in readiness.items():
        if verdict.state == ReadinessState.BLOCKED:
            blocked[portfolio.services[sid].owner_id].add(sid)
    return blocked


# --- Progress figures --------------------------------------------------------------------------------


class _Tally:
    __slots__ = ("counts", "volumes")

    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(STATUS_ORDER, 0)
        self.volumes: dict[str, int] = dict.fromkeys(STATUS_ORDER, 0)

    def add(self, status: str, volume: int) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        self.volumes[status] = self.volumes.get(status, 0) + volume

    def figures(self) -> Figures:
        return Figures(
            total_count=sum(self.counts.values()),
            done_count=sum(n for s, n in self.counts.items() if s in _DONE),
            total_volume=sum(self.volumes.values()),
            done_volume=sum(v for s, v in self.volumes.items() if s in _DONE),
            by_status=tuple(self.counts.items()),
            from_snapshot=False,
        )


def _snapshot_figures(row: SnapshotRow) -> Figures:
    return Figures(row.total_count, row.done_count, row.total_volume, row.done_volume, row.by_status, True)


class _FiguresAt:
    """Figures per owner (and overall) at the end of one day: the snapshot when stored, else replayed."""

    def __init__(
        self, inputs: WeekInputs, statuses: Mapping[int, str], day: datetime.date, snapshots: Mapping[Any, SnapshotRow]
    ) -> None:
        self.day = day
        self.snapshots = snapshots
        self.overall = _Tally()
        self.by_owner: dict[int, _Tally] = defaultdict(_Tally)
        for s in inputs.services:
            if s.created_on <= day:
                status = statuses[s.id]
                self.overall.add(status, s.yearly_volume)
                self.by_owner[s.owner_id].add(status, s.yearly_volume)

    def get(self, owner_id: int | None) -> Figures:
        stored = self.snapshots.get((self.day, owner_id))
        if stored is not None:
            return _snapshot_figures(stored)
        tally = self.overall if owner_id is None else self.by_owner.get(owner_id, _Tally())
        return tally.figures()


# --- Forecast ----------------------------------------------------------------------------------------


def _date(value: Any) -> datetime.date | None:
    if value is None or isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(value)


def _forecast_line(data: Mapping[str, Any] | None, *, open_count: int, deadline: datetime.date | None) -> ForecastLine:
    if not data:
        status = "done" if open_count == 0 else "no_data"
        return ForecastLine(status, open_count, deadline, None, None, 0.0, None, ())
    throughput = tuple((str(week), int(n)) for week, n in data.get("weekly_throughput", ()))
    return ForecastLine(
        status=data["status"],
        open_count=data.get("open_count", open_count),
        deadline=_date(data.get("deadline")) or deadline,
        p50_date=_date(data.get("p50_date")),
        p85_date=_date(data.get("p85_date")),
        mean_weekly_throughput=float(data.get("mean_weekly_throughput", 0.0)),
        as_of=_date(data.get("today")),
        recent_throughput=throughput[-RECENT_THROUGHPUT_WEEKS:],
    )


def _forecasts(
    inputs: WeekInputs, statuses: Mapping[int, str], end: datetime.date
) -> tuple[Mapping[str, Any] | None, dict[int, Mapping[str, Any]]]:
    """(overall, {owner id: ...}) forecast dicts: the stored ones, or computed as of the report day."""
    if inputs.stored_forecast and "overall" in inputs.stored_forecast:
        stored = inputs.stored_forecast
        return stored["overall"], {int(k): v for k, v in stored.get("by_owner", {}).items()}
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
    return report.overall.to_dict(), {owner: f.to_dict() for owner, f in report.by_owner.items()}


# --- The builder -------------------------------------------------------------------------------------


def _is_backward(change: ChangeRow) -> bool:
    if change.from_status in _TERMINAL:
        return change.to_status not in _TERMINAL  # reopened
    before, after = _FORWARD_INDEX.get(change.from_status), _FORWARD_INDEX.get(change.to_status)
    return before is not None and after is not None and after < before


def week_digests(inputs: WeekInputs) -> WeekDigests:
    """Every organisation's section and the programme's for ``inputs.week``, in one pass."""
    week = inputs.week
    end, end_last, end_before = week.sunday, week.previous.sunday, week.previous.previous.sunday
    report_day = week.report_day
    if inputs.changes_since > end_before + datetime.timedelta(days=1):
        raise ValueError("the history must reach back to the Monday of the previous week")

    owners = {o.id: o for o in inputs.owners}
    services = {s.id: s for s in inputs.services}
    current = {s.id: s.status for s in inputs.services}
    status_end = statuses_at(current, inputs.changes, end)
    snapshots = {(row.day, row.owner_id): row for row in inputs.snapshots}
    figures_end = _FiguresAt(inputs, status_end, end, snapshots)
    figures_last = _FiguresAt(inputs, statuses_at(current, inputs.changes, end_last), end_last, snapshots)
    figures_before = _FiguresAt(inputs, statuses_at(current, inputs.changes, end_before), end_before, snapshots)

    portfolio = portfolio_at(inputs, status_end, end)
    readiness = readiness_all(portfolio)
    blocked_end = _blocked_by_owner(portfolio, readiness)
    if inputs.previous_blocked is not None:
        blocked_start: Mapping[int, set[int] | frozenset[int]] = inputs.previous_blocked
    else:
        status_last = statuses_at(current, inputs.changes, end_last)
        portfolio_last = portfolio_at(inputs, status_last, end_last)
        blocked_start = _blocked_by_owner(portfolio_last, readiness_all(portfolio_last))

    ref_cache: dict[int, ServiceRef] = {}

    def ref(sid: int) -> ServiceRef:
        found = ref_cache.get(sid)
        if found is None:
            s = services[sid]
            found = ref_cache[sid] = ServiceRef(
                s.id, s.service_code, s.edition_code, s.name_nb, s.name_en, owners[s.owner_id]
            )
        return found

    def ref_key(sid: int) -> tuple[str, int]:
        return services[sid].service_code, services[sid].edition_code

    capabilities = {c.id: c for c in inputs.capabilities}

    def capability_ref(cid: int) -> CapabilityRef:
        c = capabilities[cid]
        return CapabilityRef(c.id, c.key, c.name_nb, c.name_en)

    # Who waits for what, from the end-of-week readiness: per owner, its capability and foreign
    # service blockers; and per owner, which of its services other owners' services wait for.
    waits_capability: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    waits_foreign: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    blocks_foreign: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    capability_owners: dict[int, set[int]] = defaultdict(set)
    for sid, verdict in readiness.items():
        if verdict.state != ReadinessState.BLOCKED:
            continue
        owner_id = services[sid].owner_id
        for blocker in verdict.blockers:
            if blocker.kind == BlockerKind.CAPABILITY and blocker.capability_id is not None:
                waits_capability[owner_id][blocker.capability_id].add(sid)
                capability_owners[blocker.capability_id].add(owner_id)
            elif blocker.kind == BlockerKind.SERVICE and blocker.service_id is not None:
                blocker_owner = services[blocker.service_id].owner_id
                if blocker_owner != owner_id:
                    waits_foreign[owner_id][blocker.service_id].add(sid)
                    blocks_foreign[blocker_owner][blocker.service_id].add(sid)

    week_changes = [c for c in inputs.changes if week.monday <= c.on <= end and c.service_id in services]
    changes_by_owner: dict[int, list[ChangeRow]] = defaultdict(list)
    for change in week_changes:
        changes_by_owner[services[change.service_id].owner_id].append(change)

    overdue_all: list[tuple[datetime.date, tuple[str, int], int]] = []
    due_soon_by_owner: dict[int, list[tuple[datetime.date, tuple[str, int], int]]] = defaultdict(list)
    overdue_by_owner: dict[int, list[tuple[datetime.date, tuple[str, int], int]]] = defaultdict(list)
    open_by_owner: dict[int, int] = defaultdict(int)
    horizon = report_day + datetime.timedelta(days=DUE_SOON_DAYS)
    for sid in portfolio.services:
        s = services[sid]
        if status_end[sid] in _DONE:
            continue
        open_by_owner[s.owner_id] += 1
        if s.target_date is None:
            continue
        item = (s.target_date, ref_key(sid), sid)
        if s.target_date < report_day:
            overdue_by_owner[s.owner_id].append(item)
            overdue_all.append(item)
        elif s.target_date <= horizon:
            due_soon_by_owner[s.owner_id].append(item)

    def due_lines(items: list[tuple[datetime.date, tuple[str, int], int]]) -> tuple[DueLine, ...]:
        return tuple(
            DueLine(ref(sid), target, status_end[sid], abs((report_day - target).days))
            for target, _, sid in sorted(items)[:LIST_LIMIT]
        )

    def readiness_lines(ids: Iterable[int]) -> tuple[ReadinessLine, ...]:
        lines = []
        for sid in sorted((sid for sid in ids if sid in readiness), key=ref_key)[:LIST_LIMIT]:
            verdict = readiness[sid]
            lines.append(ReadinessLine(ref(sid), verdict.state, verdict.blocker_count))
        return tuple(lines)

    overall_forecast, owner_forecasts = _forecasts(inputs, status_end, end)
    forecast_lines = {
        owner_id: _forecast_line(
            owner_forecasts.get(owner_id), open_count=open_by_owner.get(owner_id, 0), deadline=inputs.deadline
        )
        for owner_id in owners
    }

    sections: dict[int, OwnerSection] = {}
    for owner_id, owner in owners.items():
        changes = changes_by_owner.get(owner_id, [])
        start_set = set(blocked_start.get(owner_id, ()))
        end_set = blocked_end.get(owner_id, set())
        capability_lines = sorted(
            (
                CapabilityBlockerLine(
                    capability=capability_ref(cid),
                    planned_date=capabilities[cid].planned_date,
                    late=capabilities[cid].planned_date is not None and capabilities[cid].planned_date < report_day,
                    waiting_count=len(waiting),
                    waiting=tuple(ref(sid) for sid in sorted(waiting, key=ref_key)[:NAMED_LIMIT]),
                )
                for cid, waiting in waits_capability.get(owner_id, {}).items()
            ),
            key=lambda line: (-line.waiting_count, line.planned_date or datetime.date.max, line.capability.key),
        )
        foreign_lines = sorted(
            (
                ServiceBlockerLine(
                    service=ref(blocker),
                    waiting_count=len(waiting),
                    waiting=tuple(ref(sid) for sid in sorted(waiting, key=ref_key)[:NAMED_LIMIT]),
                )
                for blocker, waiting in waits_foreign.get(owner_id, {}).items()
            ),
            key=lambda line: (-line.waiting_count, line.service.code, line.service.edition),
        )
        blocking_lines = sorted(
            (
                BlockingLine(
                    service=ref(ours),
                    waiting_count=len(waiting),
                    waiting=tuple(ref(sid) for sid in sorted(waiting, key=ref_key)[:NAMED_LIMIT]),
                    owners=tuple(sorted({owners[services[sid].owner_id] for sid in waiting}, key=lambda o: o.code)),
                )
                for ours, waiting in blocks_foreign.get(owner_id, {}).items()
            ),
            key=lambda line: (-line.waiting_count, line.service.code, line.service.edition),
        )
        sections[owner_id] = OwnerSection(
            owner=owner,
            week=week.label,
            report_day=report_day,
            progress=ProgressWeek(figures_end.get(owner_id), figures_last.get(owner_id), figures_before.get(owner_id)),
            open_count=open_by_owner.get(owner_id, 0),
            blocked_count=len(end_set),
            changes=tuple(
                StatusChangeLine(ref(c.service_id), c.from_status, c.to_status, c.at, c.by)
                for c in changes[:LIST_LIMIT]
            ),
            changes_total=len(changes),
            became_blocked=readiness_lines(end_set - start_set),
            became_unblocked=readiness_lines(start_set - end_set),
            capability_blockers=tuple(capability_lines[:LIST_LIMIT]),
            service_blockers=tuple(foreign_lines[:LIST_LIMIT]),
            blocking_others=tuple(blocking_lines[:LIST_LIMIT]),
            overdue=due_lines(overdue_by_owner.get(owner_id, [])),
            overdue_total=len(overdue_by_owner.get(owner_id, [])),
            due_soon=due_lines(due_soon_by_owner.get(owner_id, [])),
            due_soon_total=len(due_soon_by_owner.get(owner_id, [])),
            forecast=forecast_lines[owner_id],
        )

    programme = _programme_section(
        inputs,
        portfolio=portfolio,
        sections=sections,
        overall=ProgressWeek(figures_end.get(None), figures_last.get(None), figures_before.get(None)),
        forecast=_forecast_line(overall_forecast, open_count=sum(open_by_owner.values()), deadline=inputs.deadline),
        week_changes=week_changes,
        blocked_start=blocked_start,
        blocked_end=blocked_end,
        capability_owners=capability_owners,
        overdue=due_lines(overdue_all),
        overdue_total=len(overdue_all),
    )
    return WeekDigests(
        week=week,
        programme=programme,
        owners=sections,
        blocked={owner_id: tuple(sorted(blocked_end.get(owner_id, ()))) for owner_id in owners},
    )


def _programme_section(
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
    reached = [c for c in week_changes if c.to_status in _DONE and c.from_status not in _DONE]
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


def weekly_report(
    recipient: Recipient,
    week: ReportWeek,
    *,
    programme: ProgrammeSection | None,
    owners: Mapping[int, OwnerSection],
) -> WeeklyReport:
    """One recipient's report: the programme only for leads, and only the recipient's own organisations."""
    sections = sorted(
        (owners[owner_id] for owner_id in set(recipient.owner_ids) if owner_id in owners),
        key=lambda section: (section.owner.name_nb, section.owner.code),
    )
    return WeeklyReport(
        recipient_id=recipient.user_id,
        recipient_name=recipient.name,
        language=recipient.language,
        week=week.label,
        monday=week.monday,
        sunday=week.sunday,
        kind=recipient.kind,
        programme=programme if recipient.is_lead else None,
        owners=tuple(sections),
    )
