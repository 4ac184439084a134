"""The weekly report's words in the reader's language: names, status, readiness and forecast labels.

``reports/`` is pure and keeps codes and both languages' names; the e-mail templates translate them
here, inside the ``translation.override(report.language)`` of ``emails.weekly_report_render``, so one
stored digest reads right for every recipient.
"""

from __future__ import annotations

from django import template

from migration_app.choices import MigrationStatus
from migration_app.i18n import localized_name
from migration_app.reports.data import CapabilityRef, OwnerRef, ServiceRef, WeeklyReport

from .tracker import FORECAST_LABELS, readiness_label

register = template.Library()
register.filter("readiness_label", readiness_label)


@register.filter
def local_name(ref: OwnerRef | ServiceRef | CapabilityRef) -> str:
    """An owner's, service's or capability's name: English when the reader reads English and it has one."""
    return localized_name(ref)


@register.filter
def owner_names(report: WeeklyReport) -> str:
    """The report's organisations, as the subject and the footer list them."""
    return ", ".join(local_name(section.owner) for section in report.owners)


@register.filter
def status_label(status: str) -> str:
    try:
        return str(MigrationStatus(status).label)
    except ValueError:
        return status


@register.filter
def forecast_label(status: str) -> str:
    found = FORECAST_LABELS.get(status)
    return str(found[0]) if found else status
