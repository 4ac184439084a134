"""Migration waves: a suggested order of the open services, layer by layer along hard service edges."""

from __future__ import annotations

from dataclasses import dataclass

from .portfolio import AsDict, Portfolio, analysis_of, gc_paused


@dataclass(frozen=True, slots=True)
class Wave(AsDict):
    number: int  # 1-based
    service_ids: tuple[int, ...]
    yearly_volume: int


@dataclass(frozen=True, slots=True)
class WavePlan(AsDict):
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
        analysis = analysis_of(portfolio)
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
