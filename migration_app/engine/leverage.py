"""Leverage and slip impact: what each blocker holds back, and who is hit when one comes late.

Both look downstream from a blocker (an undelivered capability or an open service) along hard edges;
see ``portfolio`` for the vocabulary.
"""

from __future__ import annotations

import datetime
from collections import Counter, deque
from dataclasses import dataclass
from itertools import chain

from .lifecycle import DONE_VALUES
from .portfolio import Analysis, AsDict, Portfolio, analysis_of, gc_paused
from .readiness import KIND_RANK, BlockerKind


@dataclass(frozen=True, slots=True)
class LeverageRow(AsDict):
    """What one undelivered capability or one open service holds back.

    * ``direct_*``: open services with a hard edge straight to it;
    * ``transitive_*``: open services that have it among their blockers (directly or down a chain);
    * ``unblocks_*``: services for which it is the *only* blocker, so delivering the capability (or
      migrating the service) alone makes them ready or not assessed. A service that is itself blocked
      unblocks nothing on its own: its blockers block its dependents too.
    """

    kind: str  # "capability" or "service"
    capability_id: int | None
    capability_key: str
    planned_date: datetime.date | None
    service_id: int | None
    owner_id: int | None
    direct_count: int
    direct_volume: int
    transitive_count: int
    transitive_volume: int
    unblocks_count: int
    unblocks_volume: int


def leverage(portfolio: Portfolio) -> list[LeverageRow]:
    """The project leads' priority list: every blocker that holds back at least one service.

    Sorted by transitive yearly volume, then transitive count, both descending (ties by kind and id).
    Reads the memoised blocker sets rather than ``Readiness`` objects, which list at most 20 blockers.
    """
    with gc_paused():
        return _leverage(portfolio, analysis_of(portfolio))


def _leverage(portfolio: Portfolio, analysis: Analysis) -> list[LeverageRow]:
    services = portfolio.services
    direct_count: dict[int, int] = {}
    direct_volume: dict[int, int] = {}
    for sid in analysis.order:
        keys = [~cap for cap in analysis.unmet_caps.get(sid, ())]
        keys.extend(analysis.open_deps.get(sid, ()))
        if keys:
            volume = services[sid].yearly_volume
            for key in keys:
                direct_count[key] = direct_count.get(key, 0) + 1
                direct_volume[key] = direct_volume.get(key, 0) + volume

    # This is the one pass over every blocker set, Σ|blockers| steps: the counting runs in C, the
    # volume loop uses a pre-filled dict and skips services without volume.
    count = Counter(chain.from_iterable(analysis.blockers.values()))
    total = dict.fromkeys(count, 0)
    unblocks_count: dict[int, int] = {}
    unblocks_volume: dict[int, int] = {}
    for sid, found in analysis.blockers.items():
        if not found:
            continue
        volume = services[sid].yearly_volume
        if volume:
            for key in found:
                total[key] += volume
        if len(found) == 1:
            (key,) = found
            unblocks_count[key] = unblocks_count.get(key, 0) + 1
            unblocks_volume[key] = unblocks_volume.get(key, 0) + volume

    rows = []
    for key, transitive_count in count.items():
        capability = portfolio.capabilities[~key] if key < 0 else None
        rows.append(
            LeverageRow(
                kind=BlockerKind.SERVICE if capability is None else BlockerKind.CAPABILITY,
                capability_id=None if capability is None else capability.id,
                capability_key="" if capability is None else capability.key,
                planned_date=None if capability is None else capability.planned_date,
                service_id=key if capability is None else None,
                owner_id=services[key].owner_id if capability is None else None,
                direct_count=direct_count.get(key, 0),
                direct_volume=direct_volume.get(key, 0),
                transitive_count=transitive_count,
                transitive_volume=total[key],
                unblocks_count=unblocks_count.get(key, 0),
                unblocks_volume=unblocks_volume.get(key, 0),
            )
        )
    # Ties (same volume and count) by kind, then id, so the list is stable between runs.
    rows.sort(
        key=lambda r: (-r.transitive_volume, -r.transitive_count, KIND_RANK[r.kind], r.capability_id or r.service_id)
    )
    return rows


# --- Slip impact ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnerImpact(AsDict):
    owner_id: int
    service_count: int
    yearly_volume: int


@dataclass(frozen=True, slots=True)
class SlipImpact(AsDict):
    """Who is hit if a capability or a service comes later than planned.

    ``service_ids`` are the open services downstream along hard edges (walking through open services
    only), ``direct_service_ids`` those with an edge straight to it. ``misses_target_ids`` are the
    affected services whose target date falls before ``new_date`` (empty without a ``new_date``).
    """

    capability_id: int | None
    service_id: int | None
    new_date: datetime.date | None
    direct_service_ids: tuple[int, ...]
    service_ids: tuple[int, ...]
    yearly_volume: int
    owners: tuple[OwnerImpact, ...]  # by volume, then count, descending
    misses_target_ids: tuple[int, ...]


def slip_impact(
    portfolio: Portfolio,
    *,
    capability_id: int | None = None,
    service_id: int | None = None,
    new_date: datetime.date | None = None,
) -> SlipImpact:
    """Downstream services and owners affected by a slip of exactly one capability or service.

    A done service is not affected, and does not pass the slip on: what needs it already has it.
    """
    if (capability_id is None) == (service_id is None):
        raise ValueError("give exactly one of capability_id and service_id")
    services = portfolio.services
    start: tuple[int, ...] = ()
    if service_id is not None:
        if services[service_id].status not in DONE_VALUES:
            start = portfolio.hard_dependents.get(service_id, ())
    elif capability_id is not None and capability_id in portfolio.capabilities:
        start = portfolio.capability_dependents.get(capability_id, ())
    else:
        raise KeyError(capability_id)

    direct = [sid for sid in start if services[sid].status not in DONE_VALUES]
    seen = set(direct)
    queue = deque(direct)
    dependents = portfolio.hard_dependents
    while queue:
        for sid in dependents.get(queue.popleft(), ()):
            if sid not in seen and services[sid].status not in DONE_VALUES:
                seen.add(sid)
                queue.append(sid)
    if service_id is not None:
        seen.discard(service_id)  # a slipping service in a cycle reaches itself

    by_owner: dict[int, list[int]] = {}
    volume = 0
    misses = []
    for sid in seen:
        service = services[sid]
        volume += service.yearly_volume
        tally = by_owner.setdefault(service.owner_id, [0, 0])
        tally[0] += 1
        tally[1] += service.yearly_volume
        if new_date is not None and service.target_date is not None and service.target_date < new_date:
            misses.append(sid)
    owners = sorted(
        (OwnerImpact(owner, n, v) for owner, (n, v) in by_owner.items()),
        key=lambda o: (-o.yearly_volume, -o.service_count, o.owner_id),
    )
    return SlipImpact(
        capability_id=capability_id,
        service_id=service_id,
        new_date=new_date,
        direct_service_ids=tuple(sorted(direct)),
        service_ids=tuple(sorted(seen)),
        yearly_volume=volume,
        owners=tuple(owners),
        misses_target_ids=tuple(sorted(misses)),
    )
