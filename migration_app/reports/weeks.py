"""ISO weeks as the weekly report sees them.

A report *for* week 48 covers Monday 23 to Sunday 29 November 2026 and is sent on Monday 30 November
(the *report day*, in week 49). The ledger and the ``--week`` option name the week covered; the
scheduler sends the last complete week, so a run on any day of week 49 catches up week 48.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

_ISO_WEEK = re.compile(r"^(?P<year>\d{4})-W(?P<week>\d{2})$")


@dataclass(frozen=True, order=True, slots=True)
class ReportWeek:
    year: int
    week: int

    def __post_init__(self) -> None:
        # Raises ValueError for week 0, week 54, or week 53 in a year that has 52.
        datetime.date.fromisocalendar(self.year, self.week, 1)

    @classmethod
    def parse(cls, text: str) -> ReportWeek:
        """``"2026-W48"`` → ReportWeek(2026, 48); ValueError for anything else."""
        match = _ISO_WEEK.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not an ISO week such as 2026-W48")
        return cls(int(match["year"]), int(match["week"]))

    @classmethod
    def containing(cls, day: datetime.date) -> ReportWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @classmethod
    def due(cls, today: datetime.date) -> ReportWeek:
        """The week the scheduler reports on: the last complete week before ``today``'s."""
        return cls.containing(today - datetime.timedelta(days=7))

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> datetime.date:
        return datetime.date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> datetime.date:
        return self.monday + datetime.timedelta(days=6)

    @property
    def report_day(self) -> datetime.date:
        """The Monday after the week: when the report is sent and what "overdue" is measured against."""
        return self.monday + datetime.timedelta(days=7)

    @property
    def previous(self) -> ReportWeek:
        return ReportWeek.containing(self.monday - datetime.timedelta(days=7))

    def is_complete(self, today: datetime.date) -> bool:
        return self.sunday < today

    def __str__(self) -> str:
        return self.label
