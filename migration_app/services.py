"""Writes with rules or side effects. Views, API, admin, commands and tasks call these; nothing else
changes a service's status, its version or its dependency edges.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
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
from .engine.graph import (
    Readiness,
    ServiceNode,
    WavePlan,
    build_portfolio,
    gc_paused,
    leverage,
    readiness_all,
    waves,
)
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
def dependency_remove(*, dependency: Dependency, user: User = None, expected_version: int | None = None) -> None:
    """Remove an edge; the dependent service's version is bumped because its readiness may change.

    ``expected_version`` makes the removal compare-and-set on the edge's version (StaleDependencyError).
    """
    _require_edit(user, dependency.service)
    if expected_version is not None:
        locked = Dependency.objects.select_for_update().get(pk=dependency.pk)
        if locked.version != expected_version:
            raise StaleDependencyError(expected=expected_version, current=locked.version)
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
    """A digest of everything stored for a service's readiness (this runs 100,000 times a recompute).

    Stable across processes (unlike hash()). Most services have no blockers: their verdict is a short
    string of state and score parts, stored as it is; the rest hash the repr of plain tuples, several
    times cheaper than the dataclasses' generated repr.
    """
    points = ":".join(str(p) for _, p in r.score_parts)
    if not r.blockers and not r.capability_blocker_count and not r.service_blocker_count:
        return f"{r.state}:{r.score}:{points}"
    blockers = tuple((b.kind, b.capability_id, b.service_id, b.path, b.planned_date, b.missing) for b in r.blockers)
    key = repr((r.state, r.score, points, blockers, r.capability_blocker_count, r.service_blocker_count))
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
    # Only dates need converting for JSON; a generic walk over ~10,000 rows costs more than this.
    date_names = [name for name in names if isinstance(getattr(rows[0], name), datetime.date) or name.endswith("_date")]
    out = []
    for row in rows:
        item = {name: getattr(row, name) for name in names}
        for name in date_names:
            if item[name] is not None:
                item[name] = item[name].isoformat()
        out.append(item)
    return out


def _waves_data(plan: WavePlan) -> dict[str, Any]:
    """JSON-ready waves, built directly: ``asdict`` would deep-copy every one of ~100,000 ids."""
    return {
        "waves": [
            {"number": w.number, "service_ids": list(w.service_ids), "yearly_volume": w.yearly_volume}
            for w in plan.waves
        ],
        "cycle_service_ids": list(plan.cycle_service_ids),
        "behind_cycle_service_ids": list(plan.behind_cycle_service_ids),
    }


def _jsonable(value: Any) -> Any:
    """Dates to ISO strings, tuples to lists, mapping keys to strings: what JSONField stores and returns."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def portfolio_recompute(
    *, today: datetime.date | None = None, on_step: Callable[[str, float], None] | None = None
) -> RecomputeSummary:
    """Recompute readiness, leverage, waves, progress and forecast for everything, and store them.

    Safe to run twice or concurrently: results are a function of the data read, every store
    overwrites, and a run that read an older revision than the stored results does not store.
    ``on_step(name, seconds)`` is told as each phase finishes (the command prints it as progress).
    """
    started = time.perf_counter()
    mark = started

    def step(name: str) -> None:
        nonlocal mark
        if on_step is not None:
            now = time.perf_counter()
            on_step(name, now - mark)
            mark = now

    today = today or timezone.localdate()
    deadline = deadline_date()
    PortfolioState.objects.get_or_create(pk=1)
    # Clear the pending flag before reading, so a change committed from now on queues another run.
    PortfolioState.objects.filter(pk=1).update(recompute_pending=False)
    revision = PortfolioState.objects.values_list("revision", flat=True).get(pk=1)

    # The load and the engine allocate millions of small objects and create no reference cycles:
    # without the collector's repeated full passes the whole run is markedly faster at 100,000.
    with gc_paused():
        return _portfolio_recompute(revision=revision, today=today, deadline=deadline, step=step, started=started)


# A queued recompute starts seconds after its claim (tasks.RECOMPUTE_COALESCE_SECONDS, then a free worker).
# A claim held much longer than that lost its task: a worker that loses its broker connection drops the
# countdown tasks it holds (Redis hands them out again only after the visibility timeout, an hour).
RECOMPUTE_CLAIM_LOST_AFTER = datetime.timedelta(minutes=1)


def portfolio_recompute_if_unserved(*, now: datetime.datetime | None = None) -> RecomputeSummary | None:
    """Recompute when the stored results are stale and no queued recompute is going to refresh them.

    That is when nothing is claimed (a change could not queue its recompute because the broker was down,
    and released the claim), or when the claim is older than RECOMPUTE_CLAIM_LOST_AFTER. Otherwise one
    query and nothing else. Should a slow queue still start the claimed task later, the two runs are
    harmless together (see portfolio_recompute), only wasted work.
    """
    state = PortfolioState.objects.filter(pk=1).first()
    if state is None or state.is_fresh:
        return None
    now = now or timezone.now()
    claimed_at = state.recompute_claimed_at
    if state.recompute_pending and claimed_at is not None and claimed_at > now - RECOMPUTE_CLAIM_LOST_AFTER:
        return None
    logger.info(
        "Results are stale (revision %s, computed %s) and no recompute is on its way: recomputing now.",
        state.revision,
        state.computed_revision,
    )
    return portfolio_recompute()


def _portfolio_recompute(
    *,
    revision: int,
    today: datetime.date,
    deadline: datetime.date | None,
    step: Callable[[str], None],
    started: float,
) -> RecomputeSummary:
    services, capabilities, edges = portfolio_load()
    step("load services, capabilities and dependencies")
    portfolio = build_portfolio(services, capabilities, edges)
    readiness = readiness_all(portfolio)
    step("readiness")
    results: dict[str, Any] = {
        PortfolioResult.Kind.LEVERAGE: _flat_rows(leverage(portfolio)),
        PortfolioResult.Kind.WAVES: _waves_data(waves(portfolio)),
    }
    step("leverage and waves")
    # Progress holds only ints, strings and mappings (int keys become strings in JSON): no conversion.
    results[PortfolioResult.Kind.PROGRESS] = {
        **progress(services, edges=edges, capabilities=capabilities).to_dict(),
        "overdue": overdue(services, today),
    }
    results[PortfolioResult.Kind.FORECAST] = _jsonable(
        forecast_report(
            done_arrivals_load(since=today - datetime.timedelta(weeks=FORECAST_WINDOW_WEEKS + 1)),
            services,
            today=today,
            deadline=deadline,
            weeks=FORECAST_WINDOW_WEEKS,
        ).to_dict()
        if deadline
        else {"missing": "deadline milestone"}
    )
    step("progress and forecast")
    stored, written = _portfolio_results_store(revision=revision, readiness=readiness, results=results)
    step("store")
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
            kind=kind, defaults={"data": data, "revision": revision, "computed_at": now}
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


# --- Writes for the REST API (issue 4): creating services, editing edges and reference data ----------

# Fields of a platform capability and a milestone that leads edit.
CAPABILITY_EDITABLE_FIELDS: tuple[str, ...] = (
    "key",
    "name_nb",
    "name_en",
    "description",
    "status",
    "planned_date",
    "delivered_date",
)
MILESTONE_EDITABLE_FIELDS: tuple[str, ...] = ("key", "name_nb", "name_en", "date", "is_deadline", "description")
OWNER_EDITABLE_FIELDS: tuple[str, ...] = (
    "code",
    "name_nb",
    "name_nn",
    "name_en",
    "orgnr",
    "homepage",
    "contact_email",
    "active",
)


class StaleCapabilityError(StaleVersionError):
    """Someone else changed this platform capability since the caller read it."""

    def __init__(self, *, expected: int, current: int) -> None:
        super().__init__(expected=expected, current=current)
        self.args = (
            _("This capability was changed by someone else (you edited version %(expected)s, it is now %(current)s).")
            % {"expected": expected, "current": current},
        )


def _require_lead(user: User) -> None:
    from .selectors import user_is_lead

    if user is not None and not user_is_lead(user):
        raise PermissionDenied(_("Only project leads may change this."))


def _refuse_unknown(data: Mapping[str, Any], allowed: tuple[str, ...] | set[str]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError(_("These fields cannot be edited here: %(f)s.") % {"f": ", ".join(sorted(unknown))})


@transaction.atomic
def service_create(*, data: Mapping[str, Any], user: User = None) -> Service:
    """Add a service edition (status "not started", version 1) to the catalog.

    ``data`` holds ``service_code``, ``edition_code``, ``owner`` (a ServiceOwner) and any of
    SERVICE_EDITABLE_FIELDS. The edit rule is the one for changes: an editor creates services only for
    their own organisation, a lead for any. A natural key that exists already is a ValidationError,
    also when a concurrent request inserted it first.
    """
    from django.db import IntegrityError

    _refuse_unknown(data, {*SERVICE_EDITABLE_FIELDS, "owner", "service_code", "edition_code"})
    owner = data.get("owner")
    if owner is None:
        raise ValidationError({"owner": _("A service needs an owner.")})
    if user is not None and not user_can_edit_owner(user, owner.pk):
        raise PermissionDenied(_("You may only create services for your own organisation."))
    service = Service(**data)
    service.full_clean(exclude=["version"])
    try:
        with transaction.atomic():
            service.save()
    except IntegrityError:
        message = _("Service %(code)s edition %(edition)s already exists.") % {
            "code": service.service_code,
            "edition": service.edition_code,
        }
        raise ValidationError({"edition_code": ValidationError(message, code="unique")}) from None
    _portfolio_changed()
    return service


@transaction.atomic
def dependency_update(
    *, dependency: Dependency, data: Mapping[str, Any], user: User = None, expected_version: int | None = None
) -> Dependency:
    """Change an edge's strength or note (its ends are fixed: remove it and add another instead).

    Compare-and-set on the edge's ``version`` under a row lock. Making a service edge hard is checked
    for cycles like a new hard edge; a strength change bumps the dependent service's version, because
    its readiness may change, and queues a recompute. A note alone changes neither.
    """
    _require_edit(user, dependency.service)
    _refuse_unknown(data, ("strength", "note"))
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
        _portfolio_changed()
    dependency.refresh_from_db()
    return dependency


def _capability_apply(capability: PlatformCapability, data: Mapping[str, Any]) -> None:
    """Set fields and keep the delivered date consistent with the roadmap status.

    Moving to "delivered" without a date records today; moving away from it clears the date.
    """
    from .choices import CapabilityStatus

    for field, value in data.items():
        setattr(capability, field, value)
    if "delivered_date" not in data:
        if capability.status == CapabilityStatus.DELIVERED and capability.delivered_date is None:
            capability.delivered_date = timezone.localdate()
        elif capability.status != CapabilityStatus.DELIVERED:
            capability.delivered_date = None


@transaction.atomic
def capability_create(*, data: Mapping[str, Any], user: User = None) -> PlatformCapability:
    """Add a platform capability to the roadmap (leads only)."""
    _require_lead(user)
    _refuse_unknown(data, CAPABILITY_EDITABLE_FIELDS)
    capability = PlatformCapability()
    _capability_apply(capability, data)
    capability.full_clean(exclude=["version"])
    capability.save()
    _portfolio_changed()
    return capability


@transaction.atomic
def capability_update(
    *,
    capability: PlatformCapability,
    data: Mapping[str, Any],
    user: User = None,
    expected_version: int | None = None,
) -> PlatformCapability:
    """Edit a capability with a compare-and-set on ``version`` (leads only); queues a recompute, since a
    delivery or a new planned date changes readiness and slip impact across the portfolio."""
    _require_lead(user)
    _refuse_unknown(data, CAPABILITY_EDITABLE_FIELDS)
    _capability_apply(capability, data)
    capability.full_clean(exclude=["version"])
    version = capability.version if expected_version is None else expected_version
    fields = {name: getattr(capability, name) for name in CAPABILITY_EDITABLE_FIELDS}
    changed = PlatformCapability.objects.filter(pk=capability.pk, version=version).update(
        **fields, version=F("version") + 1, updated_at=timezone.now()
    )
    if changed == 0:
        current = PlatformCapability.objects.filter(pk=capability.pk).values_list("version", flat=True).first()
        raise StaleCapabilityError(expected=version, current=current or 0)
    _portfolio_changed()
    capability.refresh_from_db()
    return capability


@transaction.atomic
def capability_delete(
    *, capability: PlatformCapability, user: User = None, expected_version: int | None = None
) -> None:
    """Remove a capability and the dependency edges on it (leads only); the services that needed it get
    a new version, as when one of their edges is removed."""
    _require_lead(user)
    locked = PlatformCapability.objects.select_for_update().get(pk=capability.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleCapabilityError(expected=expected_version, current=locked.version)
    dependents = Dependency.objects.filter(depends_on_capability=locked).values("service_id")
    Service.objects.filter(pk__in=dependents).update(version=F("version") + 1, updated_at=timezone.now())
    locked.delete()
    _portfolio_changed()


@transaction.atomic
def milestone_save(*, data: Mapping[str, Any], milestone: Any = None, user: User = None) -> Any:
    """Create (``milestone=None``) or edit a programme milestone (leads only).

    Marking one milestone as the deadline unmarks the previous one in the same transaction, since
    forecasts are measured against exactly one. Queues a recompute: the forecast reads the deadline.
    """
    from .models import Milestone

    _require_lead(user)
    _refuse_unknown(data, MILESTONE_EDITABLE_FIELDS)
    milestone = milestone if milestone is not None else Milestone()
    for field, value in data.items():
        setattr(milestone, field, value)
    if milestone.is_deadline:
        Milestone.objects.select_for_update().filter(is_deadline=True).exclude(pk=milestone.pk).update(
            is_deadline=False
        )
    milestone.full_clean()
    milestone.save()
    _portfolio_changed()
    return milestone


@transaction.atomic
def milestone_delete(*, milestone: Any, user: User = None) -> None:
    """Remove a milestone (leads only); the forecast falls back to the latest remaining one."""
    _require_lead(user)
    milestone.delete()
    _portfolio_changed()


@transaction.atomic
def owner_save(*, data: Mapping[str, Any], owner: Any = None, user: User = None) -> Any:
    """Create (``owner=None``) or edit a service-owning organisation (leads only)."""
    from .models import ServiceOwner

    _require_lead(user)
    _refuse_unknown(data, OWNER_EDITABLE_FIELDS)
    owner = owner if owner is not None else ServiceOwner()
    for field, value in data.items():
        setattr(owner, field, value)
    owner.full_clean()
    owner.save()
    return owner


@transaction.atomic
def owner_delete(*, owner: Any, user: User = None) -> None:
    """Remove an organisation that owns no services (leads only); its memberships go with it."""
    _require_lead(user)
    count = Service.objects.filter(owner=owner).count()
    if count:
        raise ValidationError(
            _("%(owner)s still owns %(count)s services; move them to another organisation first.")
            % {"owner": owner.code, "count": count},
            code="protected",
        )
    owner.delete()


@transaction.atomic
def api_token_rotate(*, user: AbstractBaseUser) -> Any:
    """Give the user a new API token, revoking the one they had: the key is shown once, to them."""
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def api_token_revoke(*, user: AbstractBaseUser) -> bool:
    """Revoke the user's API token; False when they had none."""
    from rest_framework.authtoken.models import Token

    deleted, _details = Token.objects.filter(user=user).delete()
    return bool(deleted)


# --- Weekly e-mail reports: digests computed once a week, a ledger claimed with compare-and-set -------

# This section's imports stay with it: it was appended to a module several people edit.
import secrets  # noqa: E402
from collections.abc import Iterable, Sequence  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.mail.backends.base import BaseEmailBackend  # noqa: E402
from django.db.models import Q  # noqa: E402
from django.db.models.query import QuerySet  # noqa: E402

from . import emails  # noqa: E402
from .models import ReportLanguage, ReportPreference, WeeklyReportDelivery, WeeklyReportDigest  # noqa: E402
from .reports import (  # noqa: E402
    OwnerSection,
    ProgrammeSection,
    Recipient,
    ReportWeek,
    WeekDigests,
    WeeklyReport,
    from_jsonable,
    to_jsonable,
    week_digests,
    weekly_report,
)
from .selectors import weekly_report_inputs_load, weekly_report_recipients  # noqa: E402

# A claim older than this belongs to a delivery that died (worker killed, machine lost) and may be taken
# over. Well above the delivery task's hard time limit, so a live delivery never loses its claim.
WEEKLY_CLAIM_TIMEOUT = datetime.timedelta(minutes=15)
# Attempts per recipient and week (the first send and every retry, across fan-outs) before giving up.
WEEKLY_MAX_ATTEMPTS = 6


class DeliveryOutcome:
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    IN_PROGRESS = "in_progress"  # another delivery holds a live claim
    GAVE_UP = "gave_up"  # WEEKLY_MAX_ATTEMPTS reached
    NOT_A_RECIPIENT = "not_a_recipient"  # opted out, no address, inactive, or no longer a member or lead


def _weekly_digests_decode(week: ReportWeek, rows: QuerySet[WeeklyReportDigest]) -> WeekDigests:
    programme, owners, blocked = None, {}, {}
    for row in rows:
        if row.scope == WeeklyReportDigest.Scope.PROGRAMME:
            programme = from_jsonable(ProgrammeSection, row.data)
        elif row.owner_id is not None:
            owners[row.owner_id] = from_jsonable(OwnerSection, row.data)
            blocked[row.owner_id] = tuple(row.blocked_service_ids)
    return WeekDigests(week=week, programme=programme, owners=owners, blocked=blocked)


def weekly_report_digests(
    *,
    week: ReportWeek,
    owner_ids: Iterable[int] | None = None,
    programme: bool = True,
    store: bool = True,
    today: datetime.date | None = None,
) -> WeekDigests:
    """The week's sections: the stored ones, or else built once from the history.

    ``owner_ids=None`` asks for every organisation. A complete week's freshly built digests are stored
    (``store=False`` only previews) with insert-or-ignore, so concurrent builders keep the first
    one's figures and every later reader, retry included, renders exactly those. Queries: one read;
    after a build also the loader's nine, the insert and a re-read.
    """
    today = today or timezone.localdate()
    wanted = None if owner_ids is None else set(owner_ids)
    rows = WeeklyReportDigest.objects.filter(iso_week=week.label)
    if wanted is not None:
        scope = Q(scope=WeeklyReportDigest.Scope.OWNER, owner_id__in=wanted)
        if programme:
            scope |= Q(scope=WeeklyReportDigest.Scope.PROGRAMME)
        rows = rows.filter(scope)
    stored = _weekly_digests_decode(week, rows)
    # The programme row is written together with every owner's, so it marks a complete build.
    has_owners = stored.programme is not None if wanted is None else wanted <= set(stored.owners)
    if has_owners and (stored.programme is not None or not programme):
        return stored

    built = week_digests(weekly_report_inputs_load(week=week, today=today))
    if store and week.is_complete(today):
        now = timezone.now()
        new_rows = [
            WeeklyReportDigest(
                iso_week=week.label,
                scope=WeeklyReportDigest.Scope.PROGRAMME,
                data=to_jsonable(built.programme),
                blocked_service_ids=sorted({sid for ids in built.blocked.values() for sid in ids}),
                built_at=now,
            ),
            *(
                WeeklyReportDigest(
                    iso_week=week.label,
                    scope=WeeklyReportDigest.Scope.OWNER,
                    owner_id=owner_id,
                    data=to_jsonable(section),
                    blocked_service_ids=list(built.blocked.get(owner_id, ())),
                    built_at=now,
                )
                for owner_id, section in sorted(built.owners.items())
            ),
        ]
        # Rows go in owner order in one transaction: a concurrent builder waits on the first row this
        # one holds and then finds every row taken, so a week's digests all come from one build.
        with transaction.atomic():
            WeeklyReportDigest.objects.bulk_create(new_rows, batch_size=500, ignore_conflicts=True)
        return _weekly_digests_decode(week, rows.all())
    if wanted is None:
        return built
    return dataclasses.replace(
        built,
        programme=built.programme if programme else None,
        owners={owner_id: s for owner_id, s in built.owners.items() if owner_id in wanted},
    )


def weekly_reports_prepare(*, week: ReportWeek, today: datetime.date | None = None) -> list[int]:
    """Build and store the week's digests (once), and return the recipients whose report is not sent yet."""
    if not WeeklyReportDigest.objects.filter(iso_week=week.label, scope=WeeklyReportDigest.Scope.PROGRAMME).exists():
        weekly_report_digests(week=week, today=today)
    return [recipient.user_id for recipient in weekly_report_recipients(unsent_week=week.label)]


def weekly_reports_build(
    *,
    week: ReportWeek,
    recipients: Sequence[Recipient] | None = None,
    store: bool = False,
    today: datetime.date | None = None,
) -> list[tuple[Recipient, WeeklyReport]]:
    """(recipient, report) for every recipient (or those given), from one read of the week's digests."""
    recipients = weekly_report_recipients() if recipients is None else recipients
    digests = weekly_report_digests(week=week, store=store, today=today)
    return [(r, weekly_report(r, week, programme=digests.programme, owners=digests.owners)) for r in recipients]


def weekly_report_claim(
    *, recipient_id: int, iso_week: str, kind: str, now: datetime.datetime | None = None
) -> WeeklyReportDelivery | None:
    """Claim the right to send ``recipient_id`` the report for ``iso_week``; None when it is not ours to send.

    Insert-or-claim: the first delivery inserts the ledger row (the unique constraint lets exactly
    one insert win); later ones may take the row over only with a compare-and-set from ``failed``,
    or from a ``claimed`` older than WEEKLY_CLAIM_TIMEOUT, and only below WEEKLY_MAX_ATTEMPTS.
    """
    from django.db import IntegrityError

    now = now or timezone.now()
    token = secrets.token_hex(16)
    try:
        with transaction.atomic():
            return WeeklyReportDelivery.objects.create(
                recipient_id=recipient_id,
                iso_week=iso_week,
                kind=kind,
                status=WeeklyReportDelivery.Status.CLAIMED,
                message_id=emails.message_id_for(user_id=recipient_id, iso_week=iso_week),
                claim_token=token,
                attempts=1,
                created_at=now,
                claimed_at=now,
            )
    except IntegrityError:
        pass
    taken = WeeklyReportDelivery.objects.filter(
        Q(status=WeeklyReportDelivery.Status.FAILED)
        | Q(status=WeeklyReportDelivery.Status.CLAIMED, claimed_at__lt=now - WEEKLY_CLAIM_TIMEOUT),
        recipient_id=recipient_id,
        iso_week=iso_week,
        attempts__lt=WEEKLY_MAX_ATTEMPTS,
    ).update(status=WeeklyReportDelivery.Status.CLAIMED, claim_token=token, claimed_at=now, attempts=F("attempts") + 1)
    if not taken:
        return None
    return WeeklyReportDelivery.objects.get(recipient_id=recipient_id, iso_week=iso_week)


def weekly_report_mark_sent(
    *, delivery: WeeklyReportDelivery, content_hash: str, now: datetime.datetime | None = None
) -> bool:
    """Record the send if this attempt still holds the claim; False means another attempt took it over."""
    return bool(
        WeeklyReportDelivery.objects.filter(
            pk=delivery.pk, claim_token=delivery.claim_token, status=WeeklyReportDelivery.Status.CLAIMED
        ).update(
            status=WeeklyReportDelivery.Status.SENT,
            sent_at=now or timezone.now(),
            content_hash=content_hash,
            last_error="",
        )
    )


def weekly_report_mark_failed(*, delivery: WeeklyReportDelivery, error: str) -> bool:
    """Release the claim as ``failed`` (a retry may take it over), keeping the error for the admin."""
    return bool(
        WeeklyReportDelivery.objects.filter(
            pk=delivery.pk, claim_token=delivery.claim_token, status=WeeklyReportDelivery.Status.CLAIMED
        ).update(status=WeeklyReportDelivery.Status.FAILED, last_error=error[:2000])
    )


def weekly_report_deliver(
    *,
    user_id: int,
    iso_week: str,
    connection: BaseEmailBackend | None = None,
    today: datetime.date | None = None,
) -> str:
    """Send one recipient's report for one week, at most once: claim, render, send, mark (a DeliveryOutcome).

    A failure marks the row failed and re-raises, so the task retries with backoff; the retry renders
    the same stored digests under the same Message-ID and Date. Queries, whatever the recipient's
    organisations: the recipient (two), the claim (one to three), the digests (one), the mark (one).
    """
    week = ReportWeek.parse(iso_week)
    found = weekly_report_recipients(user_ids=[user_id])
    if not found:
        return DeliveryOutcome.NOT_A_RECIPIENT
    recipient = found[0]
    delivery = weekly_report_claim(recipient_id=user_id, iso_week=week.label, kind=recipient.kind)
    if delivery is None:
        status = (
            WeeklyReportDelivery.objects.filter(recipient_id=user_id, iso_week=week.label)
            .values_list("status", flat=True)
            .first()
        )
        if status == WeeklyReportDelivery.Status.SENT:
            return DeliveryOutcome.ALREADY_SENT
        if status == WeeklyReportDelivery.Status.CLAIMED:
            return DeliveryOutcome.IN_PROGRESS
        return DeliveryOutcome.GAVE_UP
    try:
        digests = weekly_report_digests(
            week=week, owner_ids=recipient.owner_ids, programme=recipient.is_lead, today=today
        )
        report = weekly_report(recipient, week, programme=digests.programme, owners=digests.owners)
        rendered = emails.weekly_report_render(report)
        emails.weekly_report_message(
            report,
            rendered,
            to=recipient.email,
            message_id=delivery.message_id,
            date=delivery.created_at,
            connection=connection,
        ).send()
    except Exception as exc:
        weekly_report_mark_failed(delivery=delivery, error=f"{type(exc).__name__}: {exc}")
        raise
    if not weekly_report_mark_sent(delivery=delivery, content_hash=rendered.content_hash):
        logger.warning(
            "Weekly report %s for user %s was sent after its claim was taken over; a second copy with "
            "Message-ID %s may follow.",
            week.label,
            user_id,
            delivery.message_id,
        )
    return DeliveryOutcome.SENT


@transaction.atomic
def report_preferences_update(*, user: AbstractBaseUser, receive_weekly: bool, language: str) -> ReportPreference:
    """Save whether the user receives the weekly report, and in which language."""
    if language not in ReportLanguage.values:
        raise ValidationError({"language": _("Unknown language %(language)r.") % {"language": language}})
    preference, _created = ReportPreference.objects.update_or_create(
        user=user, defaults={"receive_weekly": receive_weekly, "language": language}
    )
    return preference


@transaction.atomic
def report_unsubscribe(*, user_id: int) -> bool:
    """Stop the weekly report (the signed link's action; idempotent). False when there is no such user."""
    if not get_user_model().objects.filter(pk=user_id).exists():
        return False
    ReportPreference.objects.update_or_create(user_id=user_id, defaults={"receive_weekly": False})
    return True


# --- Web UI: the remembered language -------------------------------------------------------------------


def user_language_set(*, user: AbstractBaseUser, language: str) -> None:
    """Remember the user's language for pages and the weekly e-mail (one preference, one row)."""
    from .models import ReportLanguage, ReportPreference

    if language not in ReportLanguage.values:
        raise ValidationError({"language": _("Unknown language %(language)r.") % {"language": language}})
    ReportPreference.objects.update_or_create(user=user, defaults={"language": language})
