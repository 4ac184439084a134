"""Weekly reports: pure builders from plain loaded data to one report dataclass per recipient.

``weeks`` names the ISO weeks, ``inputs`` holds the loaded rows, ``data`` what a report says (and its
JSON round trip), ``build`` computes it, with ``replay`` (the portfolio as it stood at the end of a past
day) and ``programme`` (the leads' section). Loading lives in ``selectors/weekly_reports.py``, storing
and sending in ``services/weekly_reports.py``, rendering in ``emails.py`` and the e-mail templates,
which translate with ``templatetags/report_labels.py`` (STYLE.md: load once, compute pure, render).
"""

from .build import WeekDigests, week_digests, weekly_report
from .data import OwnerSection, ProgrammeSection, WeeklyReport, from_jsonable, to_jsonable
from .inputs import Recipient, WeekInputs
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
