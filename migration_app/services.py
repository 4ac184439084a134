"""Writes with rules or side effects. Views, API, admin, commands and tasks call these; nothing else
changes a service's status, its version or its dependency edges.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from .choices import DependencyStrength, MigrationStatus
from .engine.graph import Readiness, ServiceNode, build_portfolio, leverage, readiness_all, waves
from .engine.history import statuses_by_day
from .engine.lifecycle import check_transition
from .engine.progress import forecast_report, overdue, progress
from .models import (
    Dependency,
    PlatformCapability,
    PortfolioResult,
    PortfolioState,
    ProgressSnapshot,
    Service,
    ServiceReadiness,
    StatusChange,
)
from .selectors import (
    deadline_date,
    done_arrivals_load,
    owner_codes_load,
    portfolio_load,
    status_changes_load,
    user_can_edit_owner,
)

logger = logging.getLogger(__name__)

# How many past weeks of throughput the forecast resamples.
FORECAST_WINDOW_WEEKS = 26

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


# --- Recompute: load once, compute with the pure engine, store (STYLE.md rule 2) ---------------------


@dataclass(frozen=True)
class RecomputeSummary:
    revision: int
    services: int
    edges: int
    by_state: dict[str, int]
    readiness_rows_written: int
    stored: bool
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _readiness_fingerprint(r: Readiness) -> str:
    # repr of plain tuples of ints, strings and dates is stable across processes, unlike hash(), and
    # several times cheaper than the dataclasses' generated repr (this runs 100,000 times).
    blockers = tuple((b.kind, b.capability_id, b.service_id, b.path, b.planned_date, b.missing) for b in r.blockers)
    key = repr((r.state, r.score, r.score_parts, blockers, r.capability_blocker_count, r.service_blocker_count))
    return hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


def _readiness_detail(r: Readiness) -> dict[str, Any]:
    return {
        "parts": [list(part) for part in r.score_parts],
        "blockers": [_jsonable(dataclasses.asdict(b)) for b in r.blockers],
        "capability_blocker_count": r.capability_blocker_count,
        "service_blocker_count": r.service_blocker_count,
    }


def _flat_rows(rows: list[Any]) -> list[dict[str, Any]]:
    """Flat dataclasses to dicts without ``asdict``'s recursive deep copy (thousands of leverage rows)."""
    if not rows:
        return []
    names = [f.name for f in dataclasses.fields(rows[0])]
    return [{name: getattr(row, name) for name in names} for row in rows]


def _jsonable(value: Any) -> Any:
    """Dates to ISO strings, tuples to lists, mapping keys to strings: what JSONField stores and returns."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def portfolio_recompute(*, today: datetime.date | None = None) -> RecomputeSummary:
    """Recompute readiness, leverage, waves, progress and forecast for everything, and store them.

    Safe to run twice or concurrently: results are a function of the data read, every store
    overwrites, and a run that read an older revision than the stored results does not store.
    """
    started = time.perf_counter()
    today = today or timezone.localdate()
    deadline = deadline_date()
    PortfolioState.objects.get_or_create(pk=1)
    # Clear the pending flag before reading, so a change committed from now on queues another run.
    PortfolioState.objects.filter(pk=1).update(recompute_pending=False)
    revision = PortfolioState.objects.values_list("revision", flat=True).get(pk=1)

    services, capabilities, edges = portfolio_load()
    portfolio = build_portfolio(services, capabilities, edges)
    readiness = readiness_all(portfolio)
    results = {
        PortfolioResult.Kind.LEVERAGE: _flat_rows(leverage(portfolio)),
        PortfolioResult.Kind.WAVES: waves(portfolio).to_dict(),
        PortfolioResult.Kind.PROGRESS: {
            **progress(services, edges=edges, capabilities=capabilities).to_dict(),
            "overdue": overdue(services, today),
        },
        PortfolioResult.Kind.FORECAST: forecast_report(
            done_arrivals_load(since=today - datetime.timedelta(weeks=FORECAST_WINDOW_WEEKS + 1)),
            services,
            today=today,
            deadline=deadline,
            weeks=FORECAST_WINDOW_WEEKS,
        ).to_dict()
        if deadline
        else {"missing": "deadline milestone"},
    }
    stored, written = _portfolio_results_store(revision=revision, readiness=readiness, results=results)
    by_state: dict[str, int] = {}
    for r in readiness.values():
        by_state[r.state] = by_state.get(r.state, 0) + 1
    return RecomputeSummary(
        revision=revision,
        services=len(services),
        edges=len(edges),
        by_state=by_state,
        readiness_rows_written=written,
        stored=stored,
        seconds=round(time.perf_counter() - started, 3),
    )


@transaction.atomic
def _portfolio_results_store(
    *, revision: int, readiness: Mapping[int, Readiness], results: Mapping[str, Any]
) -> tuple[bool, int]:
    """Write what changed; returns (stored, readiness rows written). Serialised on the state row."""
    state = PortfolioState.objects.select_for_update().get(pk=1)
    if state.computed_revision is not None and state.computed_revision > revision:
        return False, 0  # A run that read newer data has already stored its results.
    now = timezone.now()
    stored_prints = dict(ServiceReadiness.objects.values_list("service_id", "fingerprint"))
    changed = []
    for sid, r in readiness.items():
        fingerprint = _readiness_fingerprint(r)
        if stored_prints.get(sid) != fingerprint:
            changed.append(
                ServiceReadiness(
                    service_id=sid,
                    state=r.state,
                    score=r.score,
                    detail=_readiness_detail(r),
                    fingerprint=fingerprint,
                    computed_at=now,
                )
            )
    ServiceReadiness.objects.bulk_create(
        changed,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["service"],
        update_fields=["state", "score", "detail", "fingerprint", "computed_at"],
    )
    for kind, data in results.items():
        PortfolioResult.objects.update_or_create(
            kind=kind, defaults={"data": _jsonable(data), "revision": revision, "computed_at": now}
        )
    PortfolioState.objects.filter(pk=1).update(computed_revision=revision, computed_at=now)
    return True, len(changed)


# --- Daily progress snapshots -------------------------------------------------------------------------


def _snapshot_rows(day: datetime.date, nodes: list[ServiceNode], owner_codes: Mapping[int, str]) -> list:
    figures = progress(nodes)
    now = timezone.now()

    def row(scope: str, key: str, f: Any) -> ProgressSnapshot:
        return ProgressSnapshot(
            day=day,
            scope=scope,
            scope_key=key,
            total_count=f.total_count,
            done_count=f.done_count,
            migrated_count=f.migrated_count,
            total_volume=f.total_volume,
            done_volume=f.done_volume,
            migrated_volume=f.migrated_volume,
            by_status={s: [f.count_by_status[s], f.volume_by_status[s]] for s in f.count_by_status},
            taken_at=now,
        )

    rows = [row(ProgressSnapshot.Scope.OVERALL, "", figures.overall)]
    rows += [row(ProgressSnapshot.Scope.OWNER, owner_codes[o], f) for o, f in figures.by_owner.items()]
    rows += [row(ProgressSnapshot.Scope.TYPE, t, f) for t, f in figures.by_service_type.items()]
    return rows


@transaction.atomic
def _snapshots_store(rows: list) -> int:
    ProgressSnapshot.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["day", "scope", "scope_key"],
        update_fields=[
            "total_count",
            "done_count",
            "migrated_count",
            "total_volume",
            "done_volume",
            "migrated_volume",
            "by_status",
            "taken_at",
        ],
    )
    return len(rows)


def progress_snapshot_take(*, day: datetime.date | None = None) -> int:
    """Store (or overwrite) one day's progress per scope: overall, each owner, each service type.

    Today's snapshot reads current statuses; a past day's replays the status history.
    """
    today = timezone.localdate()
    day = day or today
    if day < today:
        return progress_snapshot_backfill(first=day, last=day)
    services, _capabilities, _edges = portfolio_load()
    return _snapshots_store(_snapshot_rows(day, services, owner_codes_load()))


def progress_snapshot_backfill(*, first: datetime.date, last: datetime.date) -> int:
    """Snapshots for every day from ``first`` to ``last`` (inclusive), replayed from history."""
    services, _capabilities, _edges = portfolio_load()
    owner_codes = owner_codes_load()
    by_id = {s.id: s for s in services}
    days = [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]
    rows = []
    for day, statuses in statuses_by_day({s.id: s.status for s in services}, status_changes_load(), days):
        nodes = [dataclasses.replace(by_id[sid], status=status) for sid, status in statuses.items()]
        rows += _snapshot_rows(day, nodes, owner_codes)
    return _snapshots_store(rows)
