"""Template helpers of the pages: names in the active language, the Designsystemet colours of statuses,
readiness and forecast labels. Views hand templates model instances as they are; what a cell shows is
decided here."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from migration_app.choices import CapabilityStatus, MigrationStatus, ReadinessState
from migration_app.engine.lifecycle import DONE, MIGRATED
from migration_app.engine.progress import ForecastStatus
from migration_app.i18n import localized_name

register = template.Library()

# Designsystemet colour of the status tag: done in green, in progress in blue, resolved otherwise in grey.
STATUS_COLORS: dict[str, str] = {
    **dict.fromkeys(MigrationStatus.values, "info"),
    MigrationStatus.NOT_STARTED: "neutral",
    **dict.fromkeys(MIGRATED, "success"),
    **dict.fromkeys(DONE - MIGRATED, "neutral"),
}

CAPABILITY_COLORS: dict[str, str] = {
    CapabilityStatus.UNDER_REVIEW: "neutral",
    CapabilityStatus.BACKLOG: "warning",
    CapabilityStatus.IN_PROGRESS: "info",
    CapabilityStatus.DELIVERED: "success",
}


@register.filter
def display_name(obj: Any) -> str:
    """An owner's, service's, capability's or milestone's name in the active language (``i18n``);
    nothing for a missing object, as a missing attribute would show."""
    if obj is None or obj == "":
        return ""
    return localized_name(obj)


@register.filter
def status_color(status: str) -> str:
    """The colour of a service's migration status tag."""
    return STATUS_COLORS.get(status, "neutral")


@register.filter
def capability_color(status: str) -> str:
    """The colour of a platform capability's roadmap status tag."""
    return CAPABILITY_COLORS.get(status, "neutral")


# Designsystemet colours: blocked needs action (danger), not assessed needs planning (warning).
READINESS_COLORS: dict[str, str] = {
    ReadinessState.MIGRATED: "success",
    ReadinessState.RESOLVED: "neutral",
    ReadinessState.READY: "info",
    ReadinessState.BLOCKED: "danger",
    ReadinessState.NOT_ASSESSED: "warning",
}


@register.filter
def readiness_color(state: str) -> str:
    return READINESS_COLORS.get(state, "neutral")


@register.filter
def readiness_label(state: str) -> str:
    try:
        return str(ReadinessState(state).label)
    except ValueError:
        return state


@register.inclusion_tag("migration_app/partials/readiness_tag.html")
def readiness_tag(state: str, score: int | None = None) -> dict:
    return {"state": state, "color": readiness_color(state), "label": readiness_label(state), "score": score}


FORECAST_LABELS = {
    ForecastStatus.ON_TRACK: (_("On track"), "success"),
    ForecastStatus.AT_RISK: (_("At risk"), "warning"),
    ForecastStatus.LATE: (_("Late"), "danger"),
    ForecastStatus.DONE: (_("Done"), "success"),
    ForecastStatus.NO_DATA: (_("Not enough data"), "neutral"),
}


@register.inclusion_tag("migration_app/partials/forecast_tag.html")
def forecast_tag(status: str) -> dict:
    label, color = FORECAST_LABELS.get(status, (status or "–", "neutral"))
    return {"label": label, "color": color}
