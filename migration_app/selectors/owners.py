"""The "my organisation" page: an owner's services by status, what blocks them, whom they block."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone

from ..choices import STATUS_ORDER, DependencyStrength, MigrationStatus
from ..engine.codec import blockers_decode_many
from ..engine.lifecycle import DONE
from ..engine.progress import Due, StatusTally, due_state
from ..i18n import localized_name
from ..models import (
    Dependency,
    PlatformCapability,
    Service,
    ServiceOwner,
    StatusChange,
)
from .results import Freshness, portfolio_freshness

# Rows shown per status group on the organisation page; the catalog link lists the rest.
OWNER_GROUP_ROWS = 25


@dataclass(frozen=True)
class StatusGroup:
    status: str
    label: str
    count: int
    volume: int
    services: list[Service]


@dataclass(frozen=True)
class WaitingOn:
    """Something outside the organisation's control that some of its services wait for."""

    capability: PlatformCapability | None
    service: Service | None
    our_services: list[Service]
    our_volume: int


@dataclass(frozen=True)
class OwnerOverview:
    owner: ServiceOwner
    groups: list[StatusGroup]
    total_count: int
    total_volume: int
    done_count: int
    done_volume: int
    migrated_count: int
    migrated_volume: int
    blocked_by: list[WaitingOn]
    blocking: list[Dependency]
    overdue: list[Service]
    due_soon: list[Service]
    recent_changes: list[StatusChange]
    freshness: Freshness

    @property
    def pct_done_count(self) -> float:
        return round(100 * self.done_count / self.total_count, 1) if self.total_count else 0.0

    @property
    def pct_done_volume(self) -> float:
        return round(100 * self.done_volume / self.total_volume, 1) if self.total_volume else 0.0


def owner_overview(*, owner: ServiceOwner, today: datetime.date | None = None, recent: int = 15) -> OwnerOverview:
    """The "my organisation" page in six queries whatever the number of services.

    Queries: the owner's services with readiness (one), capabilities and other services named in their
    blockers (two), other owners' open services waiting for ours (one), recent status changes (one),
    freshness (one).
    """

    today = today or timezone.localdate()
    services = list(
        Service.objects.filter(owner=owner).select_related("readiness").order_by("service_code", "edition_code")
    )
    by_status: dict[str, list[Service]] = {}
    tally = StatusTally()
    for service in services:
        service.owner = owner  # already known: no query per row for the owner's name
        by_status.setdefault(service.status, []).append(service)
        tally.add(service.status, service.yearly_volume)
    figures = tally.figures()
    labels = dict(MigrationStatus.choices)
    groups = [
        StatusGroup(
            status=status,
            label=str(labels[status]),
            count=figures.count_by_status[status],
            volume=figures.volume_by_status[status],
            services=by_status[status][:OWNER_GROUP_ROWS],
        )
        for status in STATUS_ORDER
        if status in by_status
    ]

    # What blocks us: root causes from the stored readiness, grouped by what they are waiting for.
    waiting: dict[tuple[str, int], list[Service]] = {}
    blocked = [s for s in services if getattr(s, "readiness", None) is not None and s.readiness.state == "blocked"]
    for service, blockers in zip(blocked, blockers_decode_many(s.readiness.detail for s in blocked), strict=True):
        for blocker in blockers:
            if blocker.kind == "capability" and blocker.capability_id:
                key = ("capability", blocker.capability_id)
            elif blocker.kind == "service" and blocker.service_id and blocker.owner_id != owner.pk:
                key = ("service", blocker.service_id)
            else:
                continue
            # Services come one at a time, so a service already listed under this key is the last one:
            # no scan of the list (a capability can hold back thousands of one owner's services).
            ours = waiting.setdefault(key, [])
            if not ours or ours[-1] is not service:
                ours.append(service)
    capabilities = PlatformCapability.objects.in_bulk([pk for kind, pk in waiting if kind == "capability"])
    others = Service.objects.select_related("owner").in_bulk([pk for kind, pk in waiting if kind == "service"])
    blocked_by = [
        WaitingOn(
            capability=capabilities.get(pk) if kind == "capability" else None,
            service=others.get(pk) if kind == "service" else None,
            our_services=ours,
            our_volume=sum(s.yearly_volume for s in ours),
        )
        for (kind, pk), ours in waiting.items()
        if (capabilities if kind == "capability" else others).get(pk) is not None
    ]
    blocked_by.sort(key=lambda w: (-w.our_volume, -len(w.our_services)))

    # Whom we block: other owners' open services with a hard dependency on one of ours not yet migrated.
    blocking = list(
        Dependency.objects.filter(
            depends_on_service__owner=owner, strength=DependencyStrength.HARD, depends_on_service__isnull=False
        )
        .exclude(service__owner=owner)
        .exclude(service__status__in=DONE)
        .exclude(depends_on_service__status__in=DONE)
        .select_related("service__owner", "depends_on_service")
        .order_by("depends_on_service__service_code", "service__service_code")[:200]
    )
    by_due: dict[str | None, list[Service]] = {Due.OVERDUE: [], Due.DUE_SOON: []}
    for service in services:
        by_due.setdefault(due_state(service.status, service.target_date, today), []).append(service)
    # Every overdue or due-soon service has a target date (due_state); the fallback only satisfies the types.
    overdue = sorted(by_due[Due.OVERDUE], key=lambda s: s.target_date or datetime.date.max)
    due_soon = sorted(by_due[Due.DUE_SOON], key=lambda s: s.target_date or datetime.date.max)
    recent_changes = list(
        StatusChange.objects.filter(service__owner=owner).select_related("service", "changed_by")[:recent]
    )
    return OwnerOverview(
        owner=owner,
        groups=groups,
        total_count=figures.total_count,
        total_volume=figures.total_volume,
        done_count=figures.done_count,
        done_volume=figures.done_volume,
        migrated_count=figures.migrated_count,
        migrated_volume=figures.migrated_volume,
        blocked_by=blocked_by[:50],
        blocking=blocking,
        overdue=overdue[:100],
        due_soon=due_soon[:100],
        recent_changes=recent_changes,
        freshness=portfolio_freshness(),
    )


def owner_code(owner_id: int) -> str:
    """One organisation's code (for a link to its page): one query."""
    return ServiceOwner.objects.values_list("code", flat=True).get(pk=owner_id)


def owners_to_choose(*, first: set[int]) -> list[ServiceOwner]:
    """Organisations that own services, with ``service_count``: those in ``first`` (the user's own) first,
    then by name as the reader reads it. One query."""
    owners: list[ServiceOwner] = list(
        ServiceOwner.objects.annotate(service_count=Count("services")).filter(service_count__gt=0).order_by("name_nb")
    )
    owners.sort(key=lambda o: (o.pk not in first, localized_name(o).lower()))
    return owners
