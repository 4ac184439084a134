"""The stored results' JSON: the one writer and the one reader of what the recompute stores.

The recompute encodes the engine's dataclasses (``*_encode``); pages, e-mails and reports decode them
back into the same frozen dataclasses, with real dates (``*_decode``). The API publishes the documents
as they are stored, so it takes their JSON form from here (``*_json``: passed through, not decoded, so
the responses stay byte for byte what they were, with the ids that key a mapping as ints again for it
to key by code). No other module parses a stored document.

What is stored. The format is the one the first recompute wrote: every row stored since decodes, and a
recompute stores the same bytes (tests/test_codec.py compares with the old encoders).

* ``ServiceReadiness.detail`` (state and score are columns of their own)::

      {"parts": [[label, points], ...], "blockers": [Blocker, ...],
       "capability_blocker_count": n, "service_blocker_count": n}

* ``PortfolioResult`` of kind ``leverage``: ``[LeverageRow, ...]``, the highest leverage first;
  ``waves``: ``{"waves": [{"number", "service_ids", "yearly_volume"}, ...], "cycle_service_ids",
  "behind_cycle_service_ids"}``; ``progress``: ``Progress`` plus ``"overdue"``, the overdue service ids;
  ``forecast``: ``ForecastReport``, or ``{"missing": "deadline milestone"}`` while there is no deadline.

A dataclass is an object of its fields, in field order; dates are ISO strings, tuples lists, and the
owner and capability ids that key a mapping strings (JSON keys). Where the readers before the codec
accepted a key left out (a blocker's, a readiness detail's, a forecast's counts), so do the decoders,
with the dataclasses' defaults.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypedDict, TypeVar, cast

import orjson

from .leverage import LeverageRow
from .progress import Forecast, ForecastReport, Progress, ProgressFigures
from .readiness import Blocker, Readiness
from .waves import Wave, WavePlan

# A stored document as JSONField hands it back: dicts, lists, strings, numbers, None.
Document = Mapping[str, Any]

_T = TypeVar("_T")

# What the forecast result holds while no deadline milestone exists (nothing to forecast against).
_FORECAST_MISSING_DEADLINE: dict[str, str] = {"missing": "deadline milestone"}


# --- The JSON forms ------------------------------------------------------------------------------------


class BlockerJSON(TypedDict):
    kind: str
    capability_id: int | None
    capability_key: str
    planned_date: str | None
    service_id: int | None
    owner_id: int | None
    path: list[int]
    missing: str


class ReadinessDetailJSON(TypedDict):
    parts: list[list[Any]]  # [label, points]
    blockers: list[BlockerJSON]
    capability_blocker_count: int
    service_blocker_count: int


class LeverageRowJSON(TypedDict):
    kind: str
    capability_id: int | None
    capability_key: str
    planned_date: str | None
    service_id: int | None
    owner_id: int | None
    direct_count: int
    direct_volume: int
    transitive_count: int
    transitive_volume: int
    unblocks_count: int
    unblocks_volume: int


class WaveJSON(TypedDict):
    number: int
    service_ids: list[int]
    yearly_volume: int


class WavesJSON(TypedDict):
    waves: list[WaveJSON]
    cycle_service_ids: list[int]
    behind_cycle_service_ids: list[int]


class ProgressFiguresJSON(TypedDict):
    count_by_status: dict[str, int]
    volume_by_status: dict[str, int]
    total_count: int
    total_volume: int
    done_count: int
    done_volume: int
    migrated_count: int
    migrated_volume: int
    pct_done_count: float
    pct_done_volume: float


class ProgressJSON(TypedDict):
    overall: ProgressFiguresJSON
    by_owner: dict[str, ProgressFiguresJSON]
    by_service_type: dict[str, ProgressFiguresJSON]
    by_capability: dict[str, ProgressFiguresJSON]
    overdue: list[int]


class ForecastJSON(TypedDict):
    status: str
    open_count: int
    today: str
    deadline: str
    weekly_throughput: list[list[Any]]  # [ISO week, count]
    mean_weekly_throughput: float
    p50_date: str | None
    p85_date: str | None


class ForecastReportJSON(TypedDict):
    overall: ForecastJSON
    by_owner: dict[str, ForecastJSON]


# --- Readiness -----------------------------------------------------------------------------------------


def _blocker_encode(b: Blocker) -> BlockerJSON:
    return {
        "kind": b.kind,
        "capability_id": b.capability_id,
        "capability_key": b.capability_key,
        "planned_date": _iso(b.planned_date),
        "service_id": b.service_id,
        "owner_id": b.owner_id,
        "path": list(b.path),
        "missing": b.missing,
    }


def readiness_detail_encode(r: Readiness) -> ReadinessDetailJSON:
    """What ``ServiceReadiness.detail`` stores for ``r`` (its state and score are columns)."""
    return {
        "parts": [list(part) for part in r.score_parts],
        "blockers": [_blocker_encode(b) for b in r.blockers],
        "capability_blocker_count": r.capability_blocker_count,
        "service_blocker_count": r.service_blocker_count,
    }


def blockers_decode(detail: Document | None) -> tuple[Blocker, ...]:
    """Only the blockers of a stored detail (a page that lists root causes needs nothing else)."""
    return blockers_decode_many([detail])[0]


def blockers_decode_many(details: Iterable[Document | None]) -> list[tuple[Blocker, ...]]:
    """The blockers of many stored details, in order: an owner's page reads thousands of them.

    Equal blockers decode to one shared object, as the engine shares them (a direct dependency is the
    same blocker for every service that has it): three times faster than building each one.
    """
    memo: dict[tuple[Any, ...], Blocker] = {}
    decoded = []
    for detail in details:
        blockers = []
        for b in (detail or {}).get("blockers") or ():
            path = tuple(b.get("path", ()))
            key = (
                b.get("kind", ""),
                b.get("capability_id"),
                b.get("capability_key", ""),
                b.get("planned_date"),
                b.get("service_id"),
                b.get("owner_id"),
                path,
                b.get("missing", ""),
            )
            blocker = memo.get(key)
            if blocker is None:
                kind, capability_id, capability_key, planned_date, service_id, owner_id, _, missing = key
                blocker = memo[key] = Blocker(
                    kind, capability_id, capability_key, _date(planned_date), service_id, owner_id, path, missing
                )
            blockers.append(blocker)
        decoded.append(tuple(blockers))
    return decoded


def readiness_decode(*, service_id: int, state: str, score: int, detail: Document | None) -> Readiness:
    """A stored verdict (the row's state and score, and its ``detail``) as the engine's ``Readiness``."""
    detail = detail or {}
    return Readiness(
        service_id=service_id,
        state=state,
        score=score,
        score_parts=tuple((label, points) for label, points in detail.get("parts", ())),
        blockers=blockers_decode(detail),
        capability_blocker_count=detail.get("capability_blocker_count", 0),
        service_blocker_count=detail.get("service_blocker_count", 0),
    )


_BLOCKER_KEYS = tuple(field.name for field in fields(Blocker))
_BLOCKER_KEY_SET = frozenset(_BLOCKER_KEYS)
# What an older or hand-made blocker without a key shows for it (the API has always shown these).
_BLOCKER_JSON_DEFAULTS: dict[str, Any] = {"capability_key": "", "path": [], "missing": ""}


def blocker_count(detail: Document | None) -> int:
    """A stored verdict's exact number of capability and service blockers (the catalog's column)."""
    document = detail or {}
    return int(document.get("capability_blocker_count", 0)) + int(document.get("service_blocker_count", 0))


def readiness_detail_json(detail: Document | str | bytes | None) -> ReadinessDetailJSON:
    """A stored ``detail`` (as a dict, or as the database's JSON text) complete, as the API shows it.

    This is the API's list path (1,000 services a page), so nothing is decoded: blockers the recompute
    wrote hold every key and pass through as they are; an older or hand-made one is completed key by key.
    """
    document: Document = (orjson.loads(detail) if isinstance(detail, (str, bytes)) else detail) or {}
    blockers = document.get("blockers") or []
    if not all(b.keys() == _BLOCKER_KEY_SET for b in blockers):
        blockers = [{key: b.get(key, _BLOCKER_JSON_DEFAULTS.get(key)) for key in _BLOCKER_KEYS} for b in blockers]
    return {
        "parts": document.get("parts", []),
        "blockers": blockers,
        "capability_blocker_count": document.get("capability_blocker_count", 0),
        "service_blocker_count": document.get("service_blocker_count", 0),
    }


# --- Leverage ------------------------------------------------------------------------------------------


def leverage_encode(rows: Iterable[LeverageRow]) -> list[LeverageRowJSON]:
    """The stored leverage list (``leverage()``'s order kept): up to ~10,000 rows at 100,000 services."""
    return [
        {
            "kind": r.kind,
            "capability_id": r.capability_id,
            "capability_key": r.capability_key,
            "planned_date": _iso(r.planned_date),
            "service_id": r.service_id,
            "owner_id": r.owner_id,
            "direct_count": r.direct_count,
            "direct_volume": r.direct_volume,
            "transitive_count": r.transitive_count,
            "transitive_volume": r.transitive_volume,
            "unblocks_count": r.unblocks_count,
            "unblocks_volume": r.unblocks_volume,
        }
        for r in rows
    ]


def leverage_decode(data: Sequence[Document] | None, *, limit: int | None = None) -> list[LeverageRow]:
    """The stored leverage list, or its first ``limit`` rows: a page decodes only what it shows."""
    rows = data or ()
    if limit:
        rows = rows[:limit]
    return [
        LeverageRow(
            kind=r["kind"],
            capability_id=r["capability_id"],
            capability_key=r.get("capability_key", ""),
            planned_date=_date(r.get("planned_date")),
            service_id=r["service_id"],
            owner_id=r.get("owner_id"),
            direct_count=r["direct_count"],
            direct_volume=r.get("direct_volume", 0),
            transitive_count=r["transitive_count"],
            transitive_volume=r["transitive_volume"],
            unblocks_count=r["unblocks_count"],
            unblocks_volume=r["unblocks_volume"],
        )
        for r in rows
    ]


def leverage_json(data: Sequence[Document] | None, *, kind: str | None = None) -> list[LeverageRowJSON]:
    """The stored rows as the API lists them, only those of ``kind`` when given ("capability", "service").

    Passed through rather than decoded: the API pages through all of them.
    """
    # The rows are what leverage_encode wrote: every key is there.
    rows = cast("list[LeverageRowJSON]", list(data or ()))
    return rows if kind is None else [row for row in rows if row["kind"] == kind]


# --- Waves ---------------------------------------------------------------------------------------------


def waves_encode(plan: WavePlan) -> WavesJSON:
    """Built directly: ``asdict`` would deep-copy every one of ~100,000 ids."""
    return {
        "waves": [
            {"number": w.number, "service_ids": list(w.service_ids), "yearly_volume": w.yearly_volume}
            for w in plan.waves
        ],
        "cycle_service_ids": list(plan.cycle_service_ids),
        "behind_cycle_service_ids": list(plan.behind_cycle_service_ids),
    }


def waves_decode(data: Document | None) -> WavePlan:
    """The stored plan; an empty one before the first recompute."""
    data = data or {}
    return WavePlan(
        waves=tuple(Wave(w["number"], tuple(w["service_ids"]), w["yearly_volume"]) for w in data.get("waves", ())),
        cycle_service_ids=tuple(data.get("cycle_service_ids", ())),
        behind_cycle_service_ids=tuple(data.get("behind_cycle_service_ids", ())),
    )


def waves_json(data: Document | None) -> WavesJSON:
    """The stored plan as the API shows it (passed through: ~100,000 ids at 100,000 services)."""
    data = data or {}
    return {
        "waves": data.get("waves", []),
        "cycle_service_ids": data.get("cycle_service_ids", []),
        "behind_cycle_service_ids": data.get("behind_cycle_service_ids", []),
    }


# --- Progress ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProgressResult:
    """The stored progress: the figures of every scope, and the open services past their target date."""

    progress: Progress
    overdue: tuple[int, ...]  # service ids, most overdue first


@dataclass(frozen=True, slots=True)
class ProgressDocument:
    """The stored progress as the API publishes it: the figures as stored, owners and capabilities by id."""

    overall: ProgressFiguresJSON
    by_owner: dict[int, ProgressFiguresJSON]
    by_service_type: dict[str, ProgressFiguresJSON]
    by_capability: dict[int, ProgressFiguresJSON]
    overdue: list[int]


def _progress_figures_encode(f: ProgressFigures) -> ProgressFiguresJSON:
    return {
        "count_by_status": dict(f.count_by_status),
        "volume_by_status": dict(f.volume_by_status),
        "total_count": f.total_count,
        "total_volume": f.total_volume,
        "done_count": f.done_count,
        "done_volume": f.done_volume,
        "migrated_count": f.migrated_count,
        "migrated_volume": f.migrated_volume,
        "pct_done_count": f.pct_done_count,
        "pct_done_volume": f.pct_done_volume,
    }


def progress_encode(p: Progress, *, overdue: Sequence[int]) -> ProgressJSON:
    return {
        "overall": _progress_figures_encode(p.overall),
        "by_owner": {str(k): _progress_figures_encode(f) for k, f in p.by_owner.items()},
        "by_service_type": {k: _progress_figures_encode(f) for k, f in p.by_service_type.items()},
        "by_capability": {str(k): _progress_figures_encode(f) for k, f in p.by_capability.items()},
        "overdue": list(overdue),
    }


def _progress_figures_decode(f: Document) -> ProgressFigures:
    # Positional, in field order, and the per-status maps as loaded (nothing else holds them): the
    # programme page decodes a few hundred of these per view.
    return ProgressFigures(
        f["count_by_status"],
        f["volume_by_status"],
        f["total_count"],
        f["total_volume"],
        f["done_count"],
        f["done_volume"],
        f["migrated_count"],
        f["migrated_volume"],
        f["pct_done_count"],
        f["pct_done_volume"],
    )


def progress_decode(data: Document | None) -> ProgressResult | None:
    """The stored progress with owner and capability ids as ints; None before the first recompute."""
    if not data or data.get("overall") is None:
        return None
    return ProgressResult(
        progress=Progress(
            overall=_progress_figures_decode(data["overall"]),
            by_owner=_by_id(data.get("by_owner"), _progress_figures_decode),
            by_service_type={k: _progress_figures_decode(f) for k, f in (data.get("by_service_type") or {}).items()},
            by_capability=_by_id(data.get("by_capability"), _progress_figures_decode),
        ),
        overdue=tuple(data.get("overdue", ())),
    )


def progress_json(data: Document | None) -> ProgressDocument | None:
    """The stored progress, passed through but for the id keys; None before the first recompute."""
    if not data or data.get("overall") is None:
        return None
    return ProgressDocument(
        overall=data["overall"],
        by_owner=_by_id(data.get("by_owner"), _as_stored),
        by_service_type=dict(data.get("by_service_type") or {}),
        by_capability=_by_id(data.get("by_capability"), _as_stored),
        overdue=list(data.get("overdue", ())),
    )


# --- Forecast ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ForecastDocument:
    """The stored forecast as the API publishes it: the figures as stored, owners by id."""

    overall: ForecastJSON
    by_owner: dict[int, ForecastJSON]


def _forecast_figures_encode(f: Forecast) -> ForecastJSON:
    return {
        "status": f.status,
        "open_count": f.open_count,
        "today": f.today.isoformat(),
        "deadline": f.deadline.isoformat(),
        "weekly_throughput": [list(week) for week in f.weekly_throughput],
        "mean_weekly_throughput": f.mean_weekly_throughput,
        "p50_date": _iso(f.p50_date),
        "p85_date": _iso(f.p85_date),
    }


def forecast_encode(report: ForecastReport | None) -> ForecastReportJSON | dict[str, str]:
    """The stored forecast; ``None`` (there is no deadline milestone) as ``{"missing": "deadline milestone"}``."""
    if report is None:
        return dict(_FORECAST_MISSING_DEADLINE)
    return {
        "overall": _forecast_figures_encode(report.overall),
        "by_owner": {str(k): _forecast_figures_encode(f) for k, f in report.by_owner.items()},
    }


def _forecast_figures_decode(f: Document) -> Forecast:
    return Forecast(
        f["status"],
        f.get("open_count", 0),
        datetime.date.fromisoformat(f["today"]),
        datetime.date.fromisoformat(f["deadline"]),
        tuple(map(tuple, f.get("weekly_throughput", ()))),  # [[ISO week, count], ...]
        float(f.get("mean_weekly_throughput", 0.0)),
        _date(f.get("p50_date")),
        _date(f.get("p85_date")),
    )


def forecast_decode(data: Document | None) -> ForecastReport | None:
    """The stored forecast with real dates and owner ids as ints; None before the first recompute and
    while there is no deadline milestone."""
    if not data or not data.get("overall"):
        return None
    return ForecastReport(
        overall=_forecast_figures_decode(data["overall"]),
        by_owner=_by_id(data.get("by_owner"), _forecast_figures_decode),
    )


def forecast_json(data: Document | None) -> ForecastDocument | None:
    """The stored forecast, passed through but for the id keys; None as for ``forecast_decode``."""
    if not data or not data.get("overall"):
        return None
    return ForecastDocument(overall=data["overall"], by_owner=_by_id(data.get("by_owner"), _as_stored))


# --- Helpers ---------------------------------------------------------------------------------------------


def _iso(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: str | None) -> datetime.date | None:
    """A stored ISO date, or None (so is an empty string, as a hand-made row may hold)."""
    return datetime.date.fromisoformat(value) if value else None


def _as_stored(value: Any) -> Any:
    return value


def _by_id(mapping: Document | None, decode: Callable[[Document], _T]) -> dict[int, _T]:
    """A stored {"<id>": document} map with int keys again, each value decoded."""
    return {int(key): decode(value) for key, value in (mapping or {}).items()}


# --- Daily snapshots: ProgressSnapshot.by_status -----------------------------------------------------------


def status_figures_encode(figures: ProgressFigures) -> dict[str, list[int]]:
    """A snapshot's per-status figures as stored, compactly: ``{status: [count, volume]}``."""
    return {status: [count, figures.volume_by_status[status]] for status, count in figures.count_by_status.items()}


def status_figures_decode(by_status: Mapping[str, Sequence[int]] | None) -> dict[str, tuple[int, int]]:
    """``{status: (count, volume)}`` for the statuses a snapshot stored (older rows may lack some)."""
    return {status: (int(pair[0]), int(pair[1])) for status, pair in (by_status or {}).items()}
