"""Progress figures, overdue services and the completion forecast: pure functions over plain data.

Progress counts services and yearly volume per lifecycle status for any scope (overall, an owner, a
service type, the services that use a capability); one ``ProgressFigures`` is what the daily snapshot
stores per scope. The forecast resamples the past weekly throughput of services reaching done.
"""

from __future__ import annotations

import datetime
import math
import operator
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..choices import STATUS_ORDER
from .lifecycle import DONE_VALUES, MIGRATED_VALUES
from .portfolio import AsDict, CapabilityNode, Edge, ServiceNode

# --- Progress ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProgressFigures(AsDict):
    """Counts and yearly volume per status for one scope, and the share done.

    "Done" is migrated or resolved (lifecycle.DONE); "migrated" excludes decommissioned and
    re-implemented-elsewhere services. Percentages are 0–100 with two decimals; 0.0 for an empty scope.
    """

    count_by_status: Mapping[str, int]
    volume_by_status: Mapping[str, int]
    total_count: int
    total_volume: int
    done_count: int
    done_volume: int
    migrated_count: int
    migrated_volume: int
    pct_done_count: float
    pct_done_volume: float


class StatusTally:
    """Running per-status sums for one scope (every status in ``STATUS_ORDER`` first); ``figures()`` freezes
    them. The one tally: the daily snapshot's figures and the weekly report's replayed ones both use it."""

    __slots__ = ("counts", "volumes")

    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(STATUS_ORDER, 0)
        self.volumes: dict[str, int] = dict.fromkeys(STATUS_ORDER, 0)

    def add(self, status: str, volume: int, count: int = 1) -> None:
        self.counts[status] = self.counts.get(status, 0) + count
        self.volumes[status] = self.volumes.get(status, 0) + volume

    def figures(self) -> ProgressFigures:
        counts, volumes = self.counts, self.volumes
        total_count, total_volume = sum(counts.values()), sum(volumes.values())
        done_count = sum(n for status, n in counts.items() if status in DONE_VALUES)
        done_volume = sum(v for status, v in volumes.items() if status in DONE_VALUES)
        return ProgressFigures(
            count_by_status=dict(counts),
            volume_by_status=dict(volumes),
            total_count=total_count,
            total_volume=total_volume,
            done_count=done_count,
            done_volume=done_volume,
            migrated_count=sum(n for status, n in counts.items() if status in MIGRATED_VALUES),
            migrated_volume=sum(v for status, v in volumes.items() if status in MIGRATED_VALUES),
            pct_done_count=_percent(done_count, total_count),
            pct_done_volume=_percent(done_volume, total_volume),
        )


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


@dataclass(frozen=True, slots=True)
class Progress(AsDict):
    """Progress overall and per owner id, per service type and per capability id.

    A capability's figures cover the services with any edge to it, hard or soft: "how far along are
    the services that use payment". Capabilities nobody uses are listed with empty figures when the
    capabilities are passed in.
    """

    overall: ProgressFigures
    by_owner: Mapping[int, ProgressFigures]
    by_service_type: Mapping[str, ProgressFigures]
    by_capability: Mapping[int, ProgressFigures]


def progress_figures(services: Iterable[ServiceNode]) -> ProgressFigures:
    """The figures for one scope: whichever services are passed in."""
    tally = StatusTally()
    for service in services:
        tally.add(service.status, service.yearly_volume)
    return tally.figures()


def progress(
    services: Iterable[ServiceNode],
    *,
    edges: Iterable[Edge] = (),
    capabilities: Iterable[CapabilityNode] = (),
) -> Progress:
    """Progress for every scope in one pass over the services (and one over the edges)."""
    # Aggregate once per (owner, type, status) in a tight loop, then fold the few thousand groups into
    # the scopes: at 100,000 services this is several times faster than tallying every scope per service.
    services = list(services)
    by_id = {service.id: service for service in services}
    group_of = operator.attrgetter("owner_id", "service_type", "status")
    counts = Counter(map(group_of, services))
    volumes: dict[tuple[int, str, str], int] = dict.fromkeys(counts, 0)
    for service in services:
        volumes[group_of(service)] += service.yearly_volume
    groups = {key: (count, volumes[key]) for key, count in counts.items()}
    overall = StatusTally()
    by_owner: dict[int, StatusTally] = {}
    by_type: dict[str, StatusTally] = {}
    for (owner_id, service_type, status), (count, volume) in groups.items():
        overall.add(status, volume, count)
        owner = by_owner.get(owner_id)
        if owner is None:
            owner = by_owner[owner_id] = StatusTally()
        owner.add(status, volume, count)
        kind = by_type.get(service_type)
        if kind is None:
            kind = by_type[service_type] = StatusTally()
        kind.add(status, volume, count)

    users: dict[int, set[int]] = {capability.id: set() for capability in capabilities}
    for service_id, _on_service, on_capability, _hard in edges:  # Edge or a plain row tuple
        if on_capability is not None and service_id in by_id:
            users.setdefault(on_capability, set()).add(service_id)
    by_capability = {}
    for capability_id in sorted(users):
        tally = StatusTally()
        cap_counts: dict[str, int] = {}
        cap_volumes: dict[str, int] = {}
        for sid in users[capability_id]:
            service = by_id[sid]
            cap_counts[service.status] = cap_counts.get(service.status, 0) + 1
            cap_volumes[service.status] = cap_volumes.get(service.status, 0) + service.yearly_volume
        for status, count in cap_counts.items():
            tally.add(status, cap_volumes[status], count)
        by_capability[capability_id] = tally.figures()

    return Progress(
        overall=overall.figures(),
        by_owner={owner_id: by_owner[owner_id].figures() for owner_id in sorted(by_owner)},
        by_service_type={kind: by_type[kind].figures() for kind in sorted(by_type)},
        by_capability=by_capability,
    )


# Days ahead that count as "due soon" (the organisation page and the weekly report).
DUE_SOON_DAYS = 30


class Due:
    """Where an open service stands against its own target date (``due_state``)."""

    OVERDUE = "overdue"
    DUE_SOON = "due_soon"


def due_state(status: str, target_date: datetime.date | None, today: datetime.date) -> str | None:
    """Overdue (an open service past its target date), due soon (within DUE_SOON_DAYS), or None.

    The one definition of "overdue": the recompute's list, the organisation page, the weekly report
    and (as a query) the catalog's filter all follow it.
    """
    if target_date is None or status in DONE_VALUES:
        return None
    if target_date < today:
        return Due.OVERDUE
    if target_date <= today + datetime.timedelta(days=DUE_SOON_DAYS):
        return Due.DUE_SOON
    return None


def overdue(services: Iterable[ServiceNode], today: datetime.date) -> list[int]:
    """Ids of open services whose target date has passed, most overdue first (then by id)."""
    late = [
        (service.target_date, service.id)
        for service in services
        if service.target_date is not None and due_state(service.status, service.target_date, today) == Due.OVERDUE
    ]
    late.sort()
    return [sid for _, sid in late]


# --- Forecast ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """One status change from the history: ``service_id`` moved to ``to_status`` on ``on``.

    Pass ``from_status`` when it is known (StatusChange has it): then each event stands on its own
    and the history may be cut to the forecast window. Without it the previous status is replayed
    from the earlier events, which needs the whole history.
    """

    service_id: int
    to_status: str
    on: datetime.date
    from_status: str | None = None


class ForecastStatus:
    ON_TRACK = "on_track"  # P85 on or before the deadline
    AT_RISK = "at_risk"  # P50 on or before the deadline, P85 after it
    LATE = "late"  # P50 after the deadline
    DONE = "done"  # nothing open
    NO_DATA = "no_data"  # nothing reached done in the window: no rate, no date


# How many past weeks of throughput the forecast resamples (the recompute and the weekly report alike).
FORECAST_WINDOW_WEEKS = 26
# How far the simulation looks ahead; a sample not finished by then counts as "later than that".
HORIZON_WEEKS = 520


@dataclass(frozen=True, slots=True)
class Forecast(AsDict):
    """When the open services will be done if the coming weeks look like the past ones.

    ``weekly_throughput`` is the number of services reaching done per ISO week of the window, oldest
    first. ``p50_date`` / ``p85_date`` are None for ``no_data`` and ``done``, and also when that share
    of the simulations had not finished within ``HORIZON_WEEKS`` (the status still says ``late``).
    """

    status: str
    open_count: int
    today: datetime.date
    deadline: datetime.date
    weekly_throughput: tuple[tuple[str, int], ...]
    mean_weekly_throughput: float
    p50_date: datetime.date | None
    p85_date: datetime.date | None


@dataclass(frozen=True, slots=True)
class ForecastReport(AsDict):
    overall: Forecast
    by_owner: Mapping[int, Forecast]


def done_arrivals(events: Iterable[StatusEvent]) -> list[StatusEvent]:
    """The events in which a service reached done from an open status, oldest first.

    Moving between two done statuses (in production → Altinn II closed) is not a second arrival; a
    reopened service that reaches done again is. The status before an event is its ``from_status``
    or, when that is None, the ``to_status`` of the service's previous event, replayed in date order
    (a stable sort, so same-day events keep the caller's order: pass them oldest first). A service's
    first event without ``from_status`` counts when it goes to done.
    """
    last_status: dict[int, str] = {}
    arrivals = []
    for event in sorted(events, key=operator.attrgetter("on")):
        previous = event.from_status if event.from_status is not None else last_status.get(event.service_id)
        last_status[event.service_id] = event.to_status
        if event.to_status in DONE_VALUES and (previous is None or previous not in DONE_VALUES):
            arrivals.append(event)
    return arrivals


def weekly_throughput(
    arrivals: Iterable[StatusEvent], *, today: datetime.date, weeks: int = 26
) -> tuple[tuple[str, int], ...]:
    """Arrivals per ISO week over the ``weeks`` full weeks before the current one, oldest first.

    The current, unfinished week is left out: counting it would read as a slowdown every Monday.
    """
    this_monday = today - datetime.timedelta(days=today.weekday())
    start = this_monday - datetime.timedelta(weeks=weeks)
    counts = [0] * weeks
    for event in arrivals:
        if start <= event.on < this_monday:
            counts[(event.on - start).days // 7] += 1
    labels = []
    for week in range(weeks):
        year, number, _ = (start + datetime.timedelta(weeks=week)).isocalendar()
        labels.append(f"{year}-W{number:02d}")
    return tuple(zip(labels, counts, strict=True))


def forecast(
    events: Iterable[StatusEvent],
    *,
    open_count: int,
    today: datetime.date,
    deadline: datetime.date,
    weeks: int = 26,
    samples: int = 2000,
    seed: int = 0,
) -> Forecast:
    """Project the completion date from the weekly throughput of the last ``weeks`` full weeks.

    Monte Carlo: each of ``samples`` futures draws every coming week's throughput at random (with
    replacement) from the window's weeks, zero weeks included, until the open services are used up;
    week *n* ends ``7n`` days after ``today``. P50 / P85 are the nearest-rank percentiles of the finish
    weeks. Status: ``on_track`` if P85 ≤ deadline, ``at_risk`` if P50 ≤ deadline < P85, ``late`` if
    P50 > deadline (so anything still open after a past deadline is late), ``done`` when nothing is
    open, ``no_data`` when nothing reached done in the window.

    Deterministic: a ``random.Random(seed)``. Every simulated week draws one number per sample in the
    same sequence whatever the throughput values are, so a window with at least as much throughput in
    every week never gives a later P50 or P85.
    """
    throughput = weekly_throughput(done_arrivals(events), today=today, weeks=weeks)
    return _forecast_from(throughput, open_count=open_count, today=today, deadline=deadline, samples=samples, seed=seed)


def forecast_report(
    events: Iterable[StatusEvent],
    services: Iterable[ServiceNode],
    *,
    today: datetime.date,
    deadline: datetime.date,
    weeks: int = 26,
    samples: int = 2000,
    seed: int = 0,
) -> ForecastReport:
    """The forecast overall and for each owner, from one replay of the history.

    Each owner's events are those of its current services (an event for a service not passed in is
    ignored); its open count is its services not done.
    """
    owner_of: dict[int, int] = {}
    open_by_owner: dict[int, int] = {}
    for service in services:
        owner_of[service.id] = service.owner_id
        open_by_owner[service.owner_id] = open_by_owner.get(service.owner_id, 0) + (service.status not in DONE_VALUES)
    arrivals = [event for event in done_arrivals(events) if event.service_id in owner_of]
    arrivals_by_owner: dict[int, list[StatusEvent]] = {owner: [] for owner in open_by_owner}
    for event in arrivals:
        arrivals_by_owner[owner_of[event.service_id]].append(event)

    def project(owner_arrivals: list[StatusEvent], open_count: int) -> Forecast:
        throughput = weekly_throughput(owner_arrivals, today=today, weeks=weeks)
        return _forecast_from(
            throughput, open_count=open_count, today=today, deadline=deadline, samples=samples, seed=seed
        )

    return ForecastReport(
        overall=project(arrivals, sum(open_by_owner.values())),
        by_owner={owner: project(arrivals_by_owner[owner], open_by_owner[owner]) for owner in sorted(open_by_owner)},
    )


def _forecast_from(
    throughput: tuple[tuple[str, int], ...],
    *,
    open_count: int,
    today: datetime.date,
    deadline: datetime.date,
    samples: int,
    seed: int,
) -> Forecast:
    counts = [n for _, n in throughput]
    mean = round(sum(counts) / len(counts), 2) if counts else 0.0

    def result(status: str, p50: datetime.date | None = None, p85: datetime.date | None = None) -> Forecast:
        return Forecast(status, open_count, today, deadline, throughput, mean, p50, p85)

    if open_count <= 0:
        return result(ForecastStatus.DONE)
    if not any(counts):
        return result(ForecastStatus.NO_DATA)
    finish = sorted(_simulate_finish_weeks(counts, open_count, samples=max(1, samples), seed=seed))

    def percentile(share: float) -> datetime.date | None:
        week = finish[math.ceil(share * len(finish)) - 1]
        return None if week == _NOT_FINISHED else today + datetime.timedelta(weeks=week)

    p50, p85 = percentile(0.50), percentile(0.85)
    if p50 is None or p50 > deadline:
        status = ForecastStatus.LATE
    elif p85 is None or p85 > deadline:
        status = ForecastStatus.AT_RISK
    else:
        status = ForecastStatus.ON_TRACK
    return result(status, p50, p85)


_NOT_FINISHED = HORIZON_WEEKS + 1  # sorts after every real finish week
# Weeks simulated per vectorised step; most forecasts finish inside the first one or two.
_CHUNK_WEEKS = 52


def _simulate_finish_weeks(counts: list[int], open_count: int, *, samples: int, seed: int) -> list[int]:
    """Each sample's finish week (1-based), or ``_NOT_FINISHED`` if not finished within the horizon.

    Vectorised with numpy: a chunk of weeks is drawn for every sample at once as *indices* into the
    window, then cumulated. The random stream depends only on the window's length, never on its
    values, and chunks are drawn in a fixed order, so a sample's finish week depends only on its own
    prefix of draws: more throughput in every week never finishes later (the monotonicity property).
    """
    if open_count > max(counts) * HORIZON_WEEKS:
        return [_NOT_FINISHED] * samples  # even the best week, every week, would not make it
    rng = np.random.Generator(np.random.PCG64(seed))
    values = np.asarray(counts, dtype=np.int64)
    remaining = np.full(samples, open_count, dtype=np.int64)
    finish = np.full(samples, _NOT_FINISHED, dtype=np.int64)
    week = 0
    while week < HORIZON_WEEKS and (finish == _NOT_FINISHED).any():
        span = min(_CHUNK_WEEKS, HORIZON_WEEKS - week)
        cumulative = np.cumsum(values[rng.integers(0, len(values), size=(samples, span))], axis=1)
        reached = cumulative >= remaining[:, None]
        newly = reached.any(axis=1) & (finish == _NOT_FINISHED)
        finish[newly] = week + reached.argmax(axis=1)[newly] + 1
        remaining -= cumulative[:, -1]
        week += span
    return finish.tolist()
