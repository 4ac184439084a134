"""The weekly report builder: plain loaded data in, one digest per organisation and one for the programme out.

Pure (STYLE.md rule 2): ``selectors.weekly_reports.weekly_report_inputs_load`` reads everything (the
rows of ``inputs``) in a fixed number of queries, ``week_digests`` computes every organisation's section
and the programme's (``programme``) in one pass, ``weekly_report`` picks one recipient's sections, and
``emails.py`` renders them.

Every figure is a function of the stored history, so rebuilding a week gives the same report (the
replaying lives in ``replay``):

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..engine.history import statuses_at
from ..engine.lifecycle import DONE_VALUES
from ..engine.progress import Due, due_state
from ..engine.readiness import BlockerKind, ReadinessState, readiness_all
from .data import (
    LIST_LIMIT,
    NAMED_LIMIT,
    BlockingLine,
    CapabilityBlockerLine,
    CapabilityRef,
    DueLine,
    OwnerSection,
    ProgrammeSection,
    ProgressWeek,
    ReadinessLine,
    ServiceBlockerLine,
    ServiceRef,
    StatusChangeLine,
    WeeklyReport,
)
from .inputs import ChangeRow, Recipient, WeekInputs
from .programme import programme_section
from .replay import FiguresAt, blocked_by_owner, forecast_line, forecasts, portfolio_at
from .weeks import ReportWeek


@dataclass(frozen=True)
class WeekDigests:
    """One week's sections: the programme's, and every organisation's with its blocked services."""

    week: ReportWeek
    programme: ProgrammeSection | None
    owners: Mapping[int, OwnerSection]
    blocked: Mapping[int, tuple[int, ...]]


def _passed(day: datetime.date | None, today: datetime.date) -> bool:
    return day is not None and day < today


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
    figures_end = FiguresAt(inputs, status_end, end, snapshots)
    figures_last = FiguresAt(inputs, statuses_at(current, inputs.changes, end_last), end_last, snapshots)
    figures_before = FiguresAt(inputs, statuses_at(current, inputs.changes, end_before), end_before, snapshots)

    portfolio = portfolio_at(inputs, status_end, end)
    readiness = readiness_all(portfolio)
    blocked_end = blocked_by_owner(portfolio, readiness)
    if inputs.previous_blocked is not None:
        blocked_start: Mapping[int, set[int] | frozenset[int]] = inputs.previous_blocked
    else:
        status_last = statuses_at(current, inputs.changes, end_last)
        portfolio_last = portfolio_at(inputs, status_last, end_last)
        blocked_start = blocked_by_owner(portfolio_last, readiness_all(portfolio_last))

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
    for sid in portfolio.services:
        s = services[sid]
        if status_end[sid] in DONE_VALUES:
            continue
        open_by_owner[s.owner_id] += 1
        due = due_state(status_end[sid], s.target_date, report_day)
        if due is None or s.target_date is None:
            continue
        item = (s.target_date, ref_key(sid), sid)
        if due == Due.OVERDUE:
            overdue_by_owner[s.owner_id].append(item)
            overdue_all.append(item)
        else:
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

    overall_forecast, owner_forecasts = forecasts(inputs, status_end, end)
    forecast_lines = {
        owner_id: forecast_line(
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
                    late=_passed(capabilities[cid].planned_date, report_day),
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

    programme = programme_section(
        inputs,
        portfolio=portfolio,
        sections=sections,
        overall=ProgressWeek(figures_end.get(None), figures_last.get(None), figures_before.get(None)),
        forecast=forecast_line(overall_forecast, open_count=sum(open_by_owner.values()), deadline=inputs.deadline),
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
