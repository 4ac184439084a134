"""Reads that feed pages, the API, e-mails and reports. Each returns a queryset or plain data shaped
for its consumer, with the joins it needs done here, once.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from .choices import PROJECT_LEADS_GROUP, MembershipRole
from .models import Dependency, Milestone, Service, ServiceOwner, StatusChange

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
    """Services for list pages: owner joined, so a page of rows costs one query."""
    qs = Service.objects.select_related("owner")
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


def status_events_load(*, since: datetime.date) -> list:
    """Status changes since ``since`` as forecast events (local dates), oldest first: one query."""
    from .engine.progress import StatusEvent

    start = timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))
    rows = (
        StatusChange.objects.filter(changed_at__gte=start)
        .order_by("changed_at", "id")
        .values_list("service_id", "to_status", "changed_at", "from_status")
    )
    # from_status lets the forecast tell a first arrival at done from a move between done statuses
    # even for a service whose earlier history lies outside the window.
    return [StatusEvent(sid, to, timezone.localdate(at), before) for sid, to, at, before in rows]


def status_changes_load() -> list:
    """The whole status history as replay changes (local dates), oldest first: one query."""
    from .engine.history import Change

    rows = StatusChange.objects.order_by("changed_at", "id").values_list(
        "service_id", "changed_at", "from_status", "to_status"
    )
    return [Change(sid, timezone.localdate(at), from_status, to_status) for sid, at, from_status, to_status in rows]


def owner_codes_load() -> dict[int, str]:
    return dict(ServiceOwner.objects.values_list("id", "code"))


def deadline_date() -> datetime.date | None:
    """The date forecasts are measured against: the deadline milestone, else the latest milestone."""
    milestone = Milestone.objects.order_by("-is_deadline", "-date").first()
    return milestone.date if milestone else None
