"""One service-owning organisation's page: its services by status, progress, what blocks it, whom it
blocks, what is due and what changed."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from ..engine.progress import DUE_SOON_DAYS
from ..models import ServiceOwner
from ..selectors.access import user_can_edit_owner
from ..selectors.owners import owner_overview


@login_required
@require_GET
def owner_page(request: HttpRequest, code: str) -> HttpResponse:
    """One organisation: its services by status, progress, what blocks it, whom it blocks, what is due."""
    owner = get_object_or_404(ServiceOwner, code=code)
    context = {
        "owner": owner,
        "overview": owner_overview(owner=owner),
        "can_edit": user_can_edit_owner(request.user, owner.pk),
        "due_soon_days": DUE_SOON_DAYS,
    }
    return render(request, "migration_app/owner_page.html", context)
