"""Readiness: whether each service can move now, what blocks it (nearest first), and a 0–100 score.

Reads the portfolio's shared analysis (``portfolio.analysis_of``); see ``portfolio`` for what "open",
"unmet" and "blockers" mean.
"""

from __future__ import annotations

import datetime
from collections import deque
from dataclasses import dataclass

from .lifecycle import DONE_VALUES, MIGRATED_VALUES
from .portfolio import Analysis, AsDict, Portfolio, ServiceNode, analysis_of, gc_paused

# How many dependency blockers a Readiness lists (nearest first); the counts stay exact.
BLOCKER_LIST_LIMIT = 20


class ReadinessState:
    """The verdict for one service as plain strings (the engine's copy of ``choices.ReadinessState``'s codes)."""

    MIGRATED = "migrated"
    RESOLVED = "resolved"
    READY = "ready"
    BLOCKED = "blocked"
    NOT_ASSESSED = "not_assessed"


class BlockerKind:
    CAPABILITY = "capability"
    SERVICE = "service"
    PLANNING = "planning"
    CYCLE = "cycle"


# Listing order inside one distance: the things a person can act on first (leverage ties use it too).
KIND_RANK = {BlockerKind.CYCLE: 0, BlockerKind.PLANNING: 1, BlockerKind.CAPABILITY: 2, BlockerKind.SERVICE: 3}
_CAPABILITY_RANK = KIND_RANK[BlockerKind.CAPABILITY]
_SERVICE_RANK = KIND_RANK[BlockerKind.SERVICE]


@dataclass(frozen=True, slots=True)
class Blocker(AsDict):
    """One reason a service cannot move yet, phrased so someone can act on it.

    * ``capability``: ``capability_id`` / ``capability_key`` is not delivered; ``planned_date`` says when
      it is expected.
    * ``service``: ``service_id`` (owned by ``owner_id``) has not migrated or been resolved.
    * ``planning``: ``missing`` is ``"target"`` (no planned outcome) or ``"target_date"``.
    * ``cycle``: the service is in a cycle of hard service dependencies; ``path`` lists the members.

    For capability and service blockers ``path`` holds the services in between, starting with the
    direct dependency: ``(B,)`` with capability payment reads "B → payment"; ``()`` means direct.
    Each root cause appears once per service, with its shortest path.
    """

    kind: str
    capability_id: int | None = None
    capability_key: str = ""
    planned_date: datetime.date | None = None
    service_id: int | None = None
    owner_id: int | None = None
    path: tuple[int, ...] = ()
    missing: str = ""


@dataclass(frozen=True, slots=True)
class Readiness(AsDict):
    """Whether a service can move now, why not, and a 0–100 score that shows its working.

    ``blockers`` lists planning and cycle blockers in full and at most ``BLOCKER_LIST_LIMIT``
    capability/service blockers, nearest first; ``capability_blocker_count`` and
    ``service_blocker_count`` are exact (transitive).
    """

    service_id: int
    state: str
    score: int
    score_parts: tuple[tuple[str, int], ...]
    blockers: tuple[Blocker, ...]
    capability_blocker_count: int
    service_blocker_count: int

    @property
    def blocker_count(self) -> int:
        return self.capability_blocker_count + self.service_blocker_count


# Score weights (sum 100). Lifecycle points by status; a done service gets every part in full.
SCORE_LIFECYCLE = 40
SCORE_PLANNING = 20
SCORE_DEPENDENCIES = 40
_LIFECYCLE_POINTS = {"not_started": 0, "analysis": 10, "development": 20, "testing": 30}
_FULL_PARTS = (
    ("lifecycle progress", SCORE_LIFECYCLE),
    ("planning complete", SCORE_PLANNING),
    ("dependencies met", SCORE_DEPENDENCIES),
)


def readiness_all(portfolio: Portfolio) -> dict[int, Readiness]:
    """Readiness for every service in the portfolio, keyed by service id.

    State: ``migrated`` (status in lifecycle.MIGRATED) or ``resolved`` (decommissioned or
    re-implemented elsewhere) for done services; otherwise ``blocked`` when any hard dependency is
    unmet (directly or transitively) or the service is in a hard cycle; otherwise ``not_assessed``
    when the planned outcome or the target date is missing; otherwise ``ready``. Planning blockers
    are listed on blocked services too.

    Score = lifecycle progress + planning complete + dependencies met, listed in ``score_parts``:

    * lifecycle progress, 0–40: not started 0, analysis 10, development 20, testing 30, done 40;
    * planning complete, 0–20: 10 for a decided planned outcome, 10 for a target date;
    * dependencies met, 0–40: ``40 * met // total`` over the direct hard dependencies (services and
      capabilities), 40 when there are none.

    A done service scores 100. Transitive blockers do not lower the score: the direct dependencies
    already show as unmet, and the blocker list explains the rest.
    """
    with gc_paused():
        analysis = analysis_of(portfolio)
        blocker_cache = _BlockerCache(portfolio)
        return {
            sid: _readiness(portfolio, analysis, service, blocker_cache) for sid, service in portfolio.services.items()
        }


def readiness_for(portfolio: Portfolio, service_id: int) -> Readiness:
    """Readiness of one service (the portfolio-wide analysis is memoised on the portfolio)."""
    with gc_paused():
        analysis = analysis_of(portfolio)
    return _readiness(portfolio, analysis, portfolio.services[service_id], _BlockerCache(portfolio))


class _BlockerCache:
    """Shares the Blocker for a *direct* capability or service: the same object serves every service."""

    __slots__ = ("capabilities", "direct_capability", "direct_service", "services")

    def __init__(self, portfolio: Portfolio) -> None:
        self.services = portfolio.services
        self.capabilities = portfolio.capabilities
        self.direct_capability: dict[int, Blocker] = {}
        self.direct_service: dict[int, Blocker] = {}

    def capability(self, cap: int, path: tuple[int, ...]) -> Blocker:
        if not path and cap in self.direct_capability:
            return self.direct_capability[cap]
        capability = self.capabilities[cap]
        # Positional (kind, capability_id, capability_key, planned_date, service_id, owner_id, path):
        # a million of these at 100,000 services, and keywords cost a third more.
        blocker = Blocker(BlockerKind.CAPABILITY, cap, capability.key, capability.planned_date, None, None, path)
        if not path:
            self.direct_capability[cap] = blocker
        return blocker

    def service(self, dep: int, path: tuple[int, ...]) -> Blocker:
        if not path and dep in self.direct_service:
            return self.direct_service[dep]
        blocker = Blocker(BlockerKind.SERVICE, None, "", None, dep, self.services[dep].owner_id, path)
        if not path:
            self.direct_service[dep] = blocker
        return blocker


_MISSING_TARGET = Blocker(BlockerKind.PLANNING, missing="target")
_MISSING_TARGET_DATE = Blocker(BlockerKind.PLANNING, missing="target_date")


def _readiness(portfolio: Portfolio, analysis: Analysis, service: ServiceNode, cache: _BlockerCache) -> Readiness:
    sid = service.id
    if service.status in DONE_VALUES:
        state = ReadinessState.MIGRATED if service.status in MIGRATED_VALUES else ReadinessState.RESOLVED
        return Readiness(sid, state, 100, _FULL_PARTS, (), 0, 0)

    listed: list[Blocker] = []
    cycle = analysis.cycle_of.get(sid)
    if cycle:
        listed.append(Blocker(BlockerKind.CYCLE, path=cycle))
    if not service.target:
        listed.append(_MISSING_TARGET)
    if service.target_date is None:
        listed.append(_MISSING_TARGET_DATE)

    found = analysis.blockers[sid]
    capability_count = service_count = 0
    if found:
        # Intersect with the (few) capability keys rather than scanning a possibly long set.
        capability_count = len(analysis.capability_keys.intersection(found))
        service_count = len(found) - capability_count
        if sid in analysis.open_deps:
            listed.extend(_nearest_blockers(analysis, sid, cache))
        else:
            # Only direct capabilities: already sorted, no search needed.
            listed.extend(cache.capability(cap, ()) for cap in analysis.unmet_caps[sid][:BLOCKER_LIST_LIMIT])

    if found or cycle:
        state = ReadinessState.BLOCKED
    elif not service.target or service.target_date is None:
        state = ReadinessState.NOT_ASSESSED
    else:
        state = ReadinessState.READY

    direct_total = len(portfolio.hard_service_deps.get(sid, ())) + len(portfolio.hard_capability_deps.get(sid, ()))
    direct_unmet = len(analysis.open_deps.get(sid, ())) + len(analysis.unmet_caps.get(sid, ()))
    dependency_points = (
        SCORE_DEPENDENCIES if direct_total == 0 else SCORE_DEPENDENCIES * (direct_total - direct_unmet) // direct_total
    )
    planning_points = (SCORE_PLANNING // 2 if service.target else 0) + (
        SCORE_PLANNING // 2 if service.target_date is not None else 0
    )
    lifecycle_points = _LIFECYCLE_POINTS.get(service.status, 0)
    parts = (
        ("lifecycle progress", lifecycle_points),
        ("planning complete", planning_points),
        ("dependencies met", dependency_points),
    )
    score = lifecycle_points + planning_points + dependency_points
    return Readiness(sid, state, score, parts, tuple(listed), capability_count, service_count)


def _nearest_blockers(analysis: Analysis, sid: int, cache: _BlockerCache) -> list[Blocker]:
    """Breadth-first from the service, so each blocker comes with its shortest path; stops at the limit."""
    open_deps, unmet_caps = analysis.open_deps, analysis.unmet_caps
    # (distance, kind rank, id, path): plain tuples sort without a key function; Blockers are built
    # only for the ones kept.
    found: list[tuple[int, int, int, tuple[int, ...]]] = []
    seen_services = {sid}
    seen_caps: set[int] = set()
    queue: deque[tuple[int, tuple[int, ...]]] = deque([(sid, ())])
    while queue and len(found) < BLOCKER_LIST_LIMIT:
        node, path = queue.popleft()
        distance = len(path)
        for cap in unmet_caps.get(node, ()):
            if cap not in seen_caps:
                seen_caps.add(cap)
                found.append((distance, _CAPABILITY_RANK, cap, path))
        for dep in open_deps.get(node, ()):
            if dep not in seen_services:
                seen_services.add(dep)
                found.append((distance, _SERVICE_RANK, dep, path))
                queue.append((dep, (*path, dep)))
    # Breadth-first order is nearest first, so the cut keeps the nearest; then capabilities before
    # services at each distance, each by id.
    del found[BLOCKER_LIST_LIMIT:]
    found.sort()
    return [
        cache.capability(key, path) if rank == _CAPABILITY_RANK else cache.service(key, path)
        for _, rank, key, path in found
    ]
