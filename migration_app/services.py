"""Writes with rules or side effects. Views, API, admin, commands and tasks call these; nothing else
changes a service's status, its version or its dependency edges.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from .choices import DependencyStrength, MigrationStatus
from .engine.lifecycle import check_transition
from .models import Dependency, PlatformCapability, Service, StatusChange
from .selectors import user_can_edit_owner

logger = logging.getLogger(__name__)

User = AbstractBaseUser | AnonymousUser | None

# Fields an owner edits through forms, the API and imports; status and version have their own paths.
SERVICE_EDITABLE_FIELDS: tuple[str, ...] = (
    "name_nb",
    "name_en",
    "edition_name",
    "service_type",
    "valid_from",
    "valid_to",
    "yearly_volume",
    "criticality",
    "target",
    "altinn3_reference",
    "planned_start",
    "target_date",
    "actual_start",
    "actual_done",
    "contact_name",
    "contact_email",
    "notes",
)


# Translated explanations for engine.lifecycle's refusal codes.
TRANSITION_REFUSALS = {
    "same_status": _lazy("it is already in that status"),
    "final": _lazy("closing the Altinn II edition is final"),
    "reopen_only": _lazy("a resolved service can only be reopened to not started or analysis"),
    "one_step": _lazy("forward moves go one step at a time"),
}


class StaleVersionError(Exception):
    """The caller edited an older version than the one stored: someone else saved in between."""

    def __init__(self, *, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        super().__init__(
            _("This service was changed by someone else (you edited version %(expected)s, it is now %(current)s).")
            % {"expected": expected, "current": current}
        )


class DependencyCycleError(ValidationError):
    """Adding a hard service dependency would close a cycle; ``cycle`` lists the services in it."""

    def __init__(self, cycle: list[Service]) -> None:
        self.cycle = cycle
        path = " → ".join(s.natural_key_label for s in cycle)
        super().__init__(
            _("This hard dependency would create a cycle: %(path)s.") % {"path": path},
            code="dependency_cycle",
        )


def _portfolio_changed() -> None:
    """Queue a coalesced recompute of readiness and forecasts once the current transaction commits."""
    from .tasks import recompute_portfolio_request

    recompute_portfolio_request()


def _require_edit(user: User, service: Service) -> None:
    if user is not None and not user_can_edit_owner(user, service.owner_id):
        raise PermissionDenied(_("You may only change your own organisation's services."))


@transaction.atomic
def service_change_status(
    *,
    service: Service,
    to_status: str,
    user: User = None,
    comment: str = "",
    expected_version: int | None = None,
    at: datetime.datetime | None = None,
) -> Service:
    """Move a service through the lifecycle: check the transition, bump the version, write history.

    ``user=None`` means a system actor (imports, seeding) and skips the permission check.
    ``expected_version`` makes the change compare-and-set: a stale caller gets StaleVersionError.
    """
    _require_edit(user, service)
    if to_status not in MigrationStatus.values:
        raise ValidationError({"status": _("Unknown status %(status)r.") % {"status": to_status}})
    locked = Service.objects.select_for_update().get(pk=service.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersionError(expected=expected_version, current=locked.version)
    from_status = locked.status
    check = check_transition(from_status, to_status)
    labels = {"from": MigrationStatus(from_status).label, "to": MigrationStatus(to_status).label}
    if not check.allowed:
        raise ValidationError(
            {
                "status": _("Cannot move from “%(from)s” to “%(to)s”: %(reason)s.")
                % {**labels, "reason": TRANSITION_REFUSALS[check.reason]}
            },
            code="illegal_transition",
        )
    if check.needs_comment and not comment.strip():
        raise ValidationError(
            {"comment": _("Moving back from “%(from)s” to “%(to)s” needs a comment explaining why.") % labels},
            code="comment_required",
        )
    now = at or timezone.now()
    updates: dict[str, Any] = {"status": to_status, "status_changed_at": now, "version": F("version") + 1}
    today = timezone.localdate(now)
    if from_status == MigrationStatus.NOT_STARTED and locked.actual_start is None:
        updates["actual_start"] = today
    if to_status == MigrationStatus.IN_PRODUCTION and locked.actual_done is None:
        updates["actual_done"] = today
    Service.objects.filter(pk=locked.pk).update(**updates, updated_at=now)
    StatusChange.objects.create(
        service=locked,
        from_status=from_status,
        to_status=to_status,
        changed_by=user if user is not None and user.is_authenticated else None,
        changed_at=now,
        comment=comment.strip(),
    )
    _portfolio_changed()
    service.refresh_from_db()
    return service


@transaction.atomic
def service_update(
    *, service: Service, data: Mapping[str, Any], user: User = None, expected_version: int | None = None
) -> Service:
    """Save edited fields with a compare-and-set on ``version`` so concurrent edits never overwrite.

    ``data`` holds only fields from SERVICE_EDITABLE_FIELDS (plus ``owner`` for leads); validation of
    each field is done by ``full_clean`` so the same messages reach forms, API and imports.
    """
    _require_edit(user, service)
    unknown = set(data) - set(SERVICE_EDITABLE_FIELDS) - {"owner"}
    if unknown:
        raise ValidationError(_("These fields cannot be edited here: %(f)s.") % {"f": ", ".join(sorted(unknown))})
    if "owner" in data and user is not None and not user_can_edit_owner(user, data["owner"].pk):
        raise PermissionDenied(_("You may only move services to an organisation you can edit."))
    for field, value in data.items():
        setattr(service, field, value)
    service.full_clean(exclude=["version"])
    version = service.version if expected_version is None else expected_version
    now = timezone.now()
    changed = Service.objects.filter(pk=service.pk, version=version).update(
        **{field: getattr(service, field) for field in data}, version=F("version") + 1, updated_at=now
    )
    if changed == 0:
        current = Service.objects.filter(pk=service.pk).values_list("version", flat=True).first()
        raise StaleVersionError(expected=version, current=current or 0)
    _portfolio_changed()
    service.refresh_from_db()
    return service


def _lock_dependency_graph() -> None:
    """Serialise edits of the hard-dependency graph so two concurrent edges cannot close a cycle together.

    PostgreSQL: a transaction-scoped advisory lock. SQLite already serialises writers.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x616C746E])  # "altn"


def _find_path(start_id: int, goal_id: int) -> list[int] | None:
    """Breadth-first search along hard service edges; one query per level of the graph."""
    parents: dict[int, int | None] = {start_id: None}
    frontier = [start_id]
    while frontier:
        edges = Dependency.objects.filter(
            service_id__in=frontier, strength=DependencyStrength.HARD, depends_on_service__isnull=False
        ).values_list("service_id", "depends_on_service_id")
        next_frontier = []
        for source, target in edges:
            if target in parents:
                continue
            parents[target] = source
            if target == goal_id:
                path = [target]
                while (parent := parents[path[-1]]) is not None:
                    path.append(parent)
                return list(reversed(path))
            next_frontier.append(target)
        frontier = next_frontier
    return None


@transaction.atomic
def dependency_add(
    *,
    service: Service,
    depends_on_service: Service | None = None,
    depends_on_capability: PlatformCapability | None = None,
    strength: str = DependencyStrength.HARD,
    note: str = "",
    user: User = None,
) -> Dependency:
    """Declare that ``service`` needs another service or a capability; refuse self-edges and cycles."""
    _require_edit(user, service)
    if (depends_on_service is None) == (depends_on_capability is None):
        raise ValidationError(_("A dependency names exactly one service or one capability."))
    if depends_on_service is not None:
        if depends_on_service.pk == service.pk:
            raise ValidationError({"depends_on_service": _("A service cannot depend on itself.")})
        if Dependency.objects.filter(service=service, depends_on_service=depends_on_service).exists():
            raise ValidationError({"depends_on_service": _("This dependency is already declared.")})
        if strength == DependencyStrength.HARD:
            _lock_dependency_graph()
            # The new edge service → dependency closes a cycle iff the dependency already reaches service.
            path = _find_path(depends_on_service.pk, service.pk)
            if path is not None:
                by_id = Service.objects.in_bulk(path)
                raise DependencyCycleError([service, *(by_id[pk] for pk in path)])
    elif Dependency.objects.filter(service=service, depends_on_capability=depends_on_capability).exists():
        raise ValidationError({"depends_on_capability": _("This dependency is already declared.")})
    dependency = Dependency.objects.create(
        service=service,
        depends_on_service=depends_on_service,
        depends_on_capability=depends_on_capability,
        strength=strength,
        note=note,
    )
    Service.objects.filter(pk=service.pk).update(version=F("version") + 1, updated_at=timezone.now())
    _portfolio_changed()
    return dependency


@transaction.atomic
def dependency_remove(*, dependency: Dependency, user: User = None) -> None:
    """Remove an edge; the dependent service's version is bumped because its readiness may change."""
    _require_edit(user, dependency.service)
    Service.objects.filter(pk=dependency.service_id).update(version=F("version") + 1, updated_at=timezone.now())
    dependency.delete()
    _portfolio_changed()
