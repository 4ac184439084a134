"""FilterSets of the API's own lists (the service catalog's is the pages' ``filters.ServiceFilterSet``).

``from`` and ``to`` are Python keywords, so they cannot be class attributes; the FilterSets that take
them are built with ``type()``, which hands the metaclass the same namespace a class body would.
"""

from __future__ import annotations

import datetime

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..choices import DependencyStrength, MigrationStatus
from ..filters import IntegerFilter
from ..models import Dependency, ProgressSnapshot, ServiceOwner, StatusChange


def _owner_filter(field_name: str) -> django_filters.ModelMultipleChoiceFilter:
    return django_filters.ModelMultipleChoiceFilter(
        field_name=field_name,
        to_field_name="code",
        queryset=ServiceOwner.objects.all(),
        label=_("Service owner (org code)"),
        distinct=False,
    )


class DependencyFilterSet(django_filters.FilterSet):
    """Edges by the service that needs (``service``, ``owner``), what it needs, and strength."""

    service = IntegerFilter(field_name="service_id", label=_("The service that needs (id)"))
    depends_on_service = IntegerFilter(field_name="depends_on_service_id", label=_("The service needed (id)"))
    depends_on_capability = IntegerFilter(field_name="depends_on_capability_id", label=_("The capability needed (id)"))
    owner = _owner_filter("service__owner__code")
    strength = django_filters.ChoiceFilter(choices=DependencyStrength.choices)

    class Meta:
        model = Dependency
        fields: list[str] = []


def _day_start(day: datetime.date) -> datetime.datetime:
    """Midnight at the start of ``day`` in the tracker's time zone (Oslo): "this week" is local."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class _StatusChangeFilters(django_filters.FilterSet):
    service = IntegerFilter(field_name="service_id", label=_("Service (id)"))
    owner = _owner_filter("service__owner__code")
    from_status = django_filters.MultipleChoiceFilter(choices=MigrationStatus.choices, distinct=False)
    to_status = django_filters.MultipleChoiceFilter(choices=MigrationStatus.choices, distinct=False)

    class Meta:
        model = StatusChange
        fields: list[str] = []

    def changed_from(self, queryset: QuerySet[StatusChange], name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(changed_at__gte=_day_start(value))

    def changed_to(self, queryset: QuerySet[StatusChange], name: str, value: datetime.date) -> QuerySet:
        # Inclusive of the whole day: before the next local midnight. A range on the indexed column
        # rather than a date cast of it.
        return queryset.filter(changed_at__lt=_day_start(value + datetime.timedelta(days=1)))


StatusChangeFilterSet = type(
    "StatusChangeFilterSet",
    (_StatusChangeFilters,),
    {
        "__module__": __name__,
        "__doc__": "Status changes by service, owner, statuses and a local date range (from/to inclusive).",
        "from": django_filters.DateFilter(method="changed_from", label=_("Changed on or after (date)")),
        "to": django_filters.DateFilter(method="changed_to", label=_("Changed on or before (date)")),
    },
)


class _SnapshotFilters(django_filters.FilterSet):
    scope = django_filters.ChoiceFilter(choices=ProgressSnapshot.Scope.choices)
    key = django_filters.CharFilter(
        field_name="scope_key", label=_("Owner code or service type, with scope=owner or scope=type")
    )

    class Meta:
        model = ProgressSnapshot
        fields: list[str] = []


ProgressSnapshotFilterSet = type(
    "ProgressSnapshotFilterSet",
    (_SnapshotFilters,),
    {
        "__module__": __name__,
        "__doc__": "Daily snapshots by scope, key and a day range (from/to inclusive).",
        "from": django_filters.DateFilter(field_name="day", lookup_expr="gte", label=_("From day")),
        "to": django_filters.DateFilter(field_name="day", lookup_expr="lte", label=_("To day")),
    },
)
