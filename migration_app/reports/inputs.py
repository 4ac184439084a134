"""What one week's reports are built from: plain rows that ``selectors.weekly_reports`` loads, and the
recipients. Nothing here computes; ``build`` does."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..engine.progress import FORECAST_WINDOW_WEEKS, ForecastReport
from .data import OwnerRef
from .weeks import ReportWeek


@dataclass(frozen=True, slots=True)
class ServiceRow:
    id: int
    owner_id: int
    service_code: str
    edition_code: int
    name_nb: str
    name_en: str
    service_type: str
    status: str  # today
    target: str
    target_date: datetime.date | None
    yearly_volume: int
    created_on: datetime.date


@dataclass(frozen=True, slots=True)
class CapabilityRow:
    id: int
    key: str
    name_nb: str
    name_en: str
    delivered: bool  # today
    planned_date: datetime.date | None
    delivered_date: datetime.date | None


@dataclass(frozen=True, slots=True)
class EdgeRow:
    service_id: int
    on_service_id: int | None
    on_capability_id: int | None
    hard: bool
    created_on: datetime.date


@dataclass(frozen=True, slots=True)
class ChangeRow:
    service_id: int
    at: datetime.datetime
    on: datetime.date  # local (Oslo) date
    from_status: str
    to_status: str
    by: str  # the person's name, "" for the system


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    day: datetime.date
    owner_id: int | None  # None: the whole portfolio
    total_count: int
    done_count: int
    total_volume: int
    done_volume: int
    by_status: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class WeekInputs:
    """Everything one week's reports are built from (see ``selectors.weekly_report_inputs_load``).

    ``changes`` holds every status change on or after ``changes_since`` (oldest first), which must be
    no later than the Monday of the previous week. ``previous_blocked`` is {owner id: blocked service
    ids} from last week's digests, or None when last week has none.
    """

    week: ReportWeek
    deadline: datetime.date | None
    owners: Sequence[OwnerRef]
    services: Sequence[ServiceRow]
    capabilities: Sequence[CapabilityRow]
    edges: Sequence[EdgeRow]
    changes: Sequence[ChangeRow]
    changes_since: datetime.date
    snapshots: Sequence[SnapshotRow]
    # The recompute's forecast, decoded, when it speaks for this report's week; else None (computed here).
    stored_forecast: ForecastReport | None
    previous_blocked: Mapping[int, frozenset[int]] | None
    forecast_window_weeks: int = FORECAST_WINDOW_WEEKS


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    email: str
    name: str
    language: str
    is_lead: bool
    owner_ids: tuple[int, ...]
    receive_weekly: bool = True

    @property
    def kind(self) -> str:
        return "programme" if self.is_lead else "owner"
