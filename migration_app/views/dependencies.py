"""Adding and removing one dependency edge from the service page: with htmx the "What it needs" section
is swapped in place, without JavaScript the page is loaded again."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ..forms import DependencyAddForm, mark_invalid
from ..models import Dependency, Service
from ..services.dependencies import dependency_remove as dependency_remove_service
from .htmx import is_htmx
from .service import detail_context, needs_context, require_can_edit, service_load


def _needs_response(
    request: HttpRequest, pk: int, form: DependencyAddForm | None = None, status: int = 200
) -> HttpResponse:
    """After a change: the "What it needs" section for htmx, else the service page (with the refused
    form's errors) or a redirect back to the section."""
    if form is not None:
        mark_invalid(form)
    if not is_htmx(request):
        if form is None or not form.errors:
            return redirect(reverse("migration_app:service_detail", args=[pk]) + "#needs-heading")
        service = service_load(pk)
        return render(
            request,
            "migration_app/service_detail.html",
            detail_context(request, service, dependency_form=form),
            status=status,
        )
    service = service_load(pk)
    context = {**needs_context(service), "can_edit": True, "dependency_form": form or DependencyAddForm()}
    return render(request, "migration_app/partials/service_needs.html", context, status=status)


@login_required
@require_POST
def dependency_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Declare a dependency; a cycle or duplicate is refused with the service's explanation."""
    service = get_object_or_404(Service.objects.select_related("owner"), pk=pk)
    require_can_edit(request, service)
    form = DependencyAddForm(request.POST)
    if form.is_valid() and form.add(service=service, user=request.user) is not None:
        return _needs_response(request, pk)
    # htmx swaps 2xx answers only by default: the refusal comes back as 200 with the errors in the form.
    return _needs_response(request, pk, form, status=200 if is_htmx(request) else 422)


@login_required
@require_POST
def dependency_remove(request: HttpRequest, pk: int, dependency_pk: int) -> HttpResponse:
    """Remove one of the service's dependencies."""
    dependency = get_object_or_404(Dependency.objects.select_related("service"), pk=dependency_pk, service_id=pk)
    require_can_edit(request, dependency.service)
    dependency_remove_service(dependency=dependency, user=request.user)
    return _needs_response(request, pk)
