"""Inputs for the pure engine: plain tuples, read in a fixed number of queries."""

from __future__ import annotations

import datetime

from django.db.models import BooleanField, Case, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from ..choices import CapabilityStatus, DependencyStrength
from ..engine.history import Change
from ..engine.lifecycle import DONE
from ..engine.portfolio import CapabilityNode, ServiceNode
from ..engine.progress import StatusEvent
from ..models import (
    Dependency,
    PlatformCapability,
    Service,
    ServiceOwner,
    StatusChange,
)


def portfolio_load() -> tuple[list, list, list]:
    """Every service, capability and dependency edge as engine input nodes (three queries).

    ``values_list`` skips model instantiation: at 100,000 services this is most of the floor that the
    recompute benchmark compares against.
    """

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
    # The database says whether each edge is hard.
    hard = Case(
        When(strength=DependencyStrength.HARD, then=Value(True)), default=Value(False), output_field=BooleanField()
    )
    # Rows in Edge's field order: the engine unpacks edges positionally, so they need no conversion.
    edges = list(
        Dependency.objects.order_by()
        .annotate(hard=hard)
        .values_list("service_id", "depends_on_service_id", "depends_on_capability_id", "hard")
    )
    return services, capabilities, edges


def done_arrivals_load(*, since: datetime.date) -> list:
    """Status changes since ``since`` that brought a service from open to done, as forecast events.

    One query, filtered in the database: a move from an open status to a done one is exactly an
    arrival (engine.progress.done_arrivals), so the forecast needs no other rows. The local (Oslo)
    date is computed by the database, not per row in Python.
    """

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

    rows = StatusChange.objects.order_by("changed_at", "id").values_list(
        "service_id", "changed_at", "from_status", "to_status"
    )
    tz = timezone.get_current_timezone()
    return [Change(sid, at.astimezone(tz).date(), from_status, to_status) for sid, at, from_status, to_status in rows]


def owner_codes_load() -> dict[int, str]:
    return dict(ServiceOwner.objects.values_list("id", "code"))
