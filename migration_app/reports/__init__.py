"""Weekly reports: pure builders from plain loaded data to one report dataclass per recipient.

``weeks`` names the ISO weeks, ``data`` holds what a report says (and its JSON round trip), ``build``
computes it. Loading lives in ``selectors.py``, storing and sending in ``services.py`` and rendering in
``emails.py`` (STYLE.md: load once, compute pure, render).
"""

from .build import Recipient, WeekDigests, WeekInputs, week_digests, weekly_report
from .data import OwnerSection, ProgrammeSection, WeeklyReport, from_jsonable, to_jsonable
from .weeks import ReportWeek

__all__ = [
    "OwnerSection",
    "ProgrammeSection",
    "Recipient",
    "ReportWeek",
    "WeekDigests",
    "WeekInputs",
    "WeeklyReport",
    "from_jsonable",
    "to_jsonable",
    "week_digests",
    "weekly_report",
]
