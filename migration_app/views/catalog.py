"""The service catalog: the list page (filters, search, sort, paging; a fragment for htmx) and its CSV
export. Both read the shared ``ServiceFilterSet``, with the page's filter form for its controls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from .. import exports
from ..filters import ServiceFilterSet, parse_sort
from ..forms import ServiceFilterForm
from ..selectors.catalog import service_catalog
from .htmx import is_htmx, vary_on_htmx
from .sorting import sort_columns

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

SORT_COLUMNS: tuple[tuple[str, StrPromise], ...] = (
    ("code", _("Code / edition")),
    ("name", _("Name")),
    ("owner", _("Owner")),
    ("status", _("Status")),
    ("volume", _("Yearly volume")),
    ("target_date", _("Target date")),
)


class CatalogFilterSet(ServiceFilterSet):
    """The catalog's filters as the page validates and draws them: the shared FilterSet's meaning, the
    page's filter form's controls."""

    class Meta(ServiceFilterSet.Meta):
        form = ServiceFilterForm


def _page_size(request: HttpRequest) -> int:
    try:
        requested = int(request.GET.get("per_page", PAGE_SIZE))
    except ValueError:
        return PAGE_SIZE
    return max(1, min(requested, MAX_PAGE_SIZE))


@login_required
@require_GET
def service_list(request: HttpRequest) -> HttpResponse:
    """The catalog: filter, search, sort and page through every service edition."""
    queryset = service_catalog()
    filterset = CatalogFilterSet(request.GET or None, queryset=queryset, request=request)
    # An invalid filter value (an unknown owner code in a hand-edited link) shows its error and no rows,
    # rather than quietly listing everything.
    services = filterset.qs if filterset.is_valid() or not filterset.is_bound else queryset.none()
    paginator = Paginator(services, _page_size(request))
    page = paginator.get_page(request.GET.get("page"))
    sort = filterset.form.cleaned_data.get("sort", "") if filterset.is_bound else ""
    parsed = parse_sort(sort)
    sort = sort if parsed else ""
    sorted_by, descending = parsed or (None, False)
    context = {
        "filter": filterset,
        "form": filterset.form,
        "page": page,
        "rows": list(page.object_list),
        "sort": sort,
        "sort_columns": sort_columns(SORT_COLUMNS, sorted_by, descending),
        "per_page": paginator.per_page,
        "custom_page_size": paginator.per_page != PAGE_SIZE,
        "elided_pages": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
    }
    template = "migration_app/partials/service_table.html" if is_htmx(request) else "migration_app/service_list.html"
    return vary_on_htmx(render(request, template, context))


@login_required
@require_GET
def service_export(request: HttpRequest) -> HttpResponse:
    """The catalog's current filter and sort as CSV, in the import format (``exports.py``: UTF-8 with a
    byte-order mark, formula starts neutralised), so an exported file can be edited and imported back."""
    filterset = CatalogFilterSet(request.GET or None, queryset=service_catalog(), request=request)
    if filterset.is_bound and not filterset.is_valid():
        return HttpResponse(str(filterset.errors), status=400, content_type="text/plain; charset=utf-8")
    body = exports.services_csv(exports.export_rows(filterset.qs))
    response = HttpResponse(body, content_type=exports.CSV_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="services.csv"'
    return response
