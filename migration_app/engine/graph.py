"""The dependency graph: readiness per service, leverage, slip impact and migration waves.

Pure functions over plain data (STYLE.md, rule 2): the loader turns rows into the frozen input nodes
below, these functions return frozen dataclasses of ints, strings, dates and tuples.

Vocabulary used throughout:

* An **open** service is one whose status is not in ``lifecycle.DONE`` (neither migrated nor resolved).
* A hard dependency is **unmet** when it is a capability that is not delivered, or a service that is
  open. A done dependency (migrated, decommissioned or re-implemented elsewhere) never blocks: once
  it is out of Altinn II, nothing that needs it waits for it any more. Soft dependencies never block.
* The **blockers** of an open service are every unmet thing it reaches along hard edges, walking only
  through open services. If A needs B and B waits for payment, A is blocked by B *and* by payment
  (path B → payment): delivering payment alone does not unblock A, because B must still move first.
  A done service ends the walk, so it neither blocks nor passes on what it once waited for.

The blocker sets are computed once per portfolio, dependencies before dependents (Kahn's order, with
Tarjan's algorithm only for what is left over, i.e. cycles and what sits behind them), each set the
union of its dependencies' sets. The cost is O(V + E + Σ|blockers|), which is linear for the
shallow dependency chains real portfolios have.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import gc
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, NamedTuple

from .lifecycle import DONE, MIGRATED

# Plain strings: hashing a str is cheaper than an enum member, and this set is probed 100,000 times.
_DONE: frozenset[str] = frozenset(str(status) for status in DONE)
_MIGRATED: frozenset[str] = frozenset(str(status) for status in MIGRATED)

# How many dependency blockers a Readiness lists (nearest first); the counts stay exact.
BLOCKER_LIST_LIMIT = 20


class ReadinessState:
    """The verdict for one service (mirrors ``models.ReadinessState``)."""

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


# Listing order inside one distance: the things a person can act on first.
_KIND_RANK = {BlockerKind.CYCLE: 0, BlockerKind.PLANNING: 1, BlockerKind.CAPABILITY: 2, BlockerKind.SERVICE: 3}
_CAPABILITY_RANK = _KIND_RANK[BlockerKind.CAPABILITY]
_SERVICE_RANK = _KIND_RANK[BlockerKind.SERVICE]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects.

    A portfolio-wide pass allocates around a million tuples, sets and dataclasses, which triggers
    repeated full collections that each walk the whole heap: half the run time at 100,000 services.
    The engine creates no reference cycles, so pausing the collector loses nothing. Only the caller
    that found it enabled turns it back on, so nesting (and another thread doing the same) is safe.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _AsDict:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts, tuples, ints, strings and dates, ready for a JSON encoder that knows dates."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]  # subclasses are dataclasses


# --- Inputs -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceNode:
    """One service edition as the engine sees it (field order matches the loader's values_list)."""

    id: int
    owner_id: int
    service_type: str
    status: str
    target: str  # Altinn3Target value; "" while undecided.
    target_date: datetime.date | None
    yearly_volume: int


@dataclass(frozen=True, slots=True)
class CapabilityNode:
    id: int
    key: str
    delivered: bool
    planned_date: datetime.date | None


class Edge(NamedTuple):
    """``service_id`` needs exactly one of another service or a capability; only hard edges block.

    A named tuple: the engine reads edges positionally, so the loader may pass the database's plain
    row tuples in this field order without building ~300,000 objects. ``Portfolio`` validates them.
    """

    service_id: int
    on_service_id: int | None
    on_capability_id: int | None
    hard: bool


@dataclass(frozen=True, slots=True, eq=False)
class Portfolio:
    """Services, capabilities and edges, plus adjacency built once in ``__post_init__``.

    Edges naming a service or capability that is not in the portfolio are ignored (the database's
    foreign keys make that impossible; a partial load in a test should not crash). Duplicate edges
    count once. Treat a Portfolio as immutable: derived results are memoised on it.
    """

    services: Mapping[int, ServiceNode]
    capabilities: Mapping[int, CapabilityNode]
    edges: Sequence[Edge]
    # service id → the services / capabilities it hard-depends on (sorted, unique).
    hard_service_deps: Mapping[int, tuple[int, ...]] = field(init=False, repr=False)
    hard_capability_deps: Mapping[int, tuple[int, ...]] = field(init=False, repr=False)
    # service id → the services that hard-depend on it; capability id → likewise.
    hard_dependents: Mapping[int, tuple[int, ...]] = field(init=False, repr=False)
    capability_dependents: Mapping[int, tuple[int, ...]] = field(init=False, repr=False)
    _memo: dict[str, Any] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        services, capabilities = self.services, self.capabilities
        on_services: dict[int, list[int]] = {}
        on_capabilities: dict[int, list[int]] = {}
        with gc_paused():
            # Unpacked positionally, so plain (service, on_service, on_capability, hard) tuples from the
            # database work as well as Edge tuples: the loader skips building 300,000 objects.
            for sid, on_service, on_capability, hard in self.edges:
                if (on_service is None) == (on_capability is None):
                    raise ValueError(f"edge from service {sid} must name exactly one target")
                if not hard or sid not in services:
                    continue
                if on_service is not None:
                    if on_service in services:
                        on_services.setdefault(sid, []).append(on_service)
                elif on_capability in capabilities:
                    on_capabilities.setdefault(sid, []).append(on_capability)
            hard_service_deps = _sorted_unique(on_services)
            hard_capability_deps = _sorted_unique(on_capabilities)
            object.__setattr__(self, "hard_service_deps", hard_service_deps)
            object.__setattr__(self, "hard_capability_deps", hard_capability_deps)
            object.__setattr__(self, "hard_dependents", _reverse(hard_service_deps))
            object.__setattr__(self, "capability_dependents", _reverse(hard_capability_deps))


def _sorted_unique(adjacency: dict[int, list[int]]) -> dict[int, tuple[int, ...]]:
    # Sorted so that blocker lists and their truncation do not depend on the order edges were loaded.
    return {
        source: (targets[0],) if len(targets) == 1 else tuple(sorted(set(targets)))
        for source, targets in adjacency.items()
    }


def _reverse(adjacency: Mapping[int, tuple[int, ...]]) -> dict[int, tuple[int, ...]]:
    reverse: dict[int, list[int]] = {}
    # Iterating sources in sorted order keeps every reversed list sorted without sorting it.
    for source in sorted(adjacency):
        for target in adjacency[source]:
            reverse.setdefault(target, []).append(source)
    return {target: tuple(sources) for target, sources in reverse.items()}


def build_portfolio(
    services: Iterable[ServiceNode], capabilities: Iterable[CapabilityNode], edges: Iterable[Edge]
) -> Portfolio:
    """Index the loader's lists by id and build the adjacency once."""
    return Portfolio(
        services={service.id: service for service in services},
        capabilities={capability.id: capability for capability in capabilities},
        edges=tuple(edges),
    )


# --- The shared analysis: blocker sets, cycles, dependency-first order ------------------------------


@dataclass(slots=True)
class _Analysis:
    # Open services only. Blocker sets hold service ids as themselves and capability ids as ~id
    # (negative), so one set and one C-level union covers both kinds.
    blockers: dict[int, frozenset[int]]
    open_deps: dict[int, tuple[int, ...]]  # open hard service dependencies
    unmet_caps: dict[int, tuple[int, ...]]  # undelivered hard capabilities
    order: list[int]  # every open service, dependencies before dependents (a cycle's members adjacent)
    cycle_of: dict[int, tuple[int, ...]]  # member → the sorted members of its hard cycle
    behind_cycle: frozenset[int]  # open services that reach a cycle but are not in one
    capability_keys: frozenset[int]  # ~id of every undelivered capability


def _analysis(portfolio: Portfolio) -> _Analysis:
    cached = portfolio._memo.get("analysis")
    if cached is None:
        cached = portfolio._memo["analysis"] = _analyse(portfolio)
    return cached


def _analyse(portfolio: Portfolio) -> _Analysis:
    services = portfolio.services
    delivered = {cid for cid, capability in portfolio.capabilities.items() if capability.delivered}
    open_ids = [sid for sid, service in services.items() if service.status not in _DONE]
    open_set = set(open_ids)

    open_deps: dict[int, tuple[int, ...]] = {}
    unmet_caps: dict[int, tuple[int, ...]] = {}
    service_deps, capability_deps = portfolio.hard_service_deps, portfolio.hard_capability_deps
    for sid in open_ids:
        deps = service_deps.get(sid)
        if deps:
            open_dep_ids = tuple(dep for dep in deps if dep in open_set)
            if open_dep_ids:
                open_deps[sid] = open_dep_ids
        caps = capability_deps.get(sid)
        if caps:
            unmet = tuple(cap for cap in caps if cap not in delivered)
            if unmet:
                unmet_caps[sid] = unmet

    # Kahn's algorithm over the open subgraph: what is left afterwards is in a cycle or behind one.
    waiting = {sid: len(deps) for sid, deps in open_deps.items()}
    order = [sid for sid in open_ids if sid not in open_deps]
    dependents = portfolio.hard_dependents
    position = 0
    while position < len(order):
        dep = order[position]
        position += 1
        for sid in dependents.get(dep, ()):
            remaining = waiting.get(sid)
            if remaining is None:  # a done dependent: not part of the open subgraph
                continue
            if remaining == 1:
                del waiting[sid]
                order.append(sid)
            else:
                waiting[sid] = remaining - 1

    cycle_of: dict[int, tuple[int, ...]] = {}
    components: list[list[int]] = []
    if waiting:
        leftover = sorted(waiting)
        components = _strongly_connected(leftover, lambda sid: [d for d in open_deps[sid] if d in waiting])
        for component in components:
            if len(component) > 1 or component[0] in open_deps[component[0]]:
                members = tuple(sorted(component))
                for member in members:
                    cycle_of[member] = members
        behind_cycle = frozenset(waiting).difference(cycle_of)
    else:
        behind_cycle = frozenset()

    empty: frozenset[int] = frozenset()
    blockers: dict[int, frozenset[int]] = {}
    for sid in order:
        deps = open_deps.get(sid)
        caps = unmet_caps.get(sid)
        if not deps:
            blockers[sid] = frozenset([~cap for cap in caps]) if caps else empty
        elif len(deps) == 1 and not caps:
            # The common chain link: one set copy instead of building a union.
            blockers[sid] = blockers[deps[0]].union(deps)
        else:
            merged = {~cap for cap in caps} if caps else set()
            merged.update(deps)
            for dep in deps:
                merged |= blockers[dep]
            blockers[sid] = frozenset(merged)

    # Tarjan emits components dependencies first, so each one's outside dependencies are done.
    for component in components:
        members_set = set(component)
        merged = set()
        for sid in component:
            caps = unmet_caps.get(sid)
            if caps:
                merged.update(~cap for cap in caps)
            for dep in open_deps[sid]:
                merged.add(dep)
                if dep not in members_set:
                    merged |= blockers[dep]
        shared = frozenset(merged)
        for sid in component:
            # A member is blocked by the rest of its cycle, not by itself.
            blockers[sid] = shared - {sid} if sid in shared else shared
        order.extend(component)

    capability_keys = frozenset(~cid for cid in portfolio.capabilities if cid not in delivered)
    return _Analysis(blockers, open_deps, unmet_caps, order, cycle_of, behind_cycle, capability_keys)


def _strongly_connected(nodes: Sequence[int], successors: Any) -> list[list[int]]:
    """Tarjan's algorithm without recursion (imported data may hold long chains); sinks first."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    components: list[list[int]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(successors(root)))]
        while work:
            node, successor_iter = work[-1]
            for successor in successor_iter:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(successors(successor))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    return components


# --- Readiness --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Blocker(_AsDict):
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
class Readiness(_AsDict):
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
        analysis = _analysis(portfolio)
        blocker_cache = _BlockerCache(portfolio)
        return {
            sid: _readiness(portfolio, analysis, service, blocker_cache) for sid, service in portfolio.services.items()
        }


def readiness_for(portfolio: Portfolio, service_id: int) -> Readiness:
    """Readiness of one service (the portfolio-wide analysis is memoised on the portfolio)."""
    with gc_paused():
        analysis = _analysis(portfolio)
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


def _readiness(portfolio: Portfolio, analysis: _Analysis, service: ServiceNode, cache: _BlockerCache) -> Readiness:
    sid = service.id
    if service.status in _DONE:
        state = ReadinessState.MIGRATED if service.status in _MIGRATED else ReadinessState.RESOLVED
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


def _nearest_blockers(analysis: _Analysis, sid: int, cache: _BlockerCache) -> list[Blocker]:
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


# --- Leverage ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeverageRow(_AsDict):
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
        return _leverage(portfolio, _analysis(portfolio))


def _leverage(portfolio: Portfolio, analysis: _Analysis) -> list[LeverageRow]:
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
        if key < 0:
            capability = portfolio.capabilities[~key]
            identity = (BlockerKind.CAPABILITY, capability.id, capability.key, capability.planned_date, None, None)
        else:
            identity = (BlockerKind.SERVICE, None, "", None, key, services[key].owner_id)
        rows.append(
            LeverageRow(
                *identity,
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
        key=lambda r: (-r.transitive_volume, -r.transitive_count, _KIND_RANK[r.kind], r.capability_id or r.service_id)
    )
    return rows


# --- Slip impact ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnerImpact(_AsDict):
    owner_id: int
    service_count: int
    yearly_volume: int


@dataclass(frozen=True, slots=True)
class SlipImpact(_AsDict):
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
        if services[service_id].status not in _DONE:
            start = portfolio.hard_dependents.get(service_id, ())
    elif capability_id not in portfolio.capabilities:
        raise KeyError(capability_id)
    else:
        start = portfolio.capability_dependents.get(capability_id, ())

    direct = [sid for sid in start if services[sid].status not in _DONE]
    seen = set(direct)
    queue = deque(direct)
    dependents = portfolio.hard_dependents
    while queue:
        for sid in dependents.get(queue.popleft(), ()):
            if sid not in seen and services[sid].status not in _DONE:
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


# --- Waves ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wave(_AsDict):
    number: int  # 1-based
    service_ids: tuple[int, ...]
    yearly_volume: int


@dataclass(frozen=True, slots=True)
class WavePlan(_AsDict):
    """A suggested order: wave n holds open services whose open hard dependencies are all in waves < n.

    Done services belong to no wave. Services in a hard cycle cannot be ordered and are listed in
    ``cycle_service_ids``; services that depend on a cycle (directly or down a chain) wait for it to
    be broken and are listed in ``behind_cycle_service_ids``.
    """

    waves: tuple[Wave, ...]
    cycle_service_ids: tuple[int, ...]
    behind_cycle_service_ids: tuple[int, ...]


def waves(portfolio: Portfolio) -> WavePlan:
    """Topological layers of the open services over hard service edges (the longest chain below each).

    Capabilities do not place a service in a wave: their dates are on the roadmap, not in the graph.
    """
    with gc_paused():
        analysis = _analysis(portfolio)
    stuck = analysis.behind_cycle.union(analysis.cycle_of)
    open_deps = analysis.open_deps
    layer: dict[int, int] = {}
    for sid in analysis.order:
        if sid in stuck:
            continue
        deps = open_deps.get(sid)
        layer[sid] = 1 + max(layer[dep] for dep in deps) if deps else 1
    members: dict[int, list[int]] = {}
    for sid, number in layer.items():
        members.setdefault(number, []).append(sid)
    services = portfolio.services
    plan = tuple(
        Wave(number, tuple(sorted(ids)), sum(services[sid].yearly_volume for sid in ids))
        for number, ids in sorted(members.items())
    )
    return WavePlan(
        waves=plan,
        cycle_service_ids=tuple(sorted(analysis.cycle_of)),
        behind_cycle_service_ids=tuple(sorted(analysis.behind_cycle)),
    )
