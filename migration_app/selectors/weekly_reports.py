"""The weekly e-mail report's reads: the week's inputs, the recipients and their preferences."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..choices import PROJECT_LEADS_GROUP, STATUS_ORDER, CapabilityStatus, DependencyStrength
from ..engine.codec import forecast_decode, status_figures_decode
from ..engine.progress import FORECAST_WINDOW_WEEKS
from ..models import (
    Dependency,
    Membership,
    PlatformCapability,
    PortfolioResult,
    ProgressSnapshot,
    ReportPreference,
    Service,
    ServiceOwner,
    StatusChange,
    WeeklyReportDelivery,
    WeeklyReportDigest,
)
from ..reports.data import OwnerRef
from ..reports.inputs import CapabilityRow, ChangeRow, EdgeRow, Recipient, ServiceRow, SnapshotRow, WeekInputs
from ..reports.weeks import ReportWeek
from .programme import deadline_date


def weekly_report_inputs_load(*, week: ReportWeek, today: datetime.date) -> WeekInputs:
    """Everything ``reports.week_digests`` needs for ``week``: nine queries, whatever the portfolio's size.

    Queries: the stored forecast, last week's digests (their blocked services), the deadline, owners,
    services, capabilities, edges, status changes (with the name of who made each) and the three
    end-of-week snapshots. Nothing private is selected: no notes, contacts or edition names.
    """

    report_day = week.report_day
    stored = PortfolioResult.objects.filter(kind=PortfolioResult.Kind.FORECAST).values_list("data", flat=True).first()
    # The stored forecast speaks for this report when it was computed during the sending week.
    report = forecast_decode(stored)
    usable = report is not None and report_day <= report.overall.today < report_day + datetime.timedelta(days=7)
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
        stored = status_figures_decode(by_status)
        counts = tuple((status, stored.get(status, (0, 0))[0]) for status in STATUS_ORDER)
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
        stored_forecast=report if usable else None,
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
