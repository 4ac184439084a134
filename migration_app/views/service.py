"""One service edition: its page, the edit form (with the stale-save comparison), the status change,
its dependency trees and the lookup by Altinn II key. The dependency edges themselves are added and
removed in ``dependencies``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..forms import DependencyAddForm, ServiceEditForm, ServiceStatusChangeForm, add_service_errors, mark_invalid
from ..models import Service
from ..selectors import catalog as catalog_selectors
from ..selectors.access import user_can_edit_owner
from ..selectors.dependencies import dependency_trees
from ..selectors.results import readiness_view
from ..services.catalog import service_update
from ..services.checks import StaleVersionError


def service_load(pk: int) -> Service:
    """The service with everything its page shows (``selectors.catalog.service_detail``), or 404."""
    try:
        return catalog_selectors.service_detail(pk=pk)
    except Service.DoesNotExist:
        raise Http404(_("No service with that id.")) from None


def require_can_edit(request: HttpRequest, service: Service) -> None:
    """The server refuses what the page does not offer: viewers and other organisations get 403."""
    if not user_can_edit_owner(request.user, service.owner_id):
        raise PermissionDenied(_("You may only change your own organisation's services."))


def needs_context(service: Service) -> dict[str, Any]:
    """What the service needs, split into other services and platform capabilities."""
    needs_services, needs_capabilities = [], []
    for dependency in service.dependencies.all():
        if dependency.depends_on_service is not None:
            needs_services.append(dependency)
        else:
            needs_capabilities.append(dependency)
    return {"service": service, "needs_services": needs_services, "needs_capabilities": needs_capabilities}


def detail_context(
    request: HttpRequest,
    service: Service,
    *,
    status_form: ServiceStatusChangeForm | None = None,
    dependency_form: DependencyAddForm | None = None,
) -> dict[str, Any]:
    """The service page's context; a refused status change or dependency brings its bound form."""
    can_edit = user_can_edit_owner(request.user, service.owner_id)
    return {
        **needs_context(service),
        "readiness": readiness_view(service),
        "needed_by": list(service.dependents.all()),
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
    service = service_load(pk)
    return render(request, "migration_app/service_detail.html", detail_context(request, service))


@login_required
@require_http_methods(["GET", "POST"])
def service_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a service's fields. The form carries the version it was rendered from; if someone else saved
    in between, the page shows their values next to yours, field by field, and you choose to re-apply."""
    service = get_object_or_404(Service.objects.select_related("owner"), pk=pk)
    require_can_edit(request, service)
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
                conflicts = form.conflicts(stored)
                # Nothing was saved. The form is rebuilt on the stored version: the user's own changes
                # are kept, everything else shows the stored values, so saving again is a deliberate
                # re-apply of just the user's changes on top of the other person's.
                service = stored
                form = ServiceEditForm(form.rebased_data(stored), instance=stored)
                form.is_valid()
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, gettext_now("Your changes were saved."))
                return redirect("migration_app:service_detail", pk=pk)
    mark_invalid(form)
    status = 409 if stale else (422 if form.is_bound and form.errors else 200)
    context = {"service": service, "form": form, "stale": stale, "conflicts": conflicts}
    return render(request, "migration_app/service_edit.html", context, status=status)


@login_required
@require_POST
def service_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Change the status with a comment; a refused move is shown with the service's reason."""
    service = service_load(pk)
    require_can_edit(request, service)
    form = ServiceStatusChangeForm(request.POST, service=service)
    if form.is_valid() and form.change_status(user=request.user) is not None:
        messages.success(request, gettext_now("The status was changed."))
        return redirect("migration_app:service_detail", pk=pk)
    service = service_load(pk)
    context = detail_context(request, service, status_form=form)
    return render(request, "migration_app/service_detail.html", context, status=422)


@login_required
@require_GET
def service_dependencies(request: HttpRequest, pk: int) -> HttpResponse:
    """Upstream and downstream of one service as nested lists drawn as a tree."""
    service = get_object_or_404(Service.objects.select_related("owner"), pk=pk)
    upstream, downstream, truncated = dependency_trees(service=service)
    context = {"service": service, "upstream": upstream, "downstream": downstream, "truncated": truncated}
    return render(request, "migration_app/service_dependencies.html", context)


@login_required
@require_GET
def service_by_key(request: HttpRequest, service_code: str, edition_code: int) -> HttpResponse:
    """Altinn II's natural key (ServiceCode/ServiceEditionCode) redirects to the service's page."""
    # only("pk"): the same one-column query as a flat values_list, which the stubs refuse here.
    service = get_object_or_404(Service.objects.only("pk"), service_code=service_code, edition_code=edition_code)
    return redirect("migration_app:service_detail", pk=service.pk)
