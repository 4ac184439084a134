"""The programme as a whole: the dashboard, the start page that chooses an organisation, and the
platform capabilities with what unblocks the most."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from ..i18n import localized_name
from ..selectors.access import owner_roles_for, user_is_lead
from ..selectors.catalog import capability_overview, status_changes_since
from ..selectors.owners import owner_code, owners_to_choose
from ..selectors.programme import Burnup, OwnerProgressRow, milestones_list, programme_burnup, programme_overview
from ..selectors.results import leverage_list, portfolio_freshness
from .sorting import sort_columns

# Per-owner table on the dashboard: ?owners= key → sort key over OwnerProgressRow.
OWNER_SORTS: dict[str, Callable[[OwnerProgressRow], tuple[Any, ...]]] = {
    "owner": lambda r: (localized_name(r.owner).lower(),),
    "done": lambda r: (r.pct_done_count, r.done_count),
    "volume": lambda r: (r.pct_done_volume, r.done_volume),
    "p85": lambda r: (r.p85_date or datetime.date.max,),
}
OWNER_SORT_LABELS = (
    ("owner", _("Service owner")),
    ("done", _("Done / services")),
    ("volume", _("Done by volume")),
    ("p85", _("Forecast")),
)


def _burnup_chart(burnup: Burnup | None) -> dict[str, Any]:
    """The burn-up as the page's chart script (``charts.js``) and its table read it; {} for none yet."""
    if burnup is None:
        return {}
    weeks = burnup.weeks
    # The weeks after the last measured one have a date on the axis and no figures.
    padding = [None] * (len(burnup.days) - len(weeks))
    return {
        "labels": [day.isoformat() for day in burnup.days],
        "done_count": [week.done_count for week in weeks] + padding,
        "total_count": [week.total_count for week in weeks] + padding,
        "done_volume": [week.done_volume for week in weeks] + padding,
        "total_volume": [week.total_volume for week in weeks] + padding,
        "deadline": burnup.deadline.isoformat() if burnup.deadline else None,
        "p50": burnup.p50.isoformat() if burnup.p50 else None,
        "p85": burnup.p85.isoformat() if burnup.p85 else None,
        "text": {
            "done": gettext_now("Done"),
            "total": gettext_now("All services"),
            "done_volume": gettext_now("Done (yearly volume)"),
            "total_volume": gettext_now("All services (yearly volume)"),
            "deadline": gettext_now("Deadline"),
            "band": gettext_now("Forecast P50–P85"),
        },
        "rows": [
            {
                "day": week.day,
                "done": week.done_count,
                "total": week.total_count,
                "done_volume": week.done_volume,
                "total_volume": week.total_volume,
            }
            for week in weeks
        ],
    }


@login_required
@require_GET
def programme(request: HttpRequest) -> HttpResponse:
    """The dashboard: burn-up by count and volume with the deadline and forecast band, per-owner progress,
    top blockers, waves, milestones and this week's changes."""
    milestones = milestones_list()
    overview = programme_overview()
    owner_sort = request.GET.get("owners", "")
    key, descending = owner_sort.removeprefix("-"), owner_sort.startswith("-")
    if key in OWNER_SORTS:
        overview.owners.sort(key=OWNER_SORTS[key], reverse=descending)
    now = timezone.localtime()
    monday = (now - datetime.timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    context = {
        "milestones": milestones,
        "overview": overview,
        "burnup": _burnup_chart(programme_burnup(forecast=overview.forecast)),
        "owner_columns": sort_columns(OWNER_SORT_LABELS, key, descending),
        "week_changes": status_changes_since(since=monday),
        "week_start": monday,
    }
    return render(request, "migration_app/programme.html", context)


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """An owner lands on their organisation's page; leads and members of several organisations choose."""
    roles = owner_roles_for(request.user)
    if len(roles) == 1 and not user_is_lead(request.user):
        return redirect("migration_app:owner_page", code=owner_code(next(iter(roles))))
    return render(
        request, "migration_app/owner_choose.html", {"owners": owners_to_choose(first=set(roles)), "mine": set(roles)}
    )


@login_required
@require_GET
def capabilities(request: HttpRequest) -> HttpResponse:
    """Each platform capability with its roadmap status, planned date and who waits; the leverage list."""
    context = {
        "capabilities": list(capability_overview()),
        "leverage": leverage_list(limit=25),
        "freshness": portfolio_freshness(),
    }
    return render(request, "migration_app/capabilities.html", context)
