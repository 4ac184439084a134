"""Engine results over the API: read from what the recompute stored (with their freshness), never
recomputed per request; slip impact computed live; history across the portfolio."""

from __future__ import annotations

import datetime

import pytest
from django.db.models import F

from migration_app.choices import MigrationStatus
from migration_app.models import PortfolioResult, PortfolioState
from migration_app.services.catalog import service_change_status
from migration_app.services.dependencies import dependency_add
from migration_app.services.recompute import portfolio_recompute
from migration_app.services.snapshots import progress_snapshot_take
from tests.factories import API, ServiceFactory, api_test_setup, client_for, make_world

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _api_setup(settings):
    api_test_setup(settings)


@pytest.fixture
def world(owner, other_owner):
    return make_world(owner, other_owner)


def test_leverage_lists_blockers_by_volume_with_freshness(world, viewer):
    client = client_for(viewer)
    body = client.get(f"{API}/leverage/").json()
    assert body["fresh"] is True
    assert body["computed_at"].endswith("Z")
    assert body["count"] == 1
    (row,) = body["results"]
    assert (row["kind"], row["capability_key"], row["direct_count"], row["transitive_volume"]) == (
        "capability",
        "payment",
        1,
        500_000,
    )
    assert client.get(f"{API}/leverage/", {"kind": "service"}).json()["count"] == 0
    assert client.get(f"{API}/leverage/", {"kind": "nonsense"}).status_code == 400


def test_results_turn_stale_after_a_change_until_recomputed(world, viewer):
    client = client_for(viewer)
    PortfolioState.objects.singleton().update(revision=F("revision") + 1)
    for path in ("leverage", "waves", "progress", "forecast"):
        assert client.get(f"{API}/{path}/").json()["fresh"] is False, path
    portfolio_recompute()
    for path in ("leverage", "waves", "progress", "forecast"):
        assert client.get(f"{API}/{path}/").json()["fresh"] is True, path


def test_before_the_first_recompute_results_are_empty_not_errors(owner, viewer):
    ServiceFactory(owner=owner)
    client = client_for(viewer)
    leverage = client.get(f"{API}/leverage/").json()
    assert (leverage["count"], leverage["computed_at"], leverage["fresh"]) == (0, None, False)
    assert client.get(f"{API}/waves/").json()["waves"] == []
    assert client.get(f"{API}/progress/").json()["overall"] is None
    assert client.get(f"{API}/forecast/").json()["overall"] is None


def test_reads_never_recompute(world, viewer, django_assert_num_queries, monkeypatch):
    monkeypatch.setattr(
        "migration_app.services.recompute.portfolio_recompute", lambda **kw: pytest.fail("recomputed per request")
    )
    client = client_for(viewer)
    # 1 token and user, 2 the stored result with the current revision.
    for path in ("leverage", "waves"):
        with django_assert_num_queries(2):
            assert client.get(f"{API}/{path}/").status_code == 200
    # ...and 3 the owner codes, 4 (progress) the capability keys that key the figures.
    with django_assert_num_queries(4):
        client.get(f"{API}/progress/")
    with django_assert_num_queries(3):
        client.get(f"{API}/forecast/")


def test_waves(world, viewer):
    body = client_for(viewer).get(f"{API}/waves/").json()
    assert body["fresh"] is True
    wave_ids = {sid for wave in body["waves"] for sid in wave["service_ids"]}
    assert {world.service.pk, world.upstream.pk, world.spare.pk} <= wave_ids
    assert body["cycle_service_ids"] == []


def test_progress_keyed_by_owner_code_and_capability_key(world, viewer):
    body = client_for(viewer).get(f"{API}/progress/").json()
    assert body["overall"]["total_count"] == 3
    assert set(body["by_owner"]) == {"skd", "brg"}
    assert body["by_owner"]["skd"]["count_by_status"]["analysis"] == 1
    assert "payment" in body["by_capability"]
    assert set(body["by_service_type"]) == {"FormTask", "Correspondence"}
    assert body["overdue_service_ids"] == []  # recomputed "on" 2026-01-15, before any target date


def test_forecast_against_the_deadline(world, viewer):
    body = client_for(viewer).get(f"{API}/forecast/").json()
    overall = body["overall"]
    assert overall["deadline"] == world.milestone.date.isoformat()
    assert overall["open_count"] == 3
    assert all(set(week) == {"week", "count"} for week in overall["weekly_throughput"])
    assert set(body["by_owner"]) <= {"skd", "brg"}


def test_forecast_without_a_deadline(world, viewer):
    PortfolioResult.objects.filter(kind="forecast").update(data={"missing": "deadline milestone"})
    body = client_for(viewer).get(f"{API}/forecast/").json()
    assert (body["overall"], body["by_owner"]) == (None, {})


# --- Slip impact (live) ----------------------------------------------------------------------------------


def test_slip_impact_of_a_capability_with_a_new_date(world, viewer):
    body = (
        client_for(viewer)
        .get(f"{API}/slip-impact/", {"capability": world.capability.pk, "new_date": "2026-04-01"})
        .json()
    )
    assert body["service_ids"] == [world.service.pk]
    assert body["yearly_volume"] == 500_000
    assert body["owners"] == [
        {"owner_id": world.owner.pk, "owner": "skd", "service_count": 1, "yearly_volume": 500_000}
    ]
    assert body["misses_target_ids"] == [world.service.pk]  # its target date 2026-03-01 is before 2026-04-01
    assert body["computed_at"].endswith("Z")


def test_slip_impact_of_a_service_is_computed_live(world, viewer):
    dependency_add(service=world.spare, depends_on_service=world.upstream)
    # No recompute since the edge was added: the answer still includes it.
    body = client_for(viewer).get(f"{API}/slip-impact/", {"service": world.upstream.pk}).json()
    assert body["service_ids"] == [world.spare.pk]  # the soft edge from world.service does not count


@pytest.mark.parametrize(
    "query",
    [{}, {"capability": 1, "service": 1}, {"capability": 999_999}, {"service": "x"}, {"service": 1, "new_date": "x"}],
)
def test_slip_impact_needs_exactly_one_known_target(world, viewer, query):
    assert client_for(viewer).get(f"{API}/slip-impact/", query).status_code == 400


# --- Snapshots and history --------------------------------------------------------------------------------


def test_progress_history_by_scope_and_date_range(world, viewer):
    today = datetime.date.today()
    progress_snapshot_take(day=today)
    client = client_for(viewer)
    overall = client.get(f"{API}/progress/history/", {"scope": "overall"}).json()
    assert overall["count"] == 1
    row = overall["results"][0]
    assert (row["day"], row["scope"], row["total_count"]) == (today.isoformat(), "overall", 3)
    assert row["by_status"]["analysis"] == {"count": 1, "volume": 1000}
    skd = client.get(f"{API}/progress/history/", {"scope": "owner", "key": "skd"}).json()
    assert skd["results"][0]["total_count"] == 2
    empty = client.get(f"{API}/progress/history/", {"scope": "overall", "to": "2000-01-01"}).json()
    assert empty["count"] == 0
    assert client.get(f"{API}/progress/history/", {"scope": "planet"}).status_code == 400


def test_portfolio_history_what_changed_this_week(world, viewer):
    def at(day: int) -> datetime.datetime:
        return datetime.datetime(2026, 5, day, 10, tzinfo=datetime.UTC)

    service_change_status(service=world.service, to_status=MigrationStatus.ANALYSIS, at=at(20))
    service_change_status(service=world.upstream, to_status=MigrationStatus.ANALYSIS, at=at(26))
    service_change_status(service=world.upstream, to_status=MigrationStatus.DEVELOPMENT, at=at(31))
    client = client_for(viewer)
    week = client.get(f"{API}/history/", {"from": "2026-05-25", "to": "2026-05-31"}).json()
    assert [(r["service_code"], r["to_status"]) for r in week["results"]] == [
        ("5000", "development"),
        ("5000", "analysis"),
    ]
    assert client.get(f"{API}/history/", {"owner": "skd", "to_status": "analysis"}).json()["count"] == 2
    assert client.get(f"{API}/history/", {"service": world.upstream.pk}).json()["count"] == 2
    assert client.get(f"{API}/history/", {"from": "not a date"}).status_code == 400


def test_history_query_count_is_constant(world, viewer, django_assert_num_queries):
    for service in ServiceFactory.create_batch(15, owner=world.owner):
        service_change_status(service=service, to_status=MigrationStatus.ANALYSIS)
    client = client_for(viewer)
    # 1 token and user, 2 count, 3 the page with service, owner and user joined.
    with django_assert_num_queries(3):
        response = client.get(f"{API}/history/", {"page_size": 1000})
    assert response.json()["count"] == 16
