"""The recompute and the daily snapshot, in-process: stored results equal a fresh computation."""

import datetime

import pytest
from django.db import transaction

from migration_app.choices import DependencyStrength
from migration_app.choices import MigrationStatus as S
from migration_app.engine.portfolio import build_portfolio
from migration_app.engine.readiness import readiness_all
from migration_app.models import PortfolioResult, PortfolioState, ProgressSnapshot, ServiceReadiness
from migration_app.selectors.engine_inputs import portfolio_load
from migration_app.services.catalog import service_change_status
from migration_app.services.dependencies import dependency_add
from migration_app.services.recompute import _portfolio_results_store, portfolio_recompute
from migration_app.services.snapshots import progress_snapshot_backfill, progress_snapshot_take
from tests.factories import CapabilityFactory, ServiceFactory

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 11, 28)


@pytest.fixture
def small_portfolio(owner, other_owner):
    """B (brg) waits for payment; A (skd) needs B; C (skd) is migrated; D (skd) has no plan."""
    payment = CapabilityFactory(key="payment", planned_date=datetime.date(2027, 3, 1))
    b = ServiceFactory(owner=other_owner, target="AltinnApp", target_date=TODAY, yearly_volume=500)
    a = ServiceFactory(owner=owner, target="AltinnApp", target_date=TODAY, yearly_volume=2000)
    c = ServiceFactory(owner=owner, status=S.IN_PRODUCTION, yearly_volume=10)
    d = ServiceFactory(owner=owner, yearly_volume=1)
    dependency_add(service=b, depends_on_capability=payment)
    dependency_add(service=a, depends_on_service=b)
    dependency_add(service=a, depends_on_service=c)
    dependency_add(service=d, depends_on_service=a, strength=DependencyStrength.SOFT)
    return {"a": a, "b": b, "c": c, "d": d, "payment": payment}


def stored_states():
    return dict(ServiceReadiness.objects.values_list("service_id", "state"))


def test_recompute_stores_readiness_with_transitive_blockers(small_portfolio):
    p = small_portfolio
    summary = portfolio_recompute(today=TODAY)
    assert summary.stored and summary.services == 4
    assert stored_states() == {
        p["a"].pk: "blocked",
        p["b"].pk: "blocked",
        p["c"].pk: "migrated",
        p["d"].pk: "not_assessed",
    }
    a = ServiceReadiness.objects.get(pk=p["a"].pk)
    capability_blockers = [b for b in a.detail["blockers"] if b["kind"] == "capability"]
    # A is blocked by payment through B: the path names B, the root cause names payment and its date.
    assert capability_blockers == [
        {
            "kind": "capability",
            "capability_id": p["payment"].pk,
            "capability_key": "payment",
            "planned_date": "2027-03-01",
            "service_id": None,
            "owner_id": None,
            "path": [p["b"].pk],
            "missing": "",
        }
    ]
    leverage = PortfolioResult.objects.get(kind="leverage").data
    top = leverage[0]
    assert (top["kind"], top["capability_key"], top["transitive_count"], top["transitive_volume"]) == (
        "capability",
        "payment",
        2,
        2500,
    )


def test_stored_results_equal_a_fresh_computation_and_a_rerun_writes_nothing(small_portfolio):
    portfolio_recompute(today=TODAY)
    fresh = readiness_all(build_portfolio(*portfolio_load()))
    assert stored_states() == {sid: r.state for sid, r in fresh.items()}
    again = portfolio_recompute(today=TODAY)
    assert again.readiness_rows_written == 0
    assert PortfolioState.objects.get().is_fresh


def test_a_change_marks_results_stale_until_the_next_recompute(small_portfolio, django_capture_on_commit_callbacks):
    portfolio_recompute(today=TODAY)
    assert PortfolioState.objects.get().is_fresh
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        service_change_status(service=small_portfolio["b"], to_status=S.DECOMMISSIONED)
    # Run only the revision bump, not the (eager) recompute it would queue, to observe staleness.
    state_before = PortfolioState.objects.get()
    PortfolioState.objects.singleton().update(revision=state_before.revision + 1)
    assert len(callbacks) == 1
    assert not PortfolioState.objects.get().is_fresh
    portfolio_recompute(today=TODAY)
    assert PortfolioState.objects.get().is_fresh
    # B is resolved, so A no longer waits for payment through it.
    assert stored_states()[small_portfolio["a"].pk] == "ready"


def test_an_older_run_never_overwrites_newer_results(small_portfolio):
    portfolio_recompute(today=TODAY)
    PortfolioState.objects.singleton().update(computed_revision=50, revision=50)
    stored, written = _portfolio_results_store(revision=49, readiness={}, results={})
    assert (stored, written) == (False, 0)
    assert PortfolioState.objects.get().computed_revision == 50


def test_a_change_inside_a_rolled_back_transaction_queues_nothing(small_portfolio):
    revision = PortfolioState.objects.singleton().get_or_create()[0].revision
    with pytest.raises(RuntimeError), transaction.atomic():
        service_change_status(service=small_portfolio["d"], to_status=S.ANALYSIS)
        raise RuntimeError("the request failed")
    assert PortfolioState.objects.get().revision == revision
    assert not PortfolioState.objects.get().recompute_pending


def test_snapshot_overwrites_its_day_instead_of_duplicating(small_portfolio, time_machine):
    time_machine.move_to(datetime.datetime(2026, 11, 28, 12, tzinfo=datetime.UTC))
    first = progress_snapshot_take()
    rows = ProgressSnapshot.objects.count()
    assert rows == first == 1 + 2 + 1  # overall, two owners, one service type
    service_change_status(service=small_portfolio["d"], to_status=S.DECOMMISSIONED)
    progress_snapshot_take()
    assert ProgressSnapshot.objects.count() == rows
    overall = ProgressSnapshot.objects.get(scope="overall", day=TODAY)
    assert (overall.total_count, overall.done_count, overall.migrated_count) == (4, 2, 1)


def test_backfill_replays_history_for_past_days(owner, time_machine):
    time_machine.move_to(datetime.datetime(2026, 11, 28, 12, tzinfo=datetime.UTC))
    service = ServiceFactory(owner=owner, yearly_volume=7)
    for day, status in ((2, S.ANALYSIS), (3, S.DEVELOPMENT), (4, S.TESTING), (5, S.IN_PRODUCTION)):
        at = datetime.datetime(2026, 11, day, 10, tzinfo=datetime.UTC)
        service_change_status(service=service, to_status=status, at=at)
    progress_snapshot_backfill(first=datetime.date(2026, 11, 1), last=datetime.date(2026, 11, 6))
    done = dict(ProgressSnapshot.objects.filter(scope="overall").values_list("day", "done_count").order_by("day"))
    assert done == {datetime.date(2026, 11, d): (1 if d >= 5 else 0) for d in range(1, 7)}
    nov_3 = ProgressSnapshot.objects.get(scope="overall", day=datetime.date(2026, 11, 3))
    assert nov_3.by_status["development"] == [1, 7]


def test_recompute_command_prints_phases_and_a_summary(small_portfolio):
    from io import StringIO

    from django.core.management import call_command

    out, err = StringIO(), StringIO()
    call_command("recompute", "--today", "2026-11-28", stdout=out, stderr=err)
    assert "Recomputed 4 services and 4 dependencies" in out.getvalue()
    assert "blocked 2" in out.getvalue()
    assert "Progress snapshot: 4 rows for 2026-11-28" in out.getvalue()
    for phase in ("load services", "readiness", "leverage and waves", "progress and forecast", "store"):
        assert phase in err.getvalue()
