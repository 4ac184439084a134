"""Engine results for pages, the API and e-mails: stored by the recompute, read in fixed queries."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Subquery

from ..engine.codec import leverage_decode, readiness_decode
from ..engine.leverage import LeverageRow
from ..models import (
    PlatformCapability,
    PortfolioResult,
    PortfolioState,
    Service,
    ServiceReadiness,
)


@dataclass(frozen=True)
class Freshness:
    """When the stored results were computed, and whether changes have been made since."""

    computed_at: datetime.datetime | None
    fresh: bool


@dataclass(frozen=True)
class BlockerView:
    """One blocker with the names a person needs: what, whose, when, and the chain leading to it."""

    kind: str
    capability: PlatformCapability | None
    service: Service | None
    planned_date: datetime.date | None
    missing: str
    path: tuple[Service, ...]


@dataclass(frozen=True)
class ReadinessView:
    state: str
    score: int
    parts: tuple[tuple[str, int], ...]
    blockers: tuple[BlockerView, ...]
    capability_blocker_count: int
    service_blocker_count: int
    freshness: Freshness

    @property
    def blocker_count(self) -> int:
        """Every capability and service blocker, exact and transitive (``blockers`` lists the nearest)."""
        return self.capability_blocker_count + self.service_blocker_count


def portfolio_freshness() -> Freshness:
    """One query: the portfolio state row."""
    state = PortfolioState.objects.singleton().first()
    if state is None:
        return Freshness(computed_at=None, fresh=False)
    return Freshness(computed_at=state.computed_at, fresh=state.is_fresh)


def readiness_view(service: Service) -> ReadinessView | None:
    """The service's stored readiness with every blocker named: four queries whatever the blockers.

    Queries: the readiness row, the services named in blockers and paths (with owners), the
    capabilities named, and the freshness row.
    """
    row = ServiceReadiness.objects.filter(service=service).first()
    if row is None:
        return None
    readiness = readiness_decode(service_id=row.service_id, state=row.state, score=row.score, detail=row.detail)
    blockers = readiness.blockers
    service_ids = {pk for b in blockers for pk in b.path} | {b.service_id for b in blockers if b.service_id}
    capability_ids = {b.capability_id for b in blockers if b.capability_id}
    services = Service.objects.select_related("owner").in_bulk(service_ids) if service_ids else {}
    capabilities = PlatformCapability.objects.in_bulk(capability_ids) if capability_ids else {}
    views = tuple(
        BlockerView(
            kind=b.kind,
            capability=capabilities.get(b.capability_id) if b.capability_id else None,
            service=services.get(b.service_id) if b.service_id else None,
            planned_date=b.planned_date,
            missing=b.missing,
            path=tuple(services[pk] for pk in b.path if pk in services),
        )
        for b in blockers
    )
    return ReadinessView(
        state=readiness.state,
        score=readiness.score,
        parts=readiness.score_parts,
        blockers=views,
        capability_blocker_count=readiness.capability_blocker_count,
        service_blocker_count=readiness.service_blocker_count,
        freshness=portfolio_freshness(),
    )


@dataclass(frozen=True)
class LeverageView:
    kind: str
    capability: PlatformCapability | None
    service: Service | None
    planned_date: datetime.date | None
    direct_count: int
    transitive_count: int
    transitive_volume: int
    unblocks_count: int
    unblocks_volume: int


def leverage_list(*, limit: int | None = None, rows: Sequence[LeverageRow] | None = None) -> list[LeverageView]:
    """The project leads' priority list with names: three queries (result, capabilities, services).

    ``rows`` are decoded leverage rows already read (the programme page reads every result at once);
    without them the stored list is read, and only its first ``limit`` rows decoded.
    """
    if rows is None:
        rows = leverage_decode(engine_result_load(PortfolioResult.Kind.LEVERAGE).data, limit=limit)
    elif limit:
        rows = rows[:limit]
    capabilities = PlatformCapability.objects.in_bulk({r.capability_id for r in rows if r.capability_id})
    services = Service.objects.select_related("owner").in_bulk({r.service_id for r in rows if r.service_id})
    return [
        LeverageView(
            kind=r.kind,
            capability=capabilities.get(r.capability_id) if r.capability_id else None,
            service=services.get(r.service_id) if r.service_id else None,
            planned_date=r.planned_date,
            direct_count=r.direct_count,
            transitive_count=r.transitive_count,
            transitive_volume=r.transitive_volume,
            unblocks_count=r.unblocks_count,
            unblocks_volume=r.unblocks_volume,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class EngineResult:
    """One stored portfolio result: its data (None before the first recompute) and how current it is.

    ``fresh`` is true when no change that could affect it has been committed since it was computed.
    """

    kind: str
    data: Any
    computed_at: datetime.datetime | None
    revision: int | None
    fresh: bool


def engine_result_load(kind: str) -> EngineResult:
    """One query: the stored result with the portfolio's current revision read alongside it."""

    current = PortfolioState.objects.singleton().values("revision")[:1]
    row = (
        PortfolioResult.objects.filter(kind=kind)
        .annotate(current_revision=Subquery(current))
        .values("data", "computed_at", "revision", "current_revision")
        .first()
    )
    if row is None:
        return EngineResult(kind=kind, data=None, computed_at=None, revision=None, fresh=False)
    return EngineResult(
        kind=kind,
        data=row["data"],
        computed_at=row["computed_at"],
        revision=row["revision"],
        fresh=row["revision"] == row["current_revision"],
    )


def readiness_row(service_id: int) -> ServiceReadiness | None:
    """The stored readiness of one service, or None before the first recompute that saw it."""
    return ServiceReadiness.objects.filter(service_id=service_id).first()
