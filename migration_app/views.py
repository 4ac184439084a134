"""Pages: the service catalog, one service, and the programme. Views are thin: reads come from
``selectors.py`` and the shared FilterSet, writes (none here yet) would go through ``services.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from . import selectors
from .choices import CapabilityStatus, MigrationStatus
from .engine.lifecycle import DONE, MIGRATED
from .filters import ServiceFilterSet, parse_sort, wants_english
from .models import Milestone, Service

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# Designsystemet colour of the status tag: done in green, in progress in blue, resolved otherwise in grey.
STATUS_COLORS: dict[str, str] = {
    **dict.fromkeys(MigrationStatus.values, "info"),
    MigrationStatus.NOT_STARTED: "neutral",
    **dict.fromkeys(MIGRATED, "success"),
    **dict.fromkeys(DONE - MIGRATED, "neutral"),
}

CAPABILITY_COLORS: dict[str, str] = {
    CapabilityStatus.UNDER_REVIEW: "neutral",
    CapabilityStatus.BACKLOG: "warning",
    CapabilityStatus.IN_PROGRESS: "info",
    CapabilityStatus.DELIVERED: "success",
}


@dataclass(frozen=True)
class SortColumn:
    """One sortable column header: what it is called, how it is sorted now, and where a click goes."""

    key: str
    label: str
    aria_sort: str  # "ascending", "descending" or "none", as ARIA and Designsystemet's table expect
    next_sort: str


SORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("code", _("Code / edition")),
    ("name", _("Name")),
    ("owner", _("Owner")),
    ("status", _("Status")),
    ("volume", _("Yearly volume")),
    ("target_date", _("Target date")),
)


def is_htmx(request: HttpRequest) -> bool:
    """An htmx swap wants a fragment; a history restore after a cache miss wants the whole page."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def display_name(obj: Model) -> str:
    """The name in the active language, bokmål when there is no English name."""
    if wants_english() and getattr(obj, "name_en", ""):
        return obj.name_en  # type: ignore[attr-defined]
    return obj.name_nb  # type: ignore[attr-defined]


def _page_size(request: HttpRequest) -> int:
    try:
        requested = int(request.GET.get("per_page", PAGE_SIZE))
    except ValueError:
        return PAGE_SIZE
    return max(1, min(requested, MAX_PAGE_SIZE))


def _sort_columns(current: str | None) -> list[SortColumn]:
    parsed = parse_sort(current)
    columns = []
    for key, label in SORT_COLUMNS:
        if parsed is not None and parsed[0] == key:
            descending = parsed[1]
            aria = "descending" if descending else "ascending"
            next_sort = key if descending else f"-{key}"
        else:
            aria, next_sort = "none", key
        columns.append(SortColumn(key=key, label=str(label), aria_sort=aria, next_sort=next_sort))
    return columns


@login_required
@require_GET
def service_list(request: HttpRequest) -> HttpResponse:
    """The catalog: filter, search, sort and page through every service edition."""
    queryset = selectors.service_catalog()
    filterset = ServiceFilterSet(request.GET or None, queryset=queryset, request=request)
    # An invalid filter value (an unknown owner code in a hand-edited link) shows its error and no rows,
    # rather than quietly listing everything.
    services = filterset.qs if filterset.is_valid() or not filterset.is_bound else queryset.none()
    paginator = Paginator(services, _page_size(request))
    page = paginator.get_page(request.GET.get("page"))
    rows = list(page.object_list)
    for service in rows:
        service.display_name = display_name(service)
        service.owner_display_name = display_name(service.owner)
        service.status_color = STATUS_COLORS.get(service.status, "neutral")
    sort = filterset.form.cleaned_data.get("sort", "") if filterset.is_bound else ""
    sort = sort if parse_sort(sort) else ""
    context = {
        "filter": filterset,
        "form": filterset.form,
        "page": page,
        "rows": rows,
        "sort": sort,
        "sort_columns": _sort_columns(sort),
        "per_page": paginator.per_page,
        "custom_page_size": paginator.per_page != PAGE_SIZE,
        "elided_pages": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
    }
    template = "migration_app/partials/service_table.html" if is_htmx(request) else "migration_app/service_list.html"
    response = render(request, template, context)
    # The same URL answers with a fragment or a page depending on this header; caches must keep both.
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def service_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One service edition: its fields, what it needs, who needs it, and its status history."""
    try:
        service = selectors.service_detail(pk=pk)
    except Service.DoesNotExist:
        raise Http404(_("No service with that id.")) from None
    service.display_name = display_name(service)
    service.status_color = STATUS_COLORS.get(service.status, "neutral")
    service.owner.display_name = display_name(service.owner)
    needs_services, needs_capabilities = [], []
    for dependency in service.dependencies.all():
        target = dependency.depends_on_service or dependency.depends_on_capability
        target.display_name = display_name(target)
        if dependency.depends_on_service is not None:
            target.status_color = STATUS_COLORS.get(target.status, "neutral")
            target.owner.display_name = display_name(target.owner)
            needs_services.append(dependency)
        else:
            target.status_color = CAPABILITY_COLORS.get(target.status, "neutral")
            needs_capabilities.append(dependency)
    needed_by = list(service.dependents.all())
    for dependency in needed_by:
        dependent = dependency.service
        dependent.display_name = display_name(dependent)
        dependent.status_color = STATUS_COLORS.get(dependent.status, "neutral")
        dependent.owner.display_name = display_name(dependent.owner)
    context = {
        "service": service,
        "readiness": selectors.readiness_view(service),
        "needs_services": needs_services,
        "needs_capabilities": needs_capabilities,
        "needed_by": needed_by,
        "history": list(service.status_changes.all()),
    }
    return render(request, "migration_app/service_detail.html", context)


@login_required
@require_GET
def service_by_key(request: HttpRequest, service_code: str, edition_code: int) -> HttpResponse:
    """Altinn II's natural key (ServiceCode/ServiceEditionCode) redirects to the service's page."""
    pk = get_object_or_404(
        Service.objects.values_list("pk", flat=True), service_code=service_code, edition_code=edition_code
    )
    return redirect("migration_app:service_detail", pk=pk)


@login_required
@require_GET
def programme(request: HttpRequest) -> HttpResponse:
    """Progress by count and volume, the forecast against the deadline, leverage, waves and milestones."""
    milestones = list(Milestone.objects.all())
    for milestone in milestones:
        milestone.display_name = display_name(milestone)
    overview = selectors.programme_overview()
    for row in overview.owners:
        row.owner.display_name = display_name(row.owner)
    for row in overview.leverage:
        target = row.capability or row.service
        if target is not None:
            target.display_name = display_name(target)
    return render(request, "migration_app/programme.html", {"milestones": milestones, "overview": overview})
