"""Reads that feed pages, the API, e-mails and reports. Each returns a queryset or plain data shaped
for its consumer, with the joins it needs done here, once.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import BooleanField, Case, Prefetch, QuerySet, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from .choices import PROJECT_LEADS_GROUP, MembershipRole
from .models import (
    Dependency,
    Milestone,
    PlatformCapability,
    PortfolioResult,
    PortfolioState,
    Service,
    ServiceOwner,
    ServiceReadiness,
    StatusChange,
)

User = AbstractBaseUser | AnonymousUser


def user_is_lead(user: User) -> bool:
    """Project leads (the programme team, or superusers) have rights over every organisation."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    # Cached on the user object: one query per request however many checks a page makes.
    if not hasattr(user, "_tracker_is_lead"):
        user._tracker_is_lead = user.groups.filter(name=PROJECT_LEADS_GROUP).exists()  # type: ignore[union-attr]
    return user._tracker_is_lead  # type: ignore[union-attr]


def owner_roles_for(user: User) -> dict[int, str]:
    """{owner id: role} for the user's memberships, cached on the user object."""
    if not user.is_authenticated:
        return {}
    if not hasattr(user, "_tracker_owner_roles"):
        user._tracker_owner_roles = dict(user.memberships.values_list("owner_id", "role"))  # type: ignore[union-attr]
    return user._tracker_owner_roles  # type: ignore[union-attr]


def user_can_edit_owner(user: User, owner_id: int) -> bool:
    """Leads edit everything; an editor edits their own organisations; viewers edit nothing."""
    return user_is_lead(user) or owner_roles_for(user).get(owner_id) == MembershipRole.EDITOR


def service_catalog(*, owner_id: int | None = None) -> QuerySet[Service]:
    """Services for list pages: owner and stored readiness joined, so a page of rows costs one query."""
    qs = Service.objects.select_related("owner", "readiness")
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    return qs


def service_detail(*, pk: int) -> Service:
    """One service with its owner, dependencies both ways and status history, in a fixed number of queries."""
    return (
        Service.objects.select_related("owner")
        .prefetch_related(
            Prefetch(
                "dependencies",
                queryset=Dependency.objects.select_related("depends_on_service__owner", "depends_on_capability"),
            ),
            Prefetch("dependents", queryset=Dependency.objects.select_related("service__owner")),
            Prefetch("status_changes", queryset=StatusChange.objects.select_related("changed_by")),
        )
        .get(pk=pk)
    )


# --- Inputs for the engine: plain tuples, read in a fixed number of queries -------------------------


def portfolio_load() -> tuple[list, list, list]:
    """Every service, capability and dependency edge as engine input nodes (three queries).

    ``values_list`` skips model instantiation: at 100,000 services this is most of the floor that the
    recompute benchmark compares against.
    """
    from .choices import CapabilityStatus, DependencyStrength
    from .engine.graph import CapabilityNode, ServiceNode
    from .models import PlatformCapability

    services = [
        ServiceNode(*row)
        for row in Service.objects.order_by().values_list(
            "id", "owner_id", "service_type", "status", "target", "target_date", "yearly_volume"
        )
    ]
    capabilities = [
        CapabilityNode(pk, key, status == CapabilityStatus.DELIVERED, planned)
        for pk, key, status, planned in PlatformCapability.objects.order_by().values_list(
            "id", "key", "status", "planned_date"
        )
    ]
    # The database says whether each edge is hard.
    hard = Case(
        When(strength=DependencyStrength.HARD, then=Value(True)), default=Value(False), output_field=BooleanField()
    )
    # Rows in Edge's field order: the engine unpacks edges positionally, so they need no conversion.
    edges = list(
        Dependency.objects.order_by()
        .annotate(hard=hard)
        .values_list("service_id", "depends_on_service_id", "depends_on_capability_id", "hard")
    )
    return services, capabilities, edges


def done_arrivals_load(*, since: datetime.date) -> list:
    """Status changes since ``since`` that brought a service from open to done, as forecast events.

    One query, filtered in the database: a move from an open status to a done one is exactly an
    arrival (engine.progress.done_arrivals), so the forecast needs no other rows. The local (Oslo)
    date is computed by the database, not per row in Python.
    """
    from .engine.lifecycle import DONE
    from .engine.progress import StatusEvent

    start = timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))
    rows = (
        StatusChange.objects.filter(changed_at__gte=start, to_status__in=DONE)
        .exclude(from_status__in=DONE)
        .annotate(on=TruncDate("changed_at"))
        .order_by("changed_at", "id")
        .values_list("service_id", "to_status", "on", "from_status")
    )
    return [StatusEvent(sid, to, on, before) for sid, to, on, before in rows]


def status_changes_load() -> list:
    """The whole status history as replay changes (local dates), oldest first: one query."""
    from .engine.history import Change

    rows = StatusChange.objects.order_by("changed_at", "id").values_list(
        "service_id", "changed_at", "from_status", "to_status"
    )
    tz = timezone.get_current_timezone()
    return [Change(sid, at.astimezone(tz).date(), from_status, to_status) for sid, at, from_status, to_status in rows]


def owner_codes_load() -> dict[int, str]:
    return dict(ServiceOwner.objects.values_list("id", "code"))


def deadline_date() -> datetime.date | None:
    """The date forecasts are measured against: the deadline milestone, else the latest milestone."""
    milestone = Milestone.objects.order_by("-is_deadline", "-date").first()
    return milestone.date if milestone else None


# --- Engine results for pages, the API and e-mails: stored by the recompute, read in fixed queries --


@dataclass(frozen=True)
class Freshness:
    """When the stored results were computed, and whether changes have been made since."""

    computed_at: datetime.datetime | None
    fresh: bool


@dataclass(frozen=True)
class BlockerView:
    """One blocker with the names a person needs: what, whose, when, and the chain leading to it."""

    kind: str
    capability: PlatformCapability | None
    service: Service | None
    planned_date: datetime.date | None
    missing: str
    path: tuple[Service, ...]


@dataclass(frozen=True)
class ReadinessView:
    state: str
    score: int
    parts: tuple[tuple[str, int], ...]
    blockers: tuple[BlockerView, ...]
    capability_blocker_count: int
    service_blocker_count: int
    freshness: Freshness


def portfolio_freshness() -> Freshness:
    """One query: the portfolio state row."""
    state = PortfolioState.objects.filter(pk=1).first()
    if state is None:
        return Freshness(computed_at=None, fresh=False)
    return Freshness(computed_at=state.computed_at, fresh=state.is_fresh)


def readiness_view(service: Service) -> ReadinessView | None:
    """The service's stored readiness with every blocker named: four queries whatever the blockers.

    Queries: the readiness row, the services named in blockers and paths (with owners), the
    capabilities named, and the freshness row.
    """
    row = ServiceReadiness.objects.filter(service=service).first()
    if row is None:
        return None
    blockers = row.detail.get("blockers", [])
    service_ids = {pk for b in blockers for pk in b.get("path", ())} | {
        b["service_id"] for b in blockers if b.get("service_id")
    }
    capability_ids = {b["capability_id"] for b in blockers if b.get("capability_id")}
    services = Service.objects.select_related("owner").in_bulk(service_ids) if service_ids else {}
    capabilities = PlatformCapability.objects.in_bulk(capability_ids) if capability_ids else {}
    views = tuple(
        BlockerView(
            kind=b["kind"],
            capability=capabilities.get(b.get("capability_id")),
            service=services.get(b.get("service_id")),
            planned_date=datetime.date.fromisoformat(b["planned_date"]) if b.get("planned_date") else None,
            missing=b.get("missing", ""),
            path=tuple(services[pk] for pk in b.get("path", ()) if pk in services),
        )
        for b in blockers
    )
    return ReadinessView(
        state=row.state,
        score=row.score,
        parts=tuple((label, points) for label, points in row.detail.get("parts", [])),
        blockers=views,
        capability_blocker_count=row.detail.get("capability_blocker_count", 0),
        service_blocker_count=row.detail.get("service_blocker_count", 0),
        freshness=portfolio_freshness(),
    )


@dataclass(frozen=True)
class LeverageView:
    kind: str
    capability: PlatformCapability | None
    service: Service | None
    planned_date: datetime.date | None
    direct_count: int
    transitive_count: int
    transitive_volume: int
    unblocks_count: int
    unblocks_volume: int


def leverage_list(*, limit: int | None = None, results: Mapping[str, Any] | None = None) -> list[LeverageView]:
    """The project leads' priority list with names: three queries (result, capabilities, services)."""
    if results is not None:
        rows = results.get(PortfolioResult.Kind.LEVERAGE, [])
    else:
        rows = engine_result_load(PortfolioResult.Kind.LEVERAGE).data or []
    rows = rows[:limit] if limit else rows
    capabilities = PlatformCapability.objects.in_bulk({r["capability_id"] for r in rows if r["capability_id"]})
    services = Service.objects.select_related("owner").in_bulk({r["service_id"] for r in rows if r["service_id"]})
    return [
        LeverageView(
            kind=r["kind"],
            capability=capabilities.get(r["capability_id"]),
            service=services.get(r["service_id"]),
            planned_date=datetime.date.fromisoformat(r["planned_date"]) if r.get("planned_date") else None,
            direct_count=r["direct_count"],
            transitive_count=r["transitive_count"],
            transitive_volume=r["transitive_volume"],
            unblocks_count=r["unblocks_count"],
            unblocks_volume=r["unblocks_volume"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class OwnerProgressRow:
    owner: ServiceOwner
    total_count: int
    done_count: int
    pct_done_count: float
    total_volume: int
    done_volume: int
    pct_done_volume: float
    forecast_status: str
    p85_date: datetime.date | None


@dataclass(frozen=True)
class ProgrammeOverview:
    """Everything the programme page shows from stored results, named, in a fixed number of queries."""

    overall: Mapping[str, Any] | None
    forecast: Mapping[str, Any] | None
    owners: list[OwnerProgressRow]
    leverage: list[LeverageView]
    waves: list[Mapping[str, Any]]
    cycle_count: int
    overdue_count: int
    freshness: Freshness


def programme_overview(*, leverage_limit: int = 15) -> ProgrammeOverview:
    """Queries: stored results (one), owners (one), leverage names (two), freshness (one)."""
    results = {r.kind: r.data for r in PortfolioResult.objects.all()}
    progress_data = results.get(PortfolioResult.Kind.PROGRESS) or {}
    forecast_data = results.get(PortfolioResult.Kind.FORECAST) or {}
    owners = ServiceOwner.objects.in_bulk([int(pk) for pk in progress_data.get("by_owner", {})])
    forecasts = forecast_data.get("by_owner", {})
    rows = []
    for owner_id, figures in progress_data.get("by_owner", {}).items():
        owner_forecast = forecasts.get(owner_id, {})
        rows.append(
            OwnerProgressRow(
                owner=owners[int(owner_id)],
                total_count=figures["total_count"],
                done_count=figures["done_count"],
                pct_done_count=figures["pct_done_count"],
                total_volume=figures["total_volume"],
                done_volume=figures["done_volume"],
                pct_done_volume=figures["pct_done_volume"],
                forecast_status=owner_forecast.get("status", ""),
                p85_date=datetime.date.fromisoformat(owner_forecast["p85_date"])
                if owner_forecast.get("p85_date")
                else None,
            )
        )
    # Furthest behind first: the least done by volume, then by count.
    rows.sort(key=lambda r: (r.pct_done_volume, r.pct_done_count, r.owner.code))
    wave_data = results.get(PortfolioResult.Kind.WAVES) or {}
    return ProgrammeOverview(
        overall=progress_data.get("overall"),
        forecast=forecast_data.get("overall"),
        owners=rows,
        leverage=leverage_list(limit=leverage_limit, results=results),
        waves=[
            {"number": w["number"], "count": len(w["service_ids"]), "yearly_volume": w["yearly_volume"]}
            for w in wave_data.get("waves", [])
        ],
        cycle_count=len(wave_data.get("cycle_service_ids", [])),
        overdue_count=len(progress_data.get("overdue", [])),
        freshness=portfolio_freshness(),
    )


# --- Weekly e-mail reports: the week's inputs and the recipients, each in a fixed number of queries --

# This section's imports stay with it: it was appended to a module several people edit.
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db.models import Exists, OuterRef, Q  # noqa: E402

from .choices import CapabilityStatus, DependencyStrength  # noqa: E402
from .engine.progress import STATUS_ORDER  # noqa: E402
from .models import (  # noqa: E402
    Membership,
    ProgressSnapshot,
    ReportPreference,
    WeeklyReportDelivery,
    WeeklyReportDigest,
)
from .reports.build import (  # noqa: E402
    CapabilityRow,
    ChangeRow,
    EdgeRow,
    Recipient,
    ServiceRow,
    SnapshotRow,
    WeekInputs,
)
from .reports.data import OwnerRef  # noqa: E402
from .reports.weeks import ReportWeek  # noqa: E402


def weekly_report_inputs_load(*, week: ReportWeek, today: datetime.date) -> WeekInputs:
    """Everything ``reports.week_digests`` needs for ``week``: nine queries, whatever the portfolio's size.

    Queries: the stored forecast, last week's digests (their blocked services), the deadline, owners,
    services, capabilities, edges, status changes (with the name of who made each) and the three
    end-of-week snapshots. Nothing private is selected: no notes, contacts or edition names.
    """
    from .services import FORECAST_WINDOW_WEEKS  # services imports this module

    report_day = week.report_day
    stored = PortfolioResult.objects.filter(kind=PortfolioResult.Kind.FORECAST).values_list("data", flat=True).first()
    # The stored forecast speaks for this report when it was computed during the sending week.
    as_of = (stored or {}).get("overall", {}).get("today")
    usable = bool(as_of) and report_day <= datetime.date.fromisoformat(as_of) < report_day + datetime.timedelta(days=7)
    since = week.previous.monday
    if not usable:
        since = min(since, report_day - datetime.timedelta(weeks=FORECAST_WINDOW_WEEKS + 1))

    previous_rows = list(
        WeeklyReportDigest.objects.filter(iso_week=week.previous.label).values_list(
            "scope", "owner_id", "blocked_service_ids"
        )
    )
    previous_blocked = None
    if any(scope == WeeklyReportDigest.Scope.PROGRAMME for scope, _owner, _ids in previous_rows):
        previous_blocked = {owner: frozenset(ids) for scope, owner, ids in previous_rows if owner is not None}

    owners = [OwnerRef(*row) for row in ServiceOwner.objects.order_by().values_list("id", "code", "name_nb", "name_en")]
    codes = {owner.code: owner.id for owner in owners}
    services = [
        ServiceRow(*row[:-1], timezone.localdate(row[-1]))
        for row in Service.objects.order_by().values_list(
            "id",
            "owner_id",
            "service_code",
            "edition_code",
            "name_nb",
            "name_en",
            "service_type",
            "status",
            "target",
            "target_date",
            "yearly_volume",
            "created_at",
        )
    ]
    capabilities = [
        CapabilityRow(pk, key, nb, en, status == CapabilityStatus.DELIVERED, planned, delivered)
        for pk, key, nb, en, status, planned, delivered in PlatformCapability.objects.order_by().values_list(
            "id", "key", "name_nb", "name_en", "status", "planned_date", "delivered_date"
        )
    ]
    edges = [
        EdgeRow(sid, on_service, on_capability, strength == DependencyStrength.HARD, timezone.localdate(created))
        for sid, on_service, on_capability, strength, created in Dependency.objects.order_by().values_list(
            "service_id", "depends_on_service_id", "depends_on_capability_id", "strength", "created_at"
        )
    ]
    start = timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))
    changes = [
        ChangeRow(
            sid, at, timezone.localdate(at), before, after, f"{first or ''} {last or ''}".strip() or (username or "")
        )
        for sid, at, before, after, first, last, username in StatusChange.objects.filter(changed_at__gte=start)
        .order_by("changed_at", "id")
        .values_list(
            "service_id",
            "changed_at",
            "from_status",
            "to_status",
            "changed_by__first_name",
            "changed_by__last_name",
            "changed_by__username",
        )
    ]
    days = [week.sunday, week.previous.sunday, week.previous.previous.sunday]
    snapshots = []
    for day, scope, key, total, done, total_volume, done_volume, by_status in ProgressSnapshot.objects.filter(
        day__in=days, scope__in=[ProgressSnapshot.Scope.OVERALL, ProgressSnapshot.Scope.OWNER]
    ).values_list("day", "scope", "scope_key", "total_count", "done_count", "total_volume", "done_volume", "by_status"):
        if scope == ProgressSnapshot.Scope.OWNER and key not in codes:
            continue
        owner_id = codes[key] if scope == ProgressSnapshot.Scope.OWNER else None
        counts = tuple((status, int((by_status.get(status) or [0, 0])[0])) for status in STATUS_ORDER)
        snapshots.append(SnapshotRow(day, owner_id, total, done, total_volume, done_volume, counts))

    return WeekInputs(
        week=week,
        deadline=deadline_date(),
        owners=owners,
        services=services,
        capabilities=capabilities,
        edges=edges,
        changes=changes,
        changes_since=since,
        snapshots=snapshots,
        stored_forecast=stored if usable else None,
        previous_blocked=previous_blocked,
        forecast_window_weeks=FORECAST_WINDOW_WEEKS,
    )


def weekly_report_recipients(
    *,
    user_ids: list[int] | None = None,
    include_opted_out: bool = False,
    unsent_week: str | None = None,
) -> list[Recipient]:
    """Who receives the weekly report: two queries (users with their lead flag and preferences; memberships).

    A recipient is an active user with an e-mail address who is a member of an organisation or a
    project lead (the group: a superuser alone is an administrator, not a reader) and has not opted
    out. ``unsent_week`` leaves out those whose report for that ISO week is already sent.
    """
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(email="")
        .annotate(
            is_lead=Exists(Group.objects.filter(name=PROJECT_LEADS_GROUP, user=OuterRef("pk"))),
            is_member=Exists(Membership.objects.filter(user=OuterRef("pk"))),
        )
        .filter(Q(is_lead=True) | Q(is_member=True))
    )
    if not include_opted_out:
        users = users.exclude(report_preference__receive_weekly=False)
    if user_ids is not None:
        users = users.filter(pk__in=user_ids)
    if unsent_week is not None:
        sent = WeeklyReportDelivery.objects.filter(
            recipient=OuterRef("pk"), iso_week=unsent_week, status=WeeklyReportDelivery.Status.SENT
        )
        users = users.exclude(Exists(sent))
    rows = list(
        users.order_by("pk").values_list(
            "pk",
            "email",
            "first_name",
            "last_name",
            "username",
            "is_lead",
            "report_preference__language",
            "report_preference__receive_weekly",
        )
    )
    owner_ids: dict[int, list[int]] = {}
    if rows:
        memberships = Membership.objects.filter(user_id__in=[row[0] for row in rows]).order_by("owner_id")
        for user_id, owner_id in memberships.values_list("user_id", "owner_id"):
            owner_ids.setdefault(user_id, []).append(owner_id)
    language_codes = {code for code, _name in settings.LANGUAGES}
    default_language = settings.LANGUAGE_CODE if settings.LANGUAGE_CODE in language_codes else "nb"
    return [
        Recipient(
            user_id=pk,
            email=email,
            name=f"{first} {last}".strip() or username,
            language=language if language in language_codes else default_language,
            is_lead=is_lead,
            owner_ids=tuple(owner_ids.get(pk, ())),
            receive_weekly=receive is not False,
        )
        for pk, email, first, last, username, is_lead, language, receive in rows
    ]


def report_preference_for(user: AbstractBaseUser) -> ReportPreference:
    """The user's weekly-report preference, or the defaults (unsaved) for a user who never chose: one query."""
    return ReportPreference.objects.filter(user_id=user.pk).first() or ReportPreference(user_id=user.pk)


# --- The REST API (issue 4): what a user may write, and stored engine results with their freshness ----


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


@dataclass(frozen=True)
class EngineResult:
    """One stored portfolio result: its data (None before the first recompute) and how current it is.

    ``fresh`` is true when no change that could affect it has been committed since it was computed.
    """

    kind: str
    data: Any
    computed_at: datetime.datetime | None
    revision: int | None
    fresh: bool


def engine_result_load(kind: str) -> EngineResult:
    """One query: the stored result with the portfolio's current revision read alongside it."""
    from django.db.models import Subquery

    current = PortfolioState.objects.filter(pk=1).values("revision")[:1]
    row = (
        PortfolioResult.objects.filter(kind=kind)
        .annotate(current_revision=Subquery(current))
        .values("data", "computed_at", "revision", "current_revision")
        .first()
    )
    if row is None:
        return EngineResult(kind=kind, data=None, computed_at=None, revision=None, fresh=False)
    return EngineResult(
        kind=kind,
        data=row["data"],
        computed_at=row["computed_at"],
        revision=row["revision"],
        fresh=row["revision"] == row["current_revision"],
    )


def readiness_row(service_id: int) -> ServiceReadiness | None:
    """The stored readiness of one service, or None before the first recompute that saw it."""
    return ServiceReadiness.objects.filter(service_id=service_id).first()


def status_history() -> QuerySet[StatusChange]:
    """Status changes newest first, with the service, its owner and the user joined (one query a page)."""
    return StatusChange.objects.select_related("service__owner", "changed_by").order_by("-changed_at", "-id")


# --- Web UI pages: my organisation, capabilities, dashboard, dependency view ---------------------------

# Rows shown per status group on the organisation page; the catalog link lists the rest.
OWNER_GROUP_ROWS = 25
# Days ahead that count as "due soon".
DUE_SOON_DAYS = 30


@dataclass(frozen=True)
class StatusGroup:
    status: str
    label: str
    count: int
    volume: int
    services: list[Service]


@dataclass(frozen=True)
class WaitingOn:
    """Something outside the organisation's control that some of its services wait for."""

    capability: PlatformCapability | None
    service: Service | None
    our_services: list[Service]
    our_volume: int


@dataclass(frozen=True)
class OwnerOverview:
    owner: ServiceOwner
    groups: list[StatusGroup]
    total_count: int
    total_volume: int
    done_count: int
    done_volume: int
    migrated_count: int
    migrated_volume: int
    blocked_by: list[WaitingOn]
    blocking: list[Dependency]
    overdue: list[Service]
    due_soon: list[Service]
    recent_changes: list[StatusChange]
    freshness: Freshness

    @property
    def pct_done_count(self) -> float:
        return round(100 * self.done_count / self.total_count, 1) if self.total_count else 0.0

    @property
    def pct_done_volume(self) -> float:
        return round(100 * self.done_volume / self.total_volume, 1) if self.total_volume else 0.0


def owner_overview(*, owner: ServiceOwner, today: datetime.date | None = None, recent: int = 15) -> OwnerOverview:
    """The "my organisation" page in six queries whatever the number of services.

    Queries: the owner's services with readiness (one), capabilities and other services named in their
    blockers (two), other owners' open services waiting for ours (one), recent status changes (one),
    freshness (one).
    """
    from .choices import DependencyStrength, MigrationStatus
    from .engine.lifecycle import DONE, FORWARD_ORDER, MIGRATED, TERMINAL_OUTCOMES

    today = today or timezone.localdate()
    services = list(
        Service.objects.filter(owner=owner).select_related("readiness").order_by("service_code", "edition_code")
    )
    by_status: dict[str, list[Service]] = {}
    for service in services:
        service.owner = owner  # already known: no query per row for the owner's name
        by_status.setdefault(service.status, []).append(service)
    labels = dict(MigrationStatus.choices)
    groups = [
        StatusGroup(
            status=status,
            label=str(labels[status]),
            count=len(by_status[status]),
            volume=sum(s.yearly_volume for s in by_status[status]),
            services=by_status[status][:OWNER_GROUP_ROWS],
        )
        for status in (*FORWARD_ORDER, *sorted(TERMINAL_OUTCOMES))
        if status in by_status
    ]
    done = [s for s in services if s.status in DONE]
    migrated = [s for s in services if s.status in MIGRATED]

    # What blocks us: root causes from the stored readiness, grouped by what they are waiting for.
    waiting: dict[tuple[str, int], list[Service]] = {}
    for service in services:
        readiness = getattr(service, "readiness", None)
        if readiness is None or readiness.state != "blocked":
            continue
        for blocker in readiness.detail.get("blockers", []):
            if blocker.get("kind") == "capability" and blocker.get("capability_id"):
                key = ("capability", blocker["capability_id"])
            elif blocker.get("kind") == "service" and blocker.get("service_id") and blocker.get("owner_id") != owner.pk:
                key = ("service", blocker["service_id"])
            else:
                continue
            if service not in waiting.setdefault(key, []):
                waiting[key].append(service)
    capabilities = PlatformCapability.objects.in_bulk([pk for kind, pk in waiting if kind == "capability"])
    others = Service.objects.select_related("owner").in_bulk([pk for kind, pk in waiting if kind == "service"])
    blocked_by = [
        WaitingOn(
            capability=capabilities.get(pk) if kind == "capability" else None,
            service=others.get(pk) if kind == "service" else None,
            our_services=ours,
            our_volume=sum(s.yearly_volume for s in ours),
        )
        for (kind, pk), ours in waiting.items()
        if (capabilities if kind == "capability" else others).get(pk) is not None
    ]
    blocked_by.sort(key=lambda w: (-w.our_volume, -len(w.our_services)))

    # Whom we block: other owners' open services with a hard dependency on one of ours not yet migrated.
    blocking = list(
        Dependency.objects.filter(
            depends_on_service__owner=owner, strength=DependencyStrength.HARD, depends_on_service__isnull=False
        )
        .exclude(service__owner=owner)
        .exclude(service__status__in=DONE)
        .exclude(depends_on_service__status__in=DONE)
        .select_related("service__owner", "depends_on_service")
        .order_by("depends_on_service__service_code", "service__service_code")[:200]
    )
    open_with_date = [s for s in services if s.status not in DONE and s.target_date is not None]
    overdue = sorted((s for s in open_with_date if s.target_date < today), key=lambda s: s.target_date)
    soon_limit = today + datetime.timedelta(days=DUE_SOON_DAYS)
    due_soon = sorted((s for s in open_with_date if today <= s.target_date <= soon_limit), key=lambda s: s.target_date)
    recent_changes = list(
        StatusChange.objects.filter(service__owner=owner).select_related("service", "changed_by")[:recent]
    )
    return OwnerOverview(
        owner=owner,
        groups=groups,
        total_count=len(services),
        total_volume=sum(s.yearly_volume for s in services),
        done_count=len(done),
        done_volume=sum(s.yearly_volume for s in done),
        migrated_count=len(migrated),
        migrated_volume=sum(s.yearly_volume for s in migrated),
        blocked_by=blocked_by[:50],
        blocking=blocking,
        overdue=overdue[:100],
        due_soon=due_soon[:100],
        recent_changes=recent_changes,
        freshness=portfolio_freshness(),
    )


def capability_overview() -> QuerySet[PlatformCapability]:
    """Capabilities with the open services (and their yearly volume) directly waiting for each: one query."""
    from django.db.models import Count, Q, Sum

    from .engine.lifecycle import DONE

    waiting = Q(dependents__strength="hard") & ~Q(dependents__service__status__in=DONE)
    return PlatformCapability.objects.annotate(
        waiting_count=Count("dependents", filter=waiting),
        waiting_volume=Sum("dependents__service__yearly_volume", filter=waiting, default=0),
    ).order_by("planned_date", "key")


def burnup_series() -> list[tuple[datetime.date, int, int, int, int]]:
    """(day, done count, total count, done volume, total volume) from the overall snapshots: one query."""
    from .models import ProgressSnapshot

    return list(
        ProgressSnapshot.objects.filter(scope=ProgressSnapshot.Scope.OVERALL, scope_key="")
        .order_by("day")
        .values_list("day", "done_count", "total_count", "done_volume", "total_volume")
    )


def status_changes_since(*, since: datetime.datetime, limit: int = 200) -> list[StatusChange]:
    """Status changes since ``since``, newest first, with service, owner and author: one query."""
    return list(
        StatusChange.objects.filter(changed_at__gte=since).select_related("service__owner", "changed_by")[:limit]
    )


@dataclass
class DependencyNode:
    """One box in the dependency diagram: a service or a capability, and what hangs below it."""

    service: Service | None
    capability: PlatformCapability | None
    strength: str
    children: list[DependencyNode]
    repeated: bool = False  # already drawn elsewhere in this tree: not expanded again


def dependency_trees(
    *, service: Service, max_depth: int = 6, max_nodes: int = 200
) -> tuple[list[DependencyNode], list[DependencyNode], bool]:
    """Upstream (what it needs) and downstream (who needs it) as trees; True when cut at the limits.

    Queries: the edge list (one), the services named (one), the capabilities named (one). The edge list
    is read whole as id tuples, so the number of queries does not grow with the depth of the graph.
    """
    edges = list(
        Dependency.objects.order_by().values_list(
            "service_id", "depends_on_service_id", "depends_on_capability_id", "strength"
        )
    )
    needs: dict[int, list[tuple[int | None, int | None, str]]] = {}
    needed_by: dict[int, list[tuple[int, str]]] = {}
    for source, on_service, on_capability, strength in edges:
        needs.setdefault(source, []).append((on_service, on_capability, strength))
        if on_service is not None:
            needed_by.setdefault(on_service, []).append((source, strength))

    truncated = False
    count = 0
    service_ids: set[int] = set()
    capability_ids: set[int] = set()

    def grow(children_of, root_id: int) -> list[dict]:
        nonlocal truncated, count
        seen = {root_id}

        def walk(node_id: int, depth: int) -> list[dict]:
            nonlocal truncated, count
            out = []
            for child in children_of(node_id):
                if count >= max_nodes:
                    truncated = True
                    break
                count += 1
                kind, pk, strength = child
                if kind == "capability":
                    capability_ids.add(pk)
                    out.append({"kind": kind, "pk": pk, "strength": strength, "children": [], "repeated": False})
                    continue
                service_ids.add(pk)
                repeated = pk in seen
                seen.add(pk)
                children: list[dict] = []
                if not repeated:
                    if depth >= max_depth:
                        truncated = truncated or bool(children_of(pk))
                    else:
                        children = walk(pk, depth + 1)
                out.append({"kind": kind, "pk": pk, "strength": strength, "children": children, "repeated": repeated})
            return out

        return walk(root_id, 1)

    def upstream(pk: int) -> list[tuple[str, int, str]]:
        return [
            ("service", s, strength) if s is not None else ("capability", c, strength)
            for s, c, strength in needs.get(pk, [])
        ]

    def downstream(pk: int) -> list[tuple[str, int, str]]:
        return [("service", s, strength) for s, strength in needed_by.get(pk, [])]

    up_raw = grow(upstream, service.pk)
    down_raw = grow(downstream, service.pk)
    services = Service.objects.select_related("owner").in_bulk(service_ids) if service_ids else {}
    capabilities = PlatformCapability.objects.in_bulk(capability_ids) if capability_ids else {}

    def build(raw: list[dict]) -> list[DependencyNode]:
        return [
            DependencyNode(
                service=services.get(r["pk"]) if r["kind"] == "service" else None,
                capability=capabilities.get(r["pk"]) if r["kind"] == "capability" else None,
                strength=r["strength"],
                children=build(r["children"]),
                repeated=r["repeated"],
            )
            for r in raw
        ]

    return build(up_raw), build(down_raw), truncated


def capability_keys_load() -> dict[int, str]:
    """{capability id: key}: one query, for keying results by what people type."""
    return dict(PlatformCapability.objects.values_list("id", "key"))


def raw_rows(queryset: QuerySet) -> list[tuple[Any, ...]]:
    """The rows of a ``values_list`` queryset as the database driver returns them.

    Skips Django's per-value converters (time-zone handling of every datetime, json.loads of every
    JSON document): most of the time of the API's 1,000-service page otherwise. The caller gets the
    driver's types: JSON as text on both backends (Django loads jsonb as text), datetimes as naive UTC
    on SQLite and aware on PostgreSQL. One query, the same SQL the queryset would run.
    """
    from django.core.exceptions import EmptyResultSet
    from django.db import connections

    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # e.g. a filter on an empty list: no query needed
        return []
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # Ordering by an annotation can add trailing columns that are not part of the values_list.
    if compiler.has_extra_select:
        rows = [row[: compiler.col_count] for row in rows]
    return rows
