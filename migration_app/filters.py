"""FilterSets shared by the web pages and the REST API (NetBox style): one definition of what a query
parameter means, so `/services/?status=testing&owner=skd` and the API's list answer the same question.

Every filter takes repeated values (`?status=analysis&status=testing`), and an empty value means no filter.
The FilterSet holds meaning only: how the catalog page offers each filter (selects, hidden inputs, the
search box) is its filter form's business, ``forms.ServiceFilterForm``.
"""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django import forms
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.fields import ModelMultipleChoiceField, MultipleChoiceField

from .choices import STATUS_ORDER, MigrationStatus, ReadinessState, ServiceType
from .i18n import localized_name_expression
from .models import Dependency, PlatformCapability, Service, ServiceOwner, ServiceQuerySet

# "3906/2" or "3906 / 2" in the search box means an Altinn II key: service code and edition code.
ALTINN2_KEY = re.compile(r"^\s*(?P<code>[^/\s]+)\s*/\s*(?P<edition>\d{1,9})\s*$")


def _status_rank() -> Case:
    return Case(
        *(When(status=status, then=Value(rank)) for rank, status in enumerate(STATUS_ORDER)),
        default=Value(len(STATUS_ORDER)),
        output_field=IntegerField(),
    )


# `?sort=` keys and the columns behind them; `-key` sorts descending. Anything else is ignored.
SERVICE_SORTS: dict[str, tuple[str, ...]] = {
    "code": ("service_code", "edition_code"),
    "name": ("sort_name",),
    "owner": ("owner__code",),
    "volume": ("yearly_volume",),
    "status": ("status_rank",),
    "target_date": ("target_date",),
    "readiness": ("readiness__score",),
    "updated": ("updated_at",),
}
# Always appended, so pages never overlap or skip rows when the chosen column has ties.
SERVICE_SORT_TIEBREAK: tuple[str, ...] = ("service_code", "edition_code", "pk")


def parse_sort(value: str | None) -> tuple[str, bool] | None:
    """``"-volume"`` → ``("volume", True)``; None for an empty or unknown key."""
    if not value:
        return None
    descending = value.startswith("-")
    key = value.removeprefix("-")
    if key not in SERVICE_SORTS:
        return None
    return key, descending


def sort_services(queryset: QuerySet[Service], value: str | None) -> QuerySet[Service]:
    """Order by a whitelisted column, nulls last in both directions, with a stable tie-break."""
    parsed = parse_sort(value)
    if parsed is None:
        return queryset
    key, descending = parsed
    if key == "name":
        queryset = queryset.annotate(sort_name=localized_name_expression())
    elif key == "status":
        queryset = queryset.annotate(status_rank=_status_rank())
    columns = [
        F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_last=True)
        for column in SERVICE_SORTS[key]
    ]
    return queryset.order_by(*columns, *SERVICE_SORT_TIEBREAK)


class IntegerFilter(django_filters.NumberFilter):
    """A whole-number filter: ``?volume_min=1.5`` is an error rather than a silently rounded 1."""

    field_class = forms.IntegerField


class _EmptyMeansAll(forms.Field):
    """Repeated values with the empty ones left out: ``?status=`` (the page's "All", or an API client's
    empty parameter) means no filter, not the value ''. Mixed in before a multiple-choice field, whose
    ``clean`` it extends."""

    def clean(self, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            value = [item for item in value if item not in ("", None)]
        return super().clean(value)


class _RepeatedChoiceField(_EmptyMeansAll, MultipleChoiceField):
    pass


class _RepeatedModelChoiceField(_EmptyMeansAll, ModelMultipleChoiceField):
    pass


class RepeatedChoiceFilter(django_filters.MultipleChoiceFilter):
    """Any of the given choices; empty values are ignored."""

    field_class = _RepeatedChoiceField


class RepeatedModelChoiceFilter(django_filters.ModelMultipleChoiceFilter):
    """Any of the given rows (by ``to_field_name``); empty values are ignored."""

    field_class = _RepeatedModelChoiceField


class ServiceFilterSet(django_filters.FilterSet):
    """Catalog filters: owner (by org code), Altinn II type, migration status, free text and sort; and
    readiness, capability, target-date range and volume range (the API's, and any hand-made link's)."""

    q = django_filters.CharFilter(method="search", label=_("Search"))
    owner = RepeatedModelChoiceFilter(
        # Filter by the owner's code ("skd"): readable, shareable URLs and the same key the API uses.
        field_name="owner__code",
        to_field_name="code",
        queryset=ServiceOwner.objects.order_by("name_nb"),
        label=_("Service owner"),
        distinct=False,
    )
    type = RepeatedChoiceFilter(
        field_name="service_type",
        choices=ServiceType.choices,
        label=_("Type"),
        distinct=False,
    )
    status = RepeatedChoiceFilter(
        field_name="status",
        choices=MigrationStatus.choices,
        label=_("Status"),
        distinct=False,
    )
    sort = django_filters.CharFilter(method="sort_by", label=_("Sort"))
    readiness = RepeatedChoiceFilter(
        field_name="readiness__state",
        choices=ReadinessState.choices,
        label=_("Readiness"),
        distinct=False,
    )
    capability = RepeatedModelChoiceFilter(
        # By key ("payment"), like owners by code. Any declared dependency counts, hard or soft.
        to_field_name="key",
        queryset=PlatformCapability.objects.all(),
        method="needs_capability",
        label=_("Needs capability"),
    )
    target_date_from = django_filters.DateFilter(
        field_name="target_date", lookup_expr="gte", label=_("Target date from")
    )
    target_date_to = django_filters.DateFilter(field_name="target_date", lookup_expr="lte", label=_("Target date to"))
    volume_min = IntegerFilter(
        field_name="yearly_volume",
        lookup_expr="gte",
        min_value=0,
        label=_("Yearly volume at least"),
    )
    volume_max = IntegerFilter(
        field_name="yearly_volume",
        lookup_expr="lte",
        min_value=0,
        label=_("Yearly volume at most"),
    )
    # Open services whose target date has passed (the web catalog's "overdue" filter).
    overdue = django_filters.ChoiceFilter(
        method="overdue_only", choices=[("yes", _("Overdue only"))], empty_label=_("All"), label=_("Overdue")
    )

    class Meta:
        model = Service
        fields: list[str] = []

    def search(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        value = value.strip()
        if not value:
            return queryset
        condition = (
            Q(name_nb__icontains=value)
            | Q(name_en__icontains=value)
            | Q(service_code__icontains=value)
            | Q(edition_name__icontains=value)
        )
        if key := ALTINN2_KEY.match(value):
            condition |= Q(service_code__iexact=key["code"], edition_code=int(key["edition"]))
        return queryset.filter(condition)

    def sort_by(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        return sort_services(queryset, value)

    def needs_capability(
        self, queryset: QuerySet[Service], name: str, value: QuerySet[PlatformCapability]
    ) -> QuerySet[Service]:
        if not value:
            return queryset
        # EXISTS rather than a join: a service needing two of the chosen capabilities is listed once.
        edges = Dependency.objects.filter(service=OuterRef("pk"), depends_on_capability__in=value)
        return queryset.filter(Exists(edges))

    def overdue_only(self, queryset: ServiceQuerySet, name: str, value: str) -> QuerySet[Service]:
        if value != "yes":
            return queryset
        return queryset.overdue(timezone.localdate())
