"""The stored-result codec: a recompute stores the same bytes as before it, and every stored document
decodes back into the engine's dataclasses.

Pure, so no database: the reference below is the recompute's encoders as they were before the codec,
kept verbatim, run on real engine output from random portfolios (hypothesis).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from migration_app.choices import MigrationStatus
from migration_app.engine import codec
from migration_app.engine.leverage import LeverageRow, leverage
from migration_app.engine.lifecycle import DONE
from migration_app.engine.portfolio import CapabilityNode, Edge, ServiceNode, build_portfolio
from migration_app.engine.progress import StatusEvent, forecast_report, overdue, progress
from migration_app.engine.readiness import Blocker, Readiness, readiness_all
from migration_app.engine.waves import WavePlan, waves

D = datetime.date
TODAY = D(2026, 11, 28)
DEADLINE = D(2027, 6, 30)
STATUSES = [s.value for s in MigrationStatus]
OPEN_STATUSES = [s.value for s in MigrationStatus if s not in DONE]
DONE_STATUSES = [s.value for s in MigrationStatus if s in DONE]


# --- The encoders before the codec (services/recompute.py), the reference for the stored bytes ---------


def old_readiness_detail(r: Readiness) -> dict[str, Any]:
    return {
        "parts": [list(part) for part in r.score_parts],
        "blockers": [old_jsonable(dataclasses.asdict(b)) for b in r.blockers],
        "capability_blocker_count": r.capability_blocker_count,
        "service_blocker_count": r.service_blocker_count,
    }


def old_flat_rows(rows: list[Any]) -> list[dict[str, Any]]:
    if not rows:
        return []
    names = [f.name for f in dataclasses.fields(rows[0])]
    date_names = [name for name in names if isinstance(getattr(rows[0], name), datetime.date) or name.endswith("_date")]
    out = []
    for row in rows:
        item = {name: getattr(row, name) for name in names}
        for name in date_names:
            if item[name] is not None:
                item[name] = item[name].isoformat()
        out.append(item)
    return out


def old_waves_data(plan: WavePlan) -> dict[str, Any]:
    return {
        "waves": [
            {"number": w.number, "service_ids": list(w.service_ids), "yearly_volume": w.yearly_volume}
            for w in plan.waves
        ],
        "cycle_service_ids": list(plan.cycle_service_ids),
        "behind_cycle_service_ids": list(plan.behind_cycle_service_ids),
    }


def old_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): old_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [old_jsonable(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def stored(value: Any) -> str:
    """What JSONField writes to the database (``json.dumps`` with the default encoder)."""
    return json.dumps(value)


def loaded(value: Any) -> Any:
    """What JSONField hands back: the stored text parsed."""
    return json.loads(stored(value))


# --- Random portfolios with a history ------------------------------------------------------------------


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[ServiceNode], list[CapabilityNode], list[Edge], list[StatusEvent]]:
    n = draw(st.integers(1, 12))
    services = [
        ServiceNode(
            i,
            draw(st.integers(1, 3)),
            draw(st.sampled_from(["FormTask", "Correspondence"])),
            draw(st.sampled_from(OPEN_STATUSES * 2 + DONE_STATUSES)),
            draw(st.sampled_from(["AltinnApp", "", "Decommission"])),
            draw(st.sampled_from([D(2026, 4, 1), D(2027, 1, 15), None])),
            draw(st.integers(0, 1_000)),
        )
        for i in range(1, n + 1)
    ]
    capabilities = [
        CapabilityNode(100 + j, f"cap-{j}", draw(st.booleans()), draw(st.sampled_from([None, D(2027, 3, 1)])))
        for j in range(draw(st.integers(0, 3)))
    ]
    ids = st.integers(1, n)
    edges = [
        Edge(a, b, None, hard) for a, b, hard in draw(st.lists(st.tuples(ids, ids, st.booleans()), max_size=3 * n))
    ]
    if capabilities:
        caps = st.sampled_from([c.id for c in capabilities])
        edges += [Edge(a, None, c, hard) for a, c, hard in draw(st.lists(st.tuples(ids, caps, st.booleans())))]
    events = [
        StatusEvent(sid, status, TODAY - datetime.timedelta(days=days), before)
        for sid, status, days, before in draw(
            st.lists(
                st.tuples(ids, st.sampled_from(STATUSES), st.integers(1, 200), st.sampled_from(OPEN_STATUSES)),
                max_size=20,
            )
        )
    ]
    return services, capabilities, edges, events


# --- A recompute stores the same bytes as before the codec --------------------------------------------


@settings(max_examples=200, deadline=None)
@given(worlds(), st.booleans())
def test_encoders_store_what_the_recompute_stored_before(world, with_deadline):
    services, capabilities, edges, events = world
    portfolio = build_portfolio(services, capabilities, edges)

    for r in readiness_all(portfolio).values():
        assert stored(codec.readiness_detail_encode(r)) == stored(old_readiness_detail(r))
    rows = leverage(portfolio)
    assert stored(codec.leverage_encode(rows)) == stored(old_flat_rows(rows))
    plan = waves(portfolio)
    assert stored(codec.waves_encode(plan)) == stored(old_waves_data(plan))
    figures = progress(services, edges=edges, capabilities=capabilities)
    late = overdue(services, TODAY)
    assert stored(codec.progress_encode(figures, overdue=late)) == stored({**figures.to_dict(), "overdue": late})
    report = forecast_report(events, services, today=TODAY, deadline=DEADLINE, samples=50) if with_deadline else None
    old_forecast = old_jsonable(report.to_dict() if report else {"missing": "deadline milestone"})
    assert stored(codec.forecast_encode(report)) == stored(old_forecast)


# --- Every stored document decodes back -------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_what_is_stored_decodes_into_the_engines_dataclasses(world):
    services, capabilities, edges, events = world
    portfolio = build_portfolio(services, capabilities, edges)

    for r in readiness_all(portfolio).values():
        detail = loaded(codec.readiness_detail_encode(r))
        assert codec.readiness_decode(service_id=r.service_id, state=r.state, score=r.score, detail=detail) == r
        assert codec.blockers_decode(detail) == r.blockers
        assert codec.readiness_detail_json(detail) == detail
        assert codec.readiness_detail_json(stored(detail)) == detail  # the list reads JSON text on SQLite
    rows = leverage(portfolio)
    assert codec.leverage_decode(loaded(codec.leverage_encode(rows))) == rows
    assert codec.leverage_decode(loaded(codec.leverage_encode(rows)), limit=2) == rows[:2]
    plan = waves(portfolio)
    assert codec.waves_decode(loaded(codec.waves_encode(plan))) == plan
    assert codec.waves_json(loaded(codec.waves_encode(plan))) == loaded(codec.waves_encode(plan))
    figures = progress(services, edges=edges, capabilities=capabilities)
    late = overdue(services, TODAY)
    assert codec.progress_decode(loaded(codec.progress_encode(figures, overdue=late))) == codec.ProgressResult(
        figures, tuple(late)
    )
    report = forecast_report(events, services, today=TODAY, deadline=DEADLINE, samples=50)
    assert codec.forecast_decode(loaded(codec.forecast_encode(report))) == report


@settings(max_examples=100, deadline=None)
@given(worlds())
def test_the_api_forms_are_what_is_stored_keyed_by_id(world):
    """The API publishes the stored documents as they are, re-keyed by code from the ids given here."""
    services, capabilities, edges, events = world
    stored_progress = loaded(
        codec.progress_encode(progress(services, edges=edges, capabilities=capabilities), overdue=[3, 1])
    )
    document = codec.progress_json(stored_progress)
    assert document is not None and document.overall == stored_progress["overall"]
    assert document.by_owner == {int(k): v for k, v in stored_progress["by_owner"].items()}
    assert document.by_capability == {int(k): v for k, v in stored_progress["by_capability"].items()}
    assert (document.by_service_type, document.overdue) == (stored_progress["by_service_type"], [3, 1])
    stored_forecast = loaded(
        codec.forecast_encode(forecast_report(events, services, today=TODAY, deadline=DEADLINE, samples=50))
    )
    forecast = codec.forecast_json(stored_forecast)
    assert forecast is not None and forecast.overall == stored_forecast["overall"]
    assert forecast.by_owner == {int(k): v for k, v in stored_forecast["by_owner"].items()}


def test_a_row_stored_before_the_codec_decodes():
    """Documents as a database holds them today (written by the encoders the codec replaced)."""
    detail = {
        "parts": [["lifecycle progress", 10], ["planning complete", 20], ["dependencies met", 0]],
        "blockers": [
            {
                "kind": "capability",
                "capability_id": 7,
                "capability_key": "payment",
                "planned_date": "2027-03-01",
                "service_id": None,
                "owner_id": None,
                "path": [12],
                "missing": "",
            }
        ],
        "capability_blocker_count": 1,
        "service_blocker_count": 1,
    }
    readiness = codec.readiness_decode(service_id=3, state="blocked", score=30, detail=detail)
    assert readiness.blockers == (Blocker("capability", 7, "payment", D(2027, 3, 1), path=(12,)),)
    assert readiness.score_parts[0] == ("lifecycle progress", 10)
    assert readiness.blocker_count == 2

    (row,) = codec.leverage_decode(
        [
            {
                "kind": "capability",
                "capability_id": 7,
                "capability_key": "payment",
                "planned_date": "2027-03-01",
                "service_id": None,
                "owner_id": None,
                "direct_count": 1,
                "direct_volume": 500,
                "transitive_count": 2,
                "transitive_volume": 2500,
                "unblocks_count": 1,
                "unblocks_volume": 500,
            }
        ]
    )
    assert row == LeverageRow("capability", 7, "payment", D(2027, 3, 1), None, None, 1, 500, 2, 2500, 1, 500)

    forecast = {
        "status": "at_risk",
        "open_count": 3,
        "today": "2026-11-28",
        "deadline": "2027-06-30",
        "weekly_throughput": [["2026-W46", 1], ["2026-W47", 0]],
        "mean_weekly_throughput": 0.5,
        "p50_date": "2027-05-01",
        "p85_date": None,
    }
    report = codec.forecast_decode({"overall": forecast, "by_owner": {"4": forecast}})
    assert report is not None
    assert (report.overall.today, report.overall.p50_date, report.overall.p85_date) == (TODAY, D(2027, 5, 1), None)
    assert report.overall.weekly_throughput == (("2026-W46", 1), ("2026-W47", 0))
    assert list(report.by_owner) == [4]


def test_missing_results_decode_to_nothing_not_errors():
    """Before the first recompute (no row), an empty readiness detail (the model's default), no deadline."""
    assert codec.readiness_decode(service_id=1, state="ready", score=100, detail={}) == Readiness(
        1, "ready", 100, (), (), 0, 0
    )
    assert codec.readiness_detail_json(None) == {
        "parts": [],
        "blockers": [],
        "capability_blocker_count": 0,
        "service_blocker_count": 0,
    }
    assert codec.leverage_decode(None) == [] and codec.leverage_json(None) == []
    assert codec.waves_decode(None) == WavePlan((), (), ())
    assert codec.progress_decode(None) is None and codec.progress_json(None) is None
    assert codec.forecast_decode(None) is None and codec.forecast_json(None) is None
    assert codec.forecast_decode(loaded(codec.forecast_encode(None))) is None
    assert codec.forecast_json(loaded(codec.forecast_encode(None))) is None


def test_an_incomplete_blocker_is_completed_for_the_api():
    """A hand-made or older row: the API still shows every key (and only those), with the defaults."""
    detail = {"blockers": [{"kind": "planning", "missing": "target"}, {"kind": "service", "service_id": 9, "x": 1}]}
    assert codec.readiness_detail_json(detail)["blockers"] == [
        {
            "kind": "planning",
            "capability_id": None,
            "capability_key": "",
            "planned_date": None,
            "service_id": None,
            "owner_id": None,
            "path": [],
            "missing": "target",
        },
        {
            "kind": "service",
            "capability_id": None,
            "capability_key": "",
            "planned_date": None,
            "service_id": 9,
            "owner_id": None,
            "path": [],
            "missing": "",
        },
    ]


def test_leverage_json_filters_by_kind():
    rows = [
        LeverageRow("capability", 7, "payment", D(2027, 3, 1), None, None, 1, 500, 2, 2500, 1, 500),
        LeverageRow("service", None, "", None, 12, 4, 1, 10, 1, 10, 0, 0),
    ]
    data = loaded(codec.leverage_encode(rows))
    assert codec.leverage_json(data) == data
    assert codec.leverage_json(data, kind="service") == data[1:]
    assert codec.leverage_json(data, kind="capability") == data[:1]


def test_snapshot_figures_are_stored_compactly_and_read_back_by_status():
    services = [
        ServiceNode(1, 1, "FormTask", MigrationStatus.TESTING, "AltinnApp", None, 500),
        ServiceNode(2, 1, "FormTask", MigrationStatus.IN_PRODUCTION, "AltinnApp", None, 70),
    ]
    figures = progress(services).overall
    stored = json.loads(json.dumps(codec.status_figures_encode(figures)))
    # The compact form the daily snapshot has always stored: {status: [count, volume]}, every status.
    assert stored[MigrationStatus.TESTING] == [1, 500] and stored[MigrationStatus.NOT_STARTED] == [0, 0]
    read = codec.status_figures_decode(stored)
    assert read[MigrationStatus.IN_PRODUCTION] == (1, 70)
    assert read == {status: (figures.count_by_status[status], figures.volume_by_status[status]) for status in stored}
    assert codec.status_figures_decode(None) == {}
