"""What a weekly report says, as frozen dataclasses of ints, strings, dates and tuples.

A digest (one organisation's or the programme's section for one week) is stored as JSON with
``to_jsonable`` and read back with ``from_jsonable``, so every recipient and every retry renders the
same figures. The data holds codes and both languages' names, never a translated word: the e-mail
templates translate at render time (``templatetags/report_labels.py``), so one digest serves readers of
either language.

What a report may say about *another* organisation's service is exactly a ``ServiceRef``: its Altinn
II key, its name and its owner. Notes, contacts, volumes, dates and statuses of foreign services are
not in the data at all, so no template can leak them.
"""

from __future__ import annotations

import dataclasses
import datetime
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from ..engine.progress import ForecastStatus

# How many lines a list shows before "and N more"; the totals stay exact.
LIST_LIMIT = 20
# How many services a blocker line names.
NAMED_LIMIT = 5

# Inline colours for e-mail (no stylesheets): lifecycle statuses and forecast verdicts.
STATUS_COLOURS = {
    "not_started": "#c9ced6",
    "analysis": "#9ec5fe",
    "development": "#5a9bf0",
    "testing": "#1f6fd1",
    "in_production": "#2f9e5b",
    "altinn2_closed": "#1b6e3c",
    "decommissioned": "#8a8f98",
    "reimplemented_elsewhere": "#6b7079",
}
FORECAST_COLOURS = {
    ForecastStatus.ON_TRACK: "#1b6e3c",
    ForecastStatus.AT_RISK: "#a15c00",
    ForecastStatus.LATE: "#b42318",
    ForecastStatus.DONE: "#1b6e3c",
    ForecastStatus.NO_DATA: "#5b616b",
}


# --- References --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnerRef:
    id: int
    code: str
    name_nb: str
    name_en: str


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """What any report may say about a service: its key, its name and its owner. Nothing else."""

    id: int
    code: str
    edition: int
    name_nb: str
    name_en: str
    owner: OwnerRef

    @property
    def key(self) -> str:
        return f"{self.code}/{self.edition}"


@dataclass(frozen=True, slots=True)
class CapabilityRef:
    id: int
    key: str
    name_nb: str
    name_en: str


# --- Sections' lines ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    """Progress of one scope at the end of one day: from the stored snapshot, or replayed from history."""

    total_count: int
    done_count: int
    total_volume: int
    done_volume: int
    by_status: tuple[tuple[str, int], ...]  # count per lifecycle status, in lifecycle order
    from_snapshot: bool

    @property
    def pct_done_count(self) -> float:
        return round(100 * self.done_count / self.total_count, 1) if self.total_count else 0.0

    @property
    def pct_done_volume(self) -> float:
        return round(100 * self.done_volume / self.total_volume, 1) if self.total_volume else 0.0

    @property
    def bar(self) -> list[dict[str, Any]]:
        """Segments for a stacked bar (status, count, width in whole percent, colour)."""
        if not self.total_count:
            return []
        return [
            {
                "status": status,
                "count": count,
                "width": max(1, round(100 * count / self.total_count)),
                "colour": STATUS_COLOURS.get(status, "#8a8f98"),
            }
            for status, count in self.by_status
            if count
        ]


@dataclass(frozen=True, slots=True)
class ProgressWeek:
    """Done at the end of this week, last week and the week before: this week's gain against last week's."""

    this_week: Figures
    last_week: Figures
    week_before: Figures

    @property
    def gain_count(self) -> int:
        return self.this_week.done_count - self.last_week.done_count

    @property
    def gain_volume(self) -> int:
        return self.this_week.done_volume - self.last_week.done_volume

    @property
    def previous_gain_count(self) -> int:
        return self.last_week.done_count - self.week_before.done_count

    @property
    def previous_gain_volume(self) -> int:
        return self.last_week.done_volume - self.week_before.done_volume


@dataclass(frozen=True, slots=True)
class StatusChangeLine:
    service: ServiceRef
    from_status: str
    to_status: str
    at: datetime.datetime
    by: str  # the person's name; "" for the system (imports)


@dataclass(frozen=True, slots=True)
class ReadinessLine:
    """One of our services whose readiness changed this week, and its verdict now."""

    service: ServiceRef
    state: str
    blocker_count: int


@dataclass(frozen=True, slots=True)
class CapabilityBlockerLine:
    """An undelivered capability that our open services wait for (directly or down a chain)."""

    capability: CapabilityRef
    planned_date: datetime.date | None
    late: bool  # the planned date has passed
    waiting_count: int
    waiting: tuple[ServiceRef, ...]


@dataclass(frozen=True, slots=True)
class ServiceBlockerLine:
    """Another organisation's service that our open services wait for: named by key, name and owner only."""

    service: ServiceRef
    waiting_count: int
    waiting: tuple[ServiceRef, ...]


@dataclass(frozen=True, slots=True)
class BlockingLine:
    """One of our services that other organisations' services wait for."""

    service: ServiceRef
    waiting_count: int
    waiting: tuple[ServiceRef, ...]
    owners: tuple[OwnerRef, ...]


@dataclass(frozen=True, slots=True)
class DueLine:
    service: ServiceRef
    target_date: datetime.date
    status: str
    days: int  # days overdue, or days left until the target date


@dataclass(frozen=True, slots=True)
class ForecastLine:
    status: str
    open_count: int
    deadline: datetime.date | None
    p50_date: datetime.date | None
    p85_date: datetime.date | None
    mean_weekly_throughput: float
    as_of: datetime.date | None
    recent_throughput: tuple[tuple[str, int], ...]  # the last weeks' services reaching done, oldest first

    @property
    def colour(self) -> str:
        return FORECAST_COLOURS.get(self.status, "#5b616b")

    @property
    def throughput_bars(self) -> list[dict[str, Any]]:
        peak = max((n for _, n in self.recent_throughput), default=0)
        return [
            {"week": week, "count": n, "width": round(100 * n / peak) if peak else 0}
            for week, n in self.recent_throughput
        ]


# --- Sections ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnerSection:
    """One organisation's week, as every member of it reads it."""

    owner: OwnerRef
    week: str
    report_day: datetime.date
    progress: ProgressWeek
    open_count: int
    blocked_count: int
    changes: tuple[StatusChangeLine, ...]
    changes_total: int
    became_blocked: tuple[ReadinessLine, ...]
    became_unblocked: tuple[ReadinessLine, ...]
    capability_blockers: tuple[CapabilityBlockerLine, ...]
    service_blockers: tuple[ServiceBlockerLine, ...]
    blocking_others: tuple[BlockingLine, ...]
    overdue: tuple[DueLine, ...]
    overdue_total: int
    due_soon: tuple[DueLine, ...]
    due_soon_total: int
    forecast: ForecastLine

    @property
    def changes_more(self) -> int:
        return self.changes_total - len(self.changes)

    @property
    def overdue_more(self) -> int:
        return self.overdue_total - len(self.overdue)

    @property
    def due_soon_more(self) -> int:
        return self.due_soon_total - len(self.due_soon)


@dataclass(frozen=True, slots=True)
class OwnerBehindLine:
    owner: OwnerRef
    total_count: int
    done_count: int
    pct_done_count: float
    pct_done_volume: float
    open_count: int
    overdue_count: int
    forecast_status: str
    p85_date: datetime.date | None

    @property
    def forecast_colour(self) -> str:
        return FORECAST_COLOURS.get(self.forecast_status, "#5b616b")


@dataclass(frozen=True, slots=True)
class LeverageLine:
    capability: CapabilityRef
    planned_date: datetime.date | None
    transitive_count: int
    transitive_volume: int
    unblocks_count: int
    owner_count: int


@dataclass(frozen=True, slots=True)
class WeekNumbers:
    status_changes: int
    services_changed: int
    reached_done: int
    reached_done_volume: int
    moved_back: int
    became_blocked: int
    became_unblocked: int
    owners_active: int
    capabilities_delivered: tuple[CapabilityRef, ...]


@dataclass(frozen=True, slots=True)
class ProgrammeSection:
    """The portfolio's week, for project leads."""

    week: str
    report_day: datetime.date
    progress: ProgressWeek
    open_count: int
    blocked_count: int
    forecast: ForecastLine
    owners_behind: tuple[OwnerBehindLine, ...]
    owners_open: int
    top_capabilities: tuple[LeverageLine, ...]
    numbers: WeekNumbers
    overdue: tuple[DueLine, ...]
    overdue_total: int

    @property
    def overdue_more(self) -> int:
        return self.overdue_total - len(self.overdue)


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    """One recipient's message for one week: the programme for leads, and a section per organisation."""

    recipient_id: int
    recipient_name: str
    language: str
    week: str
    monday: datetime.date
    sunday: datetime.date
    kind: str  # "owner" or "programme"
    programme: ProgrammeSection | None
    owners: tuple[OwnerSection, ...]

    @property
    def week_number(self) -> int:
        return int(self.week.rsplit("W", 1)[1])


# --- JSON round trip ---------------------------------------------------------------------------------

T = TypeVar("T")


def to_jsonable(value: Any) -> Any:
    """Dataclasses to dicts, tuples to lists, dates to ISO strings: what a JSONField stores."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime.date):  # datetimes too
        return value.isoformat()
    return value


def from_jsonable(cls: type[T], data: Any) -> T:
    """The inverse of ``to_jsonable`` for the dataclasses in this module, guided by their type hints."""
    return cast(T, _decode(cls, data))


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _decode(inner, value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _HINTS.get(tp)
        if hints is None:
            hints = _HINTS[tp] = typing.get_type_hints(tp)
        return tp(**{f.name: _decode(hints[f.name], value[f.name]) for f in dataclasses.fields(tp)})
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        return tuple(_decode(arg, v) for arg, v in zip(args, value, strict=True))
    if tp is datetime.datetime:
        return datetime.datetime.fromisoformat(value)
    if tp is datetime.date:
        return datetime.date.fromisoformat(value)
    return value
