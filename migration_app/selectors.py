"""Reads that feed pages, the API, e-mails and reports. Each returns a queryset or plain data shaped
for its consumer, with the joins it needs done here, once.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Prefetch, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from .choices import PROJECT_LEADS_GROUP, MembershipRole
from .models import (
    Dependency,
    Milestone,
    PlatformCapability,
    PortfolioResult,
    PortfolioState,
    Service,
    ServiceOwner,
    ServiceReadiness,
    StatusChange,
)

User = AbstractBaseUser | AnonymousUser


def user_is_lead(user: User) -> bool:
    """Project leads (the programme team, or superusers) have rights over every organisation."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    # Cached on the user object: one query per request however many checks a page makes.
    if not hasattr(user, "_tracker_is_lead"):
        user._tracker_is_lead = user.groups.filter(name=PROJECT_LEADS_GROUP).exists()  # type: ignore[union-attr]
    return user._tracker_is_lead  # type: ignore[union-attr]


def owner_roles_for(user: User) -> dict[int, str]:
    """{owner id: role} for the user's memberships, cached on the user object."""
    if not user.is_authenticated:
        return {}
    if not hasattr(user, "_tracker_owner_roles"):
        user._tracker_owner_roles = dict(user.memberships.values_list("owner_id", "role"))  # type: ignore[union-attr]
    return user._tracker_owner_roles  # type: ignore[union-attr]


def user_can_edit_owner(user: User, owner_id: int) -> bool:
    """Leads edit everything; an editor edits their own organisations; viewers edit nothing."""
    return user_is_lead(user) or owner_roles_for(user).get(owner_id) == MembershipRole.EDITOR


def service_catalog(*, owner_id: int | None = None) -> QuerySet[Service]:
    """Services for list pages: owner and stored readiness joined, so a page of rows costs one query."""
    qs = Service.objects.select_related("owner", "readiness")
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    return qs


def service_detail(*, pk: int) -> Service:
    """One service with its owner, dependencies both ways and status history, in a fixed number of queries."""
    return (
        Service.objects.select_related("owner")
        .prefetch_related(
            Prefetch(
                "dependencies",
                queryset=Dependency.objects.select_related("depends_on_service__owner", "depends_on_capability"),
            ),
            Prefetch("dependents", queryset=Dependency.objects.select_related("service__owner")),
            Prefetch("status_changes", queryset=StatusChange.objects.select_related("changed_by")),
        )
        .get(pk=pk)
    )


# --- Inputs for the engine: plain tuples, read in a fixed number of queries -------------------------


def portfolio_load() -> tuple[list, list, list]:
    """Every service, capability and dependency edge as engine input nodes (three queries).

    ``values_list`` skips model instantiation: at 100,000 services this is most of the floor that the
    recompute benchmark compares against.
    """
    from .choices import CapabilityStatus, DependencyStrength
    from .engine.graph import CapabilityNode, Edge, ServiceNode
    from .models import PlatformCapability

    services = [
        ServiceNode(*row)
        for row in Service.objects.order_by().values_list(
            "id", "owner_id", "service_type", "status", "target", "target_date", "yearly_volume"
        )
    ]
    capabilities = [
        CapabilityNode(pk, key, status == CapabilityStatus.DELIVERED, planned)
        for pk, key, status, planned in PlatformCapability.objects.order_by().values_list(
            "id", "key", "status", "planned_date"
        )
    ]
    edges = [
        Edge(service_id, on_service, on_capability, strength == DependencyStrength.HARD)
        for service_id, on_service, on_capability, strength in Dependency.objects.order_by().values_list(
            "service_id", "depends_on_service_id", "depends_on_capability_id", "strength"
        )
    ]
    return services, capabilities, edges


def done_arrivals_load(*, since: datetime.date) -> list:
    """Status changes since ``since`` that brought a service from open to done, as forecast events.

    One query, filtered in the database: a move from an open status to a done one is exactly an
    arrival (engine.progress.done_arrivals), so the forecast needs no other rows. The local (Oslo)
    date is computed by the database, not per row in Python.
    """
    from .engine.lifecycle import DONE
    from .engine.progress import StatusEvent

    start = timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))
    rows = (
        StatusChange.objects.filter(changed_at__gte=start, to_status__in=DONE)
        .exclude(from_status__in=DONE)
        .annotate(on=TruncDate("changed_at"))
        .order_by("changed_at", "id")
        .values_list("service_id", "to_status", "on", "from_status")
    )
    return [StatusEvent(sid, to, on, before) for sid, to, on, before in rows]


def status_changes_load() -> list:
    """The whole status history as replay changes (local dates), oldest first: one query."""
    from .engine.history import Change

    rows = StatusChange.objects.order_by("changed_at", "id").values_list(
        "service_id", "changed_at", "from_status", "to_status"
    )
    tz = timezone.get_current_timezone()
    return [Change(sid, at.astimezone(tz).date(), from_status, to_status) for sid, at, from_status, to_status in rows]


def owner_codes_load() -> dict[int, str]:
    return dict(ServiceOwner.objects.values_list("id", "code"))


def deadline_date() -> datetime.date | None:
    """The date forecasts are measured against: the deadline milestone, else the latest milestone."""
    milestone = Milestone.objects.order_by("-is_deadline", "-date").first()
    return milestone.date if milestone else None


# --- Engine results for pages, the API and e-mails: stored by the recompute, read in fixed queries --


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


def portfolio_freshness() -> Freshness:
    """One query: the portfolio state row."""
    state = PortfolioState.objects.filter(pk=1).first()
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
    blockers = row.detail.get("blockers", [])
    service_ids = {pk for b in blockers for pk in b.get("path", ())} | {
        b["service_id"] for b in blockers if b.get("service_id")
    }
    capability_ids = {b["capability_id"] for b in blockers if b.get("capability_id")}
    services = Service.objects.select_related("owner").in_bulk(service_ids) if service_ids else {}
    capabilities = PlatformCapability.objects.in_bulk(capability_ids) if capability_ids else {}
    views = tuple(
        BlockerView(
            kind=b["kind"],
            capability=capabilities.get(b.get("capability_id")),
            service=services.get(b.get("service_id")),
            planned_date=datetime.date.fromisoformat(b["planned_date"]) if b.get("planned_date") else None,
            missing=b.get("missing", ""),
            path=tuple(services[pk] for pk in b.get("path", ()) if pk in services),
        )
        for b in blockers
    )
    return ReadinessView(
        state=row.state,
        score=row.score,
        parts=tuple((label, points) for label, points in row.detail.get("parts", [])),
        blockers=views,
        capability_blocker_count=row.detail.get("capability_blocker_count", 0),
        service_blocker_count=row.detail.get("service_blocker_count", 0),
        freshness=portfolio_freshness(),
    )


def portfolio_result(kind: str) -> PortfolioResult | None:
    return PortfolioResult.objects.filter(kind=kind).first()


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


def leverage_list(*, limit: int | None = None, results: Mapping[str, Any] | None = None) -> list[LeverageView]:
    """The project leads' priority list with names: three queries (result, capabilities, services)."""
    if results is not None:
        rows = results.get(PortfolioResult.Kind.LEVERAGE, [])
    else:
        stored = portfolio_result(PortfolioResult.Kind.LEVERAGE)
        rows = stored.data if stored else []
    rows = rows[:limit] if limit else rows
    capabilities = PlatformCapability.objects.in_bulk({r["capability_id"] for r in rows if r["capability_id"]})
    services = Service.objects.select_related("owner").in_bulk({r["service_id"] for r in rows if r["service_id"]})
    return [
        LeverageView(
            kind=r["kind"],
            capability=capabilities.get(r["capability_id"]),
            service=services.get(r["service_id"]),
            planned_date=datetime.date.fromisoformat(r["planned_date"]) if r.get("planned_date") else None,
            direct_count=r["direct_count"],
            transitive_count=r["transitive_count"],
            transitive_volume=r["transitive_volume"],
            unblocks_count=r["unblocks_count"],
            unblocks_volume=r["unblocks_volume"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class OwnerProgressRow:
    owner: ServiceOwner
    total_count: int
    done_count: int
    pct_done_count: float
    total_volume: int
    done_volume: int
    pct_done_volume: float
    forecast_status: str
    p85_date: datetime.date | None


@dataclass(frozen=True)
class ProgrammeOverview:
    """Everything the programme page shows from stored results, named, in a fixed number of queries."""

    overall: Mapping[str, Any] | None
    forecast: Mapping[str, Any] | None
    owners: list[OwnerProgressRow]
    leverage: list[LeverageView]
    waves: list[Mapping[str, Any]]
    cycle_count: int
    overdue_count: int
    freshness: Freshness


def programme_overview(*, leverage_limit: int = 15) -> ProgrammeOverview:
    """Queries: stored results (one), owners (one), leverage names (two), freshness (one)."""
    results = {r.kind: r.data for r in PortfolioResult.objects.all()}
    progress_data = results.get(PortfolioResult.Kind.PROGRESS) or {}
    forecast_data = results.get(PortfolioResult.Kind.FORECAST) or {}
    owners = ServiceOwner.objects.in_bulk([int(pk) for pk in progress_data.get("by_owner", {})])
    forecasts = forecast_data.get("by_owner", {})
    rows = []
    for owner_id, figures in progress_data.get("by_owner", {}).items():
        owner_forecast = forecasts.get(owner_id, {})
        rows.append(
            OwnerProgressRow(
                owner=owners[int(owner_id)],
                total_count=figures["total_count"],
                done_count=figures["done_count"],
                pct_done_count=figures["pct_done_count"],
                total_volume=figures["total_volume"],
                done_volume=figures["done_volume"],
                pct_done_volume=figures["pct_done_volume"],
                forecast_status=owner_forecast.get("status", ""),
                p85_date=datetime.date.fromisoformat(owner_forecast["p85_date"])
                if owner_forecast.get("p85_date")
                else None,
            )
        )
    # Furthest behind first: the least done by volume, then by count.
    rows.sort(key=lambda r: (r.pct_done_volume, r.pct_done_count, r.owner.code))
    wave_data = results.get(PortfolioResult.Kind.WAVES) or {}
    return ProgrammeOverview(
        overall=progress_data.get("overall"),
        forecast=forecast_data.get("overall"),
        owners=rows,
        leverage=leverage_list(limit=leverage_limit, results=results),
        waves=[
            {"number": w["number"], "count": len(w["service_ids"]), "yearly_volume": w["yearly_volume"]}
            for w in wave_data.get("waves", [])
        ],
        cycle_count=len(wave_data.get("cycle_service_ids", [])),
        overdue_count=len(progress_data.get("overdue", [])),
        freshness=portfolio_freshness(),
    )
