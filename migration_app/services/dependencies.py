"""Dependency edges between services and on platform capabilities; hard edges never form a cycle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ..choices import DependencyStrength
from ..models import (
    Dependency,
    PlatformCapability,
    Service,
)
from ..validators import validate_dependency_target
from . import recompute
from .checks import StaleVersionError, User, refuse_unknown_fields, require_edit


class StaleDependencyError(StaleVersionError):
    """Someone else changed (or re-declared) this dependency edge since the caller read it."""

    def __init__(self, *, expected: int, current: int) -> None:
        super().__init__(expected=expected, current=current)
        self.args = (
            _("This dependency was changed by someone else (you edited version %(expected)s, it is now %(current)s).")
            % {"expected": expected, "current": current},
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
    require_edit(user, service)
    validate_dependency_target(depends_on_service, depends_on_capability)
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
    recompute.portfolio_recompute_request()
    return dependency


@transaction.atomic
def dependency_remove(*, dependency: Dependency, user: User = None, expected_version: int | None = None) -> None:
    """Remove an edge; the dependent service's version is bumped because its readiness may change.

    ``expected_version`` makes the removal compare-and-set on the edge's version (StaleDependencyError).
    """
    require_edit(user, dependency.service)
    if expected_version is not None:
        locked = Dependency.objects.select_for_update().get(pk=dependency.pk)
        if locked.version != expected_version:
            raise StaleDependencyError(expected=expected_version, current=locked.version)
    Service.objects.filter(pk=dependency.service_id).update(version=F("version") + 1, updated_at=timezone.now())
    dependency.delete()
    recompute.portfolio_recompute_request()


@transaction.atomic
def dependency_update(
    *, dependency: Dependency, data: Mapping[str, Any], user: User = None, expected_version: int | None = None
) -> Dependency:
    """Change an edge's strength or note (its ends are fixed: remove it and add another instead).

    Compare-and-set on the edge's ``version`` under a row lock. Making a service edge hard is checked
    for cycles like a new hard edge; a strength change bumps the dependent service's version, because
    its readiness may change, and queues a recompute. A note alone changes neither.
    """
    require_edit(user, dependency.service)
    refuse_unknown_fields(data, ("strength", "note"))
    locked = Dependency.objects.select_for_update().get(pk=dependency.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleDependencyError(expected=expected_version, current=locked.version)
    strength = data.get("strength", locked.strength)
    if strength not in DependencyStrength.values:
        raise ValidationError({"strength": _("Unknown strength %(s)r.") % {"s": strength}})
    note = data.get("note", locked.note)
    strength_changed = strength != locked.strength
    locked.strength, locked.note = strength, note
    locked.full_clean(exclude=["version", "service", "depends_on_service", "depends_on_capability"])
    if strength_changed and strength == DependencyStrength.HARD and locked.depends_on_service_id is not None:
        _lock_dependency_graph()
        path = _find_path(locked.depends_on_service_id, locked.service_id)
        if path is not None:
            by_id = Service.objects.in_bulk([locked.service_id, *path])
            raise DependencyCycleError([by_id[locked.service_id], *(by_id[pk] for pk in path)])
    Dependency.objects.filter(pk=locked.pk).update(strength=strength, note=note, version=F("version") + 1)
    if strength_changed:
        Service.objects.filter(pk=locked.service_id).update(version=F("version") + 1, updated_at=timezone.now())
        recompute.portfolio_recompute_request()
    dependency.refresh_from_db()
    return dependency
