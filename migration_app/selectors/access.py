"""Who may see and change what: leads, organisation roles, and the querysets a user may write."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as Account
from django.db.models import QuerySet

from ..choices import PROJECT_LEADS_GROUP, MembershipRole
from ..models import (
    Dependency,
    Service,
)

# Whoever asks: a signed-in account or an anonymous visitor (request.user).
User = Account | AnonymousUser


def user_is_lead(user: User) -> bool:
    """Project leads (the programme team, or superusers) have rights over every organisation."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    # Cached on the user object: one query per request however many checks a page makes.
    cached: bool | None = getattr(user, "_tracker_is_lead", None)
    if cached is None:
        cached = user.groups.filter(name=PROJECT_LEADS_GROUP).exists()
        setattr(user, "_tracker_is_lead", cached)  # noqa: B010 (not a model field: a per-request cache)
    return cached


def owner_roles_for(user: User) -> dict[int, str]:
    """{owner id: role} for the user's memberships, cached on the user object."""
    if not user.is_authenticated:
        return {}
    cached: dict[int, str] | None = getattr(user, "_tracker_owner_roles", None)
    if cached is None:
        cached = dict(user.memberships.values_list("owner_id", "role"))
        setattr(user, "_tracker_owner_roles", cached)  # noqa: B010 (not a model field: a per-request cache)
    return cached


def user_can_edit_owner(user: User, owner_id: int) -> bool:
    """Leads edit everything; an editor edits their own organisations; viewers edit nothing."""
    return user_is_lead(user) or owner_roles_for(user).get(owner_id) == MembershipRole.EDITOR


def user_edits_any_owner(user: User) -> bool:
    """Whether the user is an editor of at least one organisation (from the cached memberships)."""
    return MembershipRole.EDITOR in owner_roles_for(user).values()


def owner_ids_editable_by(user: User) -> list[int] | None:
    """The organisations whose services the user may change; None means every one (a project lead)."""
    if user_is_lead(user):
        return None
    return sorted(owner_id for owner_id, role in owner_roles_for(user).items() if role == MembershipRole.EDITOR)


def services_editable_by(user: User) -> QuerySet[Service]:
    """The services the user may change. API writes look their object up here, so a view that forgot
    its object check still could not reach another organisation's service."""
    owner_ids = owner_ids_editable_by(user)
    services = Service.objects.select_related("owner", "readiness")
    return services if owner_ids is None else services.filter(owner_id__in=owner_ids)


def dependencies_editable_by(user: User) -> QuerySet[Dependency]:
    """The dependency edges the user may change: those of the services they may change."""
    owner_ids = owner_ids_editable_by(user)
    edges = Dependency.objects.select_related("service")
    return edges if owner_ids is None else edges.filter(service__owner_id__in=owner_ids)
