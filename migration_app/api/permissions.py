"""Who may do what through the API (the same rules as the pages, from ``selectors``):

* every authenticated user reads everything (dependencies cross organisations);
* editors write their own organisations' services and dependencies, viewers write nothing;
* project leads write everything, and alone manage owners, capabilities, milestones and imports.

These classes are the first of three layers: views look writable objects up in the writable
queryset (``services_editable_by``), serializers refuse an owner or service the user cannot
edit, and the functions in ``services`` check again, so no single forgotten check opens a hole.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from ..models import Dependency, Service
from ..selectors.access import user_can_edit_owner, user_edits_any_owner, user_is_lead


def owner_id_of(obj: Any) -> int | None:
    """The organisation an object belongs to, for the edit rule; None for shared reference data."""
    if isinstance(obj, Service):
        return obj.owner_id
    if isinstance(obj, Dependency):
        return obj.service.owner_id
    return None


class CatalogWrite(BasePermission):
    """Reads for everyone signed in; writes for leads and for editors of the object's organisation."""

    message = _("You may only change your own organisation's services and dependencies.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.user.is_authenticated:
            return False
        if request.method in SAFE_METHODS:
            return True
        return user_is_lead(request.user) or user_edits_any_owner(request.user)

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        owner_id = owner_id_of(obj)
        return owner_id is not None and user_can_edit_owner(request.user, owner_id)


class LeadWrite(BasePermission):
    """Reads for everyone signed in; writes (owners, capabilities, milestones) for project leads only."""

    message = _("Only project leads may change this.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.user.is_authenticated:
            return False
        return request.method in SAFE_METHODS or user_is_lead(request.user)


class LeadOnly(BasePermission):
    """Every method for project leads only (the bulk import)."""

    message = _("Only project leads may import services.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.user.is_authenticated and user_is_lead(request.user)
