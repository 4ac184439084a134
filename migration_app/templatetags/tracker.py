"""Template helpers for engine results: readiness labels and colours, blocker sentences' parts."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

from migration_app.models import ReadinessState

register = template.Library()

# Designsystemet colours: blocked needs action (danger), not assessed needs planning (warning).
READINESS_COLORS = {
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
    "on_track": (_("On track"), "success"),
    "at_risk": (_("At risk"), "warning"),
    "late": (_("Late"), "danger"),
    "done": (_("Done"), "success"),
    "no_data": (_("Not enough data"), "neutral"),
}


@register.inclusion_tag("migration_app/partials/forecast_tag.html")
def forecast_tag(status: str) -> dict:
    label, color = FORECAST_LABELS.get(status, (status or "–", "neutral"))
    return {"label": label, "color": color}
