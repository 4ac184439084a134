"""Progress figures, overdue services and the completion forecast (pure functions, no database)."""

from __future__ import annotations

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from migration_app.choices import STATUS_ORDER
from migration_app.engine.portfolio import CapabilityNode, Edge, ServiceNode
from migration_app.engine.progress import (
    StatusEvent,
    done_arrivals,
    forecast,
    forecast_report,
    overdue,
    progress,
    progress_figures,
    weekly_throughput,
)

D = datetime.date
TODAY = D(2026, 11, 28)  # a Saturday; the current ISO week 2026-W48 starts Monday 23 November
THIS_MONDAY = D(2026, 11, 23)
DEADLINE = D(2026, 5, 31)


def service(sid: int, status: str, *, owner: int = 1, kind: str = "FormTask", volume: int = 10, target_date=None):
    return ServiceNode(sid, owner, kind, status, "AltinnApp", target_date, volume)


def arrivals_per_week(counts: list[int], *, weeks: int | None = None) -> list[StatusEvent]:
    """``counts[i]`` services reaching done in the i-th of the last ``len(counts)`` full weeks."""
    weeks = weeks or len(counts)
    start = THIS_MONDAY - datetime.timedelta(weeks=weeks)
    events, sid = [], 0
    for week, count in enumerate(counts):
        for _ in range(count):
            sid += 1
            events.append(StatusEvent(sid, "in_production", start + datetime.timedelta(weeks=week, days=2)))
    return events


# --- Progress ---------------------------------------------------------------------------------------


def test_progress_counts_and_volume_per_scope():
    services = [
        service(1, "in_production", owner=1, volume=1_000),
        service(2, "decommissioned", owner=1, kind="Link", volume=10),
        service(3, "development", owner=2, volume=90),
        service(4, "not_started", owner=2, kind="Link", volume=0),
    ]
    edges = [Edge(1, None, 50, True), Edge(3, None, 50, False), Edge(3, 1, None, True)]
    capabilities = [CapabilityNode(50, "payment", False, None), CapabilityNode(51, "consent", False, None)]

    result = progress(services, edges=edges, capabilities=capabilities)

    overall = result.overall
    assert (overall.total_count, overall.done_count, overall.migrated_count) == (4, 2, 1)
    assert (overall.total_volume, overall.done_volume, overall.migrated_volume) == (1_100, 1_010, 1_000)
    assert (overall.pct_done_count, overall.pct_done_volume) == (50.0, 91.82)
    assert tuple(overall.count_by_status) == STATUS_ORDER
    assert overall.count_by_status["development"] == 1 and overall.volume_by_status["development"] == 90
    assert result.by_owner[2].pct_done_count == 0.0
    assert result.by_service_type["Link"].done_count == 1
    # Hard or soft, both services use payment; nobody uses consent yet.
    assert (result.by_capability[50].total_count, result.by_capability[50].done_count) == (2, 1)
    assert result.by_capability[51].total_count == 0 and result.by_capability[51].pct_done_volume == 0.0
    assert result.to_dict()["by_owner"][1]["done_count"] == 2


def test_progress_figures_of_an_empty_scope():
    figures = progress_figures([])

    assert (figures.total_count, figures.pct_done_count, figures.pct_done_volume) == (0, 0.0, 0.0)


def test_overdue_lists_open_services_past_their_target_most_overdue_first():
    services = [
        service(1, "development", target_date=D(2026, 5, 1)),
        service(2, "analysis", target_date=D(2026, 3, 1)),
        service(3, "in_production", target_date=D(2026, 1, 1)),  # done: not overdue
        service(4, "testing", target_date=TODAY),  # due today: not yet overdue
        service(5, "testing"),  # no target date
    ]

    assert overdue(services, TODAY) == [2, 1]


# --- Throughput -------------------------------------------------------------------------------------


def test_only_arrivals_from_an_open_status_count():
    events = [
        StatusEvent(1, "testing", D(2026, 10, 1)),
        StatusEvent(1, "in_production", D(2026, 10, 5)),
        StatusEvent(1, "altinn2_closed", D(2026, 10, 20)),  # done → done: not a second arrival
        StatusEvent(2, "decommissioned", D(2026, 10, 6)),
        StatusEvent(2, "analysis", D(2026, 10, 7)),  # reopened ...
        StatusEvent(2, "reimplemented_elsewhere", D(2026, 10, 8)),  # ... and resolved again
        StatusEvent(3, "altinn2_closed", D(2026, 9, 1)),  # history starting mid-way
    ]

    assert [(e.service_id, e.on) for e in done_arrivals(reversed(events))] == [
        (3, D(2026, 9, 1)),
        (1, D(2026, 10, 5)),
        (2, D(2026, 10, 6)),
        (2, D(2026, 10, 8)),
    ]


def test_from_status_lets_the_history_start_at_the_window():
    # Cut history: without from_status, closing the Altinn II edition would look like an arrival.
    events = [
        StatusEvent(1, "altinn2_closed", D(2026, 11, 2), from_status="in_production"),
        StatusEvent(2, "in_production", D(2026, 11, 3), from_status="testing"),
        StatusEvent(3, "decommissioned", D(2026, 11, 4), from_status="analysis"),
    ]

    assert [e.service_id for e in done_arrivals(events)] == [2, 3]


def test_weekly_throughput_covers_full_weeks_before_the_current_one():
    events = [
        StatusEvent(1, "in_production", D(2026, 11, 16)),  # Monday of W47
        StatusEvent(2, "in_production", D(2026, 11, 22)),  # Sunday of W47
        StatusEvent(3, "in_production", D(2026, 11, 24)),  # the current week: left out
        StatusEvent(4, "in_production", D(2026, 11, 8)),  # W45
        StatusEvent(5, "in_production", D(2026, 11, 1)),  # W44: outside a 3-week window
    ]

    assert weekly_throughput(events, today=TODAY, weeks=3) == (("2026-W45", 1), ("2026-W46", 0), ("2026-W47", 2))


def test_iso_week_labels_cross_the_year_boundary():
    labels = [label for label, _ in weekly_throughput([], today=D(2027, 1, 6), weeks=2)]

    assert labels == ["2026-W52", "2026-W53"]


# --- Forecast ---------------------------------------------------------------------------------------


def test_steady_throughput_gives_the_obvious_date():
    result = forecast(arrivals_per_week([5] * 10), open_count=50, today=TODAY, deadline=D(2027, 6, 1), weeks=10)

    assert result.status == "on_track"
    assert result.p50_date == result.p85_date == TODAY + datetime.timedelta(weeks=10)
    assert result.mean_weekly_throughput == 5.0


def test_a_past_deadline_makes_anything_open_late():
    result = forecast(arrivals_per_week([5] * 10), open_count=1, today=TODAY, deadline=DEADLINE, weeks=10)

    assert result.status == "late"
    assert result.p50_date == TODAY + datetime.timedelta(weeks=1)


def test_uneven_throughput_can_put_the_deadline_between_p50_and_p85():
    # Half the weeks deliver 10, half deliver nothing: 40 services take 8 weeks on average.
    counts = [10, 0] * 13
    probe = forecast(arrivals_per_week(counts), open_count=40, today=TODAY, deadline=TODAY)
    assert probe.p50_date < probe.p85_date

    result = forecast(arrivals_per_week(counts), open_count=40, today=TODAY, deadline=probe.p50_date)

    assert result.status == "at_risk"
    assert forecast(arrivals_per_week(counts), open_count=40, today=TODAY, deadline=probe.p85_date).status == "on_track"


def test_no_throughput_means_no_date_and_nothing_open_means_done():
    no_data = forecast(arrivals_per_week([0] * 26), open_count=3, today=TODAY, deadline=DEADLINE)
    done = forecast([], open_count=0, today=TODAY, deadline=DEADLINE)

    assert (no_data.status, no_data.p50_date, no_data.p85_date) == ("no_data", None, None)
    assert done.status == "done"
    assert len(no_data.weekly_throughput) == 26


def test_beyond_the_horizon_is_late_without_a_date():
    result = forecast(arrivals_per_week([1] + [0] * 25), open_count=100_000, today=TODAY, deadline=D(2030, 1, 1))

    assert (result.status, result.p50_date) == ("late", None)


def test_forecast_is_deterministic_for_a_seed():
    events = arrivals_per_week([3, 0, 7, 1, 0, 4, 2, 9])
    first = forecast(events, open_count=60, today=TODAY, deadline=DEADLINE, weeks=8, seed=7)

    assert forecast(events, open_count=60, today=TODAY, deadline=DEADLINE, weeks=8, seed=7) == first


def test_forecast_report_splits_history_and_open_work_by_owner():
    services = [
        service(1, "in_production", owner=1),
        service(2, "in_production", owner=1),
        service(3, "development", owner=1),
        service(4, "decommissioned", owner=2),
        service(5, "development", owner=3),
    ]
    start = THIS_MONDAY - datetime.timedelta(weeks=4)
    events = [
        StatusEvent(1, "in_production", start),
        StatusEvent(2, "in_production", start + datetime.timedelta(weeks=1)),
        StatusEvent(4, "decommissioned", start + datetime.timedelta(weeks=2)),
        StatusEvent(99, "in_production", start),  # a service no longer in the catalog
    ]

    report = forecast_report(events, services, today=TODAY, deadline=D(2027, 6, 1), weeks=4, samples=200)

    assert report.overall.open_count == 2
    assert [n for _, n in report.overall.weekly_throughput] == [1, 1, 1, 0]
    assert [n for _, n in report.by_owner[1].weekly_throughput] == [1, 1, 0, 0]
    assert (report.by_owner[1].open_count, report.by_owner[1].status) == (1, "on_track")
    assert report.by_owner[2].status == "done"
    assert report.by_owner[3].status == "no_data"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 4)), min_size=1, max_size=12),
    st.integers(1, 120),
    st.integers(0, 3),
)
def test_forecast_is_monotone_in_throughput(weeks, open_count, seed):
    slower = [base for base, _ in weeks]
    faster = [base + extra for base, extra in weeks]

    def dates(counts):
        result = forecast(
            arrivals_per_week(counts),
            open_count=open_count,
            today=TODAY,
            deadline=DEADLINE,
            weeks=len(counts),
            samples=200,
            seed=seed,
        )
        never = datetime.date.max  # no date (no data or beyond the horizon) is later than any date
        return (result.p50_date or never, result.p85_date or never)

    slow_p50, slow_p85 = dates(slower)
    fast_p50, fast_p85 = dates(faster)

    assert fast_p50 <= slow_p50
    assert fast_p85 <= slow_p85
