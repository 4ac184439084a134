"""Pages: the service catalog, one service, and the programme. Views are thin: reads come from
``selectors.py`` and the shared FilterSet, writes (none here yet) would go through ``services.py``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _
from django.views import i18n as i18n_views
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import exports
from .choices import CapabilityStatus, MigrationStatus
from .engine.lifecycle import DONE, MIGRATED
from .engine.progress import DUE_SOON_DAYS
from .filters import ServiceFilterSet, parse_sort, wants_english
from .forms import DependencyAddForm, ServiceEditForm, ServiceStatusChangeForm
from .models import SERVICE_EDITABLE_FIELDS, Dependency, Milestone, ReportPreference, Service, ServiceOwner
from .selectors import catalog as catalog_selectors
from .selectors.access import owner_roles_for, user_can_edit_owner, user_is_lead
from .selectors.catalog import capability_overview, service_catalog, status_changes_since
from .selectors.dependencies import DependencyNode, dependency_trees
from .selectors.owners import owner_overview
from .selectors.programme import burnup_series, programme_overview
from .selectors.results import leverage_list, portfolio_freshness, readiness_view
from .services import dependencies as dependencies_services
from .services.accounts import user_language_set
from .services.catalog import service_update
from .services.checks import StaleVersionError

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
    queryset = service_catalog()
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


def _load_service(pk: int) -> Service:
    try:
        return catalog_selectors.service_detail(pk=pk)
    except Service.DoesNotExist:
        raise Http404(_("No service with that id.")) from None


def _needs_context(service: Service) -> dict[str, Any]:
    """What the service needs (services and capabilities), names in the active language."""
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
    return {"service": service, "needs_services": needs_services, "needs_capabilities": needs_capabilities}


def _detail_context(
    request: HttpRequest,
    service: Service,
    *,
    status_form: ServiceStatusChangeForm | None = None,
    dependency_form: DependencyAddForm | None = None,
) -> dict[str, Any]:
    service.display_name = display_name(service)
    service.status_color = STATUS_COLORS.get(service.status, "neutral")
    service.owner.display_name = display_name(service.owner)
    needed_by = list(service.dependents.all())
    for dependency in needed_by:
        dependent = dependency.service
        dependent.display_name = display_name(dependent)
        dependent.status_color = STATUS_COLORS.get(dependent.status, "neutral")
        dependent.owner.display_name = display_name(dependent.owner)
    can_edit = user_can_edit_owner(request.user, service.owner_id)
    return {
        **_needs_context(service),
        "readiness": readiness_view(service),
        "needed_by": needed_by,
        "history": list(service.status_changes.all()),
        "can_edit": can_edit,
        "status_form": (status_form or ServiceStatusChangeForm(service=service)) if can_edit else None,
        "dependency_form": (dependency_form or DependencyAddForm()) if can_edit else None,
    }


@login_required
@require_GET
def service_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One service edition: its fields, what it needs, who needs it, its status history, and (for those
    allowed) the controls to edit it, change its status and declare its dependencies."""
    service = _load_service(pk)
    return render(request, "migration_app/service_detail.html", _detail_context(request, service))


def _require_can_edit(request: HttpRequest, service: Service) -> None:
    """The server refuses what the page does not offer: viewers and other organisations get 403."""
    if not user_can_edit_owner(request.user, service.owner_id):
        raise PermissionDenied(_("You may only change your own organisation's services."))


def _field_display(form: ServiceEditForm, name: str, value: Any) -> str:
    """A value as a person reads it: choice labels, dates in the locale, "–" for empty."""
    from django.utils.formats import localize

    if value in (None, ""):
        return "–"
    choices = getattr(form.fields[name], "choices", None)
    if choices:
        return str(dict(choices).get(value, value))
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    return str(localize(value))


def _mark_invalid(form: Any) -> None:
    """aria-invalid on fields with errors: screen readers announce them, Designsystemet colours them."""
    if form.is_bound:
        for name in form.errors:
            if name in form.fields:
                form.fields[name].widget.attrs["aria-invalid"] = "true"


@login_required
@require_http_methods(["GET", "POST"])
def service_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a service's fields. The form carries the version it was rendered from; if someone else saved
    in between, the page shows their values next to yours, field by field, and you choose to re-apply."""
    service = get_object_or_404(Service.objects.select_related("owner"), pk=pk)
    _require_can_edit(request, service)
    service.display_name = display_name(service)
    conflicts: list[dict[str, Any]] = []
    stale = False
    if request.method == "GET":
        form = ServiceEditForm(instance=service)
    else:
        form = ServiceEditForm(request.POST, instance=service)
        if form.is_valid():
            try:
                service_update(
                    service=service,
                    data=form.changes(),
                    user=request.user,
                    expected_version=form.cleaned_data["expected_version"],
                )
            except StaleVersionError:
                stale = True
                stored = Service.objects.select_related("owner").get(pk=pk)
                mine = set(form.user_changed())
                theirs = {name for name in SERVICE_EDITABLE_FIELDS if form.original(name) != getattr(stored, name)}
                conflicts = [
                    {
                        "label": str(form.fields[name].label),
                        "mine": _field_display(form, name, form.cleaned_data[name]) if name in mine else None,
                        "stored": _field_display(form, name, getattr(stored, name)),
                        "theirs": name in theirs,
                        "both": name in mine and name in theirs,
                    }
                    for name in SERVICE_EDITABLE_FIELDS
                    if name in mine or name in theirs
                ]
                # Nothing was saved. The form is rebuilt on the stored version: the user's own changes
                # are kept, everything else shows the stored values, so saving again is a deliberate
                # re-apply of just the user's changes on top of the other person's.
                stored.display_name = display_name(stored)
                service = stored
                form = ServiceEditForm(form.rebased_data(stored), instance=stored)
                form.is_valid()
            except ValidationError as exc:
                from .forms import add_service_errors

                add_service_errors(form, exc)
            else:
                messages.success(request, gettext_now("Your changes were saved."))
                return redirect("migration_app:service_detail", pk=pk)
    _mark_invalid(form)
    status = 409 if stale else (422 if form.is_bound and form.errors else 200)
    context = {"service": service, "form": form, "stale": stale, "conflicts": conflicts}
    return render(request, "migration_app/service_edit.html", context, status=status)


@login_required
@require_POST
def service_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Change the status with a comment; a refused move is shown with the service's reason."""
    service = _load_service(pk)
    _require_can_edit(request, service)
    form = ServiceStatusChangeForm(request.POST, service=service)
    if form.is_valid() and form.change_status(user=request.user) is not None:
        messages.success(request, gettext_now("The status was changed."))
        return redirect("migration_app:service_detail", pk=pk)
    service = _load_service(pk)
    context = _detail_context(request, service, status_form=form)
    return render(request, "migration_app/service_detail.html", context, status=422)


def _needs_response(
    request: HttpRequest, pk: int, form: DependencyAddForm | None = None, status: int = 200
) -> HttpResponse:
    if form is not None:
        _mark_invalid(form)
    if not is_htmx(request):
        if form is None or not form.errors:
            return redirect(reverse("migration_app:service_detail", args=[pk]) + "#needs-heading")
        service = _load_service(pk)
        return render(
            request,
            "migration_app/service_detail.html",
            _detail_context(request, service, dependency_form=form),
            status=status,
        )
    service = _load_service(pk)
    context = {**_needs_context(service), "can_edit": True, "dependency_form": form or DependencyAddForm()}
    return render(request, "migration_app/partials/service_needs.html", context, status=status)


@login_required
@require_POST
def dependency_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Declare a dependency; a cycle or duplicate is refused with the service's explanation."""
    service = get_object_or_404(Service.objects.select_related("owner"), pk=pk)
    _require_can_edit(request, service)
    form = DependencyAddForm(request.POST)
    if form.is_valid() and form.add(service=service, user=request.user) is not None:
        return _needs_response(request, pk)
    # htmx swaps 2xx answers only by default: the refusal comes back as 200 with the errors in the form.
    return _needs_response(request, pk, form, status=200 if is_htmx(request) else 422)


@login_required
@require_POST
def dependency_remove(request: HttpRequest, pk: int, dependency_pk: int) -> HttpResponse:
    dependency = get_object_or_404(Dependency.objects.select_related("service"), pk=dependency_pk, service_id=pk)
    _require_can_edit(request, dependency.service)
    dependencies_services.dependency_remove(dependency=dependency, user=request.user)
    return _needs_response(request, pk)


@login_required
@require_GET
def service_dependencies(request: HttpRequest, pk: int) -> HttpResponse:
    """Upstream and downstream of one service as nested lists drawn as a tree."""
    service = get_object_or_404(Service.objects.select_related("owner"), pk=pk)
    service.display_name = display_name(service)
    upstream, downstream, truncated = dependency_trees(service=service)

    def decorate(nodes: list[DependencyNode]) -> None:
        for node in nodes:
            target = node.service or node.capability
            if target is not None:
                target.display_name = display_name(target)
                target.status_color = (
                    STATUS_COLORS.get(target.status, "neutral")
                    if node.service
                    else CAPABILITY_COLORS.get(target.status, "neutral")
                )
            decorate(node.children)

    decorate(upstream)
    decorate(downstream)
    context = {"service": service, "upstream": upstream, "downstream": downstream, "truncated": truncated}
    return render(request, "migration_app/service_dependencies.html", context)


@login_required
@require_GET
def service_by_key(request: HttpRequest, service_code: str, edition_code: int) -> HttpResponse:
    """Altinn II's natural key (ServiceCode/ServiceEditionCode) redirects to the service's page."""
    pk = get_object_or_404(
        Service.objects.values_list("pk", flat=True), service_code=service_code, edition_code=edition_code
    )
    return redirect("migration_app:service_detail", pk=pk)


# Per-owner table on the dashboard: ?owners= key → sort key over OwnerProgressRow.
OWNER_SORTS: dict[str, Any] = {
    "owner": lambda r: (r.owner.display_name.lower(),),
    "done": lambda r: (r.pct_done_count, r.done_count),
    "volume": lambda r: (r.pct_done_volume, r.done_volume),
    "p85": lambda r: (r.p85_date or datetime.date.max,),
}
OWNER_SORT_LABELS = (
    ("owner", _("Service owner")),
    ("done", _("Done / services")),
    ("volume", _("Done by volume")),
    ("p85", _("Forecast")),
)
# Burn-up points: at most one per week, and never more than this many (the table alternative shows them).
MAX_CHART_POINTS = 120


def _burnup(series: list[tuple], forecast: dict[str, Any] | None, deadline: datetime.date | None) -> dict[str, Any]:
    """Weekly burn-up points from the daily snapshots, extended with empty weeks to the deadline/forecast."""
    if not series:
        return {}
    last = series[-1]
    weekly = [row for index, row in enumerate(series) if index % 7 == (len(series) - 1) % 7]
    weekly = weekly[-MAX_CHART_POINTS:]
    labels = [row[0] for row in weekly]
    forecast = forecast or {}
    p50 = datetime.date.fromisoformat(forecast["p50_date"]) if forecast.get("p50_date") else None
    p85 = datetime.date.fromisoformat(forecast["p85_date"]) if forecast.get("p85_date") else None
    horizon = max(d for d in (last[0], deadline, p85, p50) if d is not None)
    day = labels[-1]
    while day < horizon and len(labels) < MAX_CHART_POINTS + 60:
        day += datetime.timedelta(days=7)
        labels.append(day)
    padding = [None] * (len(labels) - len(weekly))
    return {
        "labels": [d.isoformat() for d in labels],
        "done_count": [row[1] for row in weekly] + padding,
        "total_count": [row[2] for row in weekly] + padding,
        "done_volume": [row[3] for row in weekly] + padding,
        "total_volume": [row[4] for row in weekly] + padding,
        "deadline": deadline.isoformat() if deadline else None,
        "p50": p50.isoformat() if p50 else None,
        "p85": p85.isoformat() if p85 else None,
        "text": {
            "done": gettext_now("Done"),
            "total": gettext_now("All services"),
            "done_volume": gettext_now("Done (yearly volume)"),
            "total_volume": gettext_now("All services (yearly volume)"),
            "deadline": gettext_now("Deadline"),
            "band": gettext_now("Forecast P50–P85"),
        },
        "rows": [
            {"day": row[0], "done": row[1], "total": row[2], "done_volume": row[3], "total_volume": row[4]}
            for row in weekly
        ],
    }


@login_required
@require_GET
def programme(request: HttpRequest) -> HttpResponse:
    """The dashboard: burn-up by count and volume with the deadline and forecast band, per-owner progress,
    top blockers, waves, milestones and this week's changes."""
    milestones = list(Milestone.objects.all())
    for milestone in milestones:
        milestone.display_name = display_name(milestone)
    deadline = next((m.date for m in milestones if m.is_deadline), milestones[-1].date if milestones else None)
    overview = programme_overview()
    for row in overview.owners:
        row.owner.display_name = display_name(row.owner)
    for row in overview.leverage:
        target = row.capability or row.service
        if target is not None:
            target.display_name = display_name(target)
    owner_sort = request.GET.get("owners", "")
    key, descending = owner_sort.removeprefix("-"), owner_sort.startswith("-")
    if key in OWNER_SORTS:
        overview.owners.sort(key=OWNER_SORTS[key], reverse=descending)
    owner_columns = []
    for column, label in OWNER_SORT_LABELS:
        if column == key:
            aria, next_sort = ("descending", column) if descending else ("ascending", f"-{column}")
        else:
            aria, next_sort = "none", column
        owner_columns.append(SortColumn(key=column, label=str(label), aria_sort=aria, next_sort=next_sort))
    now = timezone.localtime()
    monday = (now - datetime.timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    week_changes = status_changes_since(since=monday)
    for change in week_changes:
        change.service.display_name = display_name(change.service)
    context = {
        "milestones": milestones,
        "overview": overview,
        "burnup": _burnup(burnup_series(), dict(overview.forecast or {}), deadline),
        "owner_columns": owner_columns,
        "week_changes": week_changes,
        "week_start": monday,
    }
    return render(request, "migration_app/programme.html", context)


# --- My organisation -----------------------------------------------------------------------------------


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """An owner lands on their organisation's page; leads and members of several organisations choose."""
    roles = owner_roles_for(request.user)
    if len(roles) == 1 and not user_is_lead(request.user):
        code = ServiceOwner.objects.values_list("code", flat=True).get(pk=next(iter(roles)))
        return redirect("migration_app:owner_page", code=code)
    owners = list(
        ServiceOwner.objects.annotate(service_count=Count("services")).filter(service_count__gt=0).order_by("name_nb")
    )
    for owner in owners:
        owner.display_name = display_name(owner)
        owner.is_mine = owner.pk in roles
    owners.sort(key=lambda o: (not o.is_mine, o.display_name.lower()))
    return render(request, "migration_app/owner_choose.html", {"owners": owners})


@login_required
@require_GET
def owner_page(request: HttpRequest, code: str) -> HttpResponse:
    """One organisation: its services by status, progress, what blocks it, whom it blocks, what is due."""
    owner = get_object_or_404(ServiceOwner, code=code)
    owner.display_name = display_name(owner)
    overview = owner_overview(owner=owner)
    for group in overview.groups:
        for service in group.services:
            service.display_name = display_name(service)
            service.status_color = STATUS_COLORS.get(service.status, "neutral")
    for waiting in overview.blocked_by:
        target = waiting.capability or waiting.service
        target.display_name = display_name(target)
        if waiting.service is not None:
            waiting.service.owner.display_name = display_name(waiting.service.owner)
            waiting.service.status_color = STATUS_COLORS.get(waiting.service.status, "neutral")
    for dependency in overview.blocking:
        dependency.service.display_name = display_name(dependency.service)
        dependency.service.owner.display_name = display_name(dependency.service.owner)
        dependency.depends_on_service.display_name = display_name(dependency.depends_on_service)
    for service in [*overview.overdue, *overview.due_soon]:
        service.display_name = display_name(service)
        service.status_color = STATUS_COLORS.get(service.status, "neutral")
    for change in overview.recent_changes:
        change.service.display_name = display_name(change.service)
    context = {
        "owner": owner,
        "overview": overview,
        "can_edit": user_can_edit_owner(request.user, owner.pk),
        "due_soon_days": DUE_SOON_DAYS,
    }
    return render(request, "migration_app/owner_page.html", context)


# --- Capabilities --------------------------------------------------------------------------------------


@login_required
@require_GET
def capabilities(request: HttpRequest) -> HttpResponse:
    """Each platform capability with its roadmap status, planned date and who waits; the leverage list."""
    rows = list(capability_overview())
    for capability in rows:
        capability.display_name = display_name(capability)
        capability.status_color = CAPABILITY_COLORS.get(capability.status, "neutral")
    leverage = leverage_list(limit=25)
    for row in leverage:
        target = row.capability or row.service
        if target is not None:
            target.display_name = display_name(target)
    context = {"capabilities": rows, "leverage": leverage, "freshness": portfolio_freshness()}
    return render(request, "migration_app/capabilities.html", context)


# --- CSV export of the catalog's current filter ---------------------------------------------------------


@login_required
@require_GET
def service_export(request: HttpRequest) -> HttpResponse:
    """The catalog's current filter and sort as CSV, in the import format (``exports.py``: UTF-8 with a
    byte-order mark, formula starts neutralised), so an exported file can be edited and imported back."""
    filterset = ServiceFilterSet(request.GET or None, queryset=service_catalog(), request=request)
    if filterset.is_bound and not filterset.is_valid():
        return HttpResponse(str(filterset.errors), status=400, content_type="text/plain; charset=utf-8")
    body = exports.services_csv(exports.export_rows(filterset.qs))
    response = HttpResponse(body, content_type=exports.CSV_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="services.csv"'
    return response


# --- Language and sign-in ------------------------------------------------------------------------------


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Django's set_language (cookie and redirect), and for a signed-in user also their stored preference,
    so the choice follows them to another browser and into the weekly e-mail."""
    response = i18n_views.set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        user_language_set(user=request.user, language=language)
    return response


class TrackerLoginView(auth_views.LoginView):
    """Sign-in that restores the user's remembered language."""

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        language = ReportPreference.objects.filter(user=form.get_user()).values_list("language", flat=True).first()
        if language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            )
        return response
