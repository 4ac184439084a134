"""Replaying the status history: what every service's status was at the end of given days.

The daily snapshot of today reads current statuses; a snapshot of a past day (a backfill after
seeding or importing history, or a day the beat schedule missed) replays the history instead, so
re-taking any day gives the same figures.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Change:
    """One history row, with the local (Oslo) date it happened on."""

    service_id: int
    on: datetime.date
    from_status: str
    to_status: str


class HistoryRow(Protocol):
    """What the replay reads of a history row: ``Change`` here, the weekly report's ``ChangeRow`` too."""

    @property
    def service_id(self) -> int: ...
    @property
    def on(self) -> datetime.date: ...
    @property
    def from_status(self) -> str: ...
    @property
    def to_status(self) -> str: ...


def statuses_by_day(
    current: Mapping[int, str], changes: Sequence[HistoryRow], days: Iterable[datetime.date]
) -> Iterator[tuple[datetime.date, dict[int, str]]]:
    """Yield (day, {service id: status at the end of that day}) for each day, in ascending order.

    The one replay of the history: the daily snapshots' backfill and the weekly report both use it.
    A service's status before its first recorded change is that change's ``from_status``; a service
    with no history has always had its current status. ``changes`` need only be complete from the day
    after the first day asked for: a window of the history replays as well as all of it. Changes on the
    same day keep their given order.
    """
    changes = sorted(changes, key=lambda change: change.on)
    status: dict[int, str] = dict(current)
    seen: set[int] = set()
    for change in changes:
        if change.service_id not in seen and change.service_id in status:
            seen.add(change.service_id)
            status[change.service_id] = change.from_status
    position = 0
    for day in sorted(days):
        while position < len(changes) and changes[position].on <= day:
            change = changes[position]
            if change.service_id in status:
                status[change.service_id] = change.to_status
            position += 1
        yield day, dict(status)


def statuses_at(current: Mapping[int, str], changes: Sequence[HistoryRow], day: datetime.date) -> dict[int, str]:
    """Every service's status at the end of ``day`` (``statuses_by_day`` for one day)."""
    return next(statuses_by_day(current, changes, [day]))[1]
