"""The dependency graph as the engine sees it: the input nodes, the portfolio with its adjacency, and
the one analysis that readiness, leverage and waves all read.

Pure functions over plain data (STYLE.md, rule 2): the loader turns rows into the frozen input nodes
below; ``readiness``, ``leverage`` and ``waves`` return frozen dataclasses of ints, strings, dates and
tuples.

Vocabulary used throughout the engine:

* An **open** service is one whose status is not in ``lifecycle.DONE`` (neither migrated nor resolved).
* A hard dependency is **unmet** when it is a capability that is not delivered, or a service that is
  open. A done dependency (migrated, decommissioned or re-implemented elsewhere) never blocks: once
  it is out of Altinn II, nothing that needs it waits for it any more. Soft dependencies never block.
* The **blockers** of an open service are every unmet thing it reaches along hard edges, walking only
  through open services. If A needs B and B waits for payment, A is blocked by B *and* by payment
  (path B → payment): delivering payment alone does not unblock A, because B must still move first.
  A done service ends the walk, so it neither blocks nor passes on what it once waited for.

The blocker sets are computed once per portfolio (``analysis_of``, memoised on the portfolio),
dependencies before dependents (Kahn's order, with Tarjan's algorithm only for what is left over, i.e.
cycles and what sits behind them), each set the union of its dependencies' sets. The cost is
O(V + E + Σ|blockers|), which is linear for the shallow dependency chains real portfolios have.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from .lifecycle import DONE_VALUES

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


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


class AsDict:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts, tuples, ints, strings and dates, ready for a JSON encoder that knows dates."""
        return dataclasses.asdict(cast("DataclassInstance", self))  # every subclass is a dataclass


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


def names_one_target(on_service: object | None, on_capability: object | None) -> bool:
    """The rule for every dependency: it names exactly one target, another service or a capability.

    The one spelling of it: the engine checks its input edges with it, and validators.py turns it into
    the error that forms, the API and services give (the database enforces it with a check constraint).
    """
    return (on_service is None) != (on_capability is None)


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
                if not names_one_target(on_service, on_capability):
                    raise ValueError(f"edge from service {sid} must name exactly one target")
                if not hard or sid not in services:
                    continue
                if on_service is not None:
                    if on_service in services:
                        on_services.setdefault(sid, []).append(on_service)
                elif on_capability is not None and on_capability in capabilities:
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
class Analysis:
    """What every question about the graph starts from (engine-internal; read it via ``analysis_of``)."""

    # Open services only. Blocker sets hold service ids as themselves and capability ids as ~id
    # (negative), so one set and one C-level union covers both kinds.
    blockers: dict[int, frozenset[int]]
    open_deps: dict[int, tuple[int, ...]]  # open hard service dependencies
    unmet_caps: dict[int, tuple[int, ...]]  # undelivered hard capabilities
    order: list[int]  # every open service, dependencies before dependents (a cycle's members adjacent)
    cycle_of: dict[int, tuple[int, ...]]  # member → the sorted members of its hard cycle
    behind_cycle: frozenset[int]  # open services that reach a cycle but are not in one
    capability_keys: frozenset[int]  # ~id of every undelivered capability


def analysis_of(portfolio: Portfolio) -> Analysis:
    """The portfolio's analysis, computed on first use and memoised on the portfolio."""
    cached = portfolio._memo.get("analysis")
    if cached is None:
        cached = portfolio._memo["analysis"] = _analyse(portfolio)
    return cached


def _analyse(portfolio: Portfolio) -> Analysis:
    services = portfolio.services
    delivered = {cid for cid, capability in portfolio.capabilities.items() if capability.delivered}
    open_ids = [sid for sid, service in services.items() if service.status not in DONE_VALUES]
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
    return Analysis(blockers, open_deps, unmet_caps, order, cycle_of, behind_cycle, capability_keys)


def _strongly_connected(nodes: Sequence[int], successors: Callable[[int], Iterable[int]]) -> list[list[int]]:
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
