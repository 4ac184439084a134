"""The app's tables, one module per sub-domain. Django finds models through this package, so it names
each one (and what callers read beside them) here; ``__all__`` makes the re-export explicit.

Models hold data and constraints only. Every write with a rule (status changes, dependency edges,
optimistic concurrency) goes through ``services``; see docs/architecture.md.
"""

from .catalog import (
    CAPABILITY_EDITABLE_FIELDS,
    MILESTONE_EDITABLE_FIELDS,
    OWNER_EDITABLE_FIELDS,
    SERVICE_EDITABLE_FIELDS,
    Dependency,
    Membership,
    Milestone,
    PlatformCapability,
    Service,
    ServiceOwner,
    ServiceQuerySet,
    StatusChange,
)
from .results import PortfolioResult, PortfolioState, PortfolioStateQuerySet, ProgressSnapshot, ServiceReadiness
from .weekly_reports import ReportPreference, WeeklyReportDelivery, WeeklyReportDigest

__all__ = [
    "CAPABILITY_EDITABLE_FIELDS",
    "MILESTONE_EDITABLE_FIELDS",
    "OWNER_EDITABLE_FIELDS",
    "SERVICE_EDITABLE_FIELDS",
    "Dependency",
    "Membership",
    "Milestone",
    "PlatformCapability",
    "PortfolioResult",
    "PortfolioState",
    "PortfolioStateQuerySet",
    "ProgressSnapshot",
    "ReportPreference",
    "Service",
    "ServiceOwner",
    "ServiceQuerySet",
    "ServiceReadiness",
    "StatusChange",
    "WeeklyReportDelivery",
    "WeeklyReportDigest",
]
