"""Beat's catch-up recompute: results left stale by a broker outage are refreshed without anyone's help.

A change queues its recompute once it commits; with the broker down the queueing fails and the claim is
released, and a worker that loses the broker drops the queued task it holds while the claim stays. The
catch-up (services.recompute.portfolio_recompute_if_unserved, run every minute by beat) finds both, and leaves a
recent claim to the task it queued.
"""

import datetime

import pytest

from migration_app.choices import MigrationStatus as S
from migration_app.models import PortfolioState
from migration_app.services.catalog import service_change_status
from migration_app.services.recompute import (
    RECOMPUTE_CLAIM_LOST_AFTER,
    RECOMPUTE_TASK,
    _recompute_claim_and_queue,
    portfolio_recompute,
    portfolio_recompute_if_unserved,
)
from migration_app.tasks import recompute_portfolio_if_stale
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def stale_results(owner, django_capture_on_commit_callbacks):
    """Fresh results, then a committed change whose recompute has not run (its on-commit queueing is
    captured, not executed): the state a change leaves when the broker is down."""
    service = ServiceFactory(owner=owner)
    portfolio_recompute()
    with django_capture_on_commit_callbacks(execute=False):
        service_change_status(service=service, to_status=S.ANALYSIS)
    PortfolioState.objects.singleton().update(revision=PortfolioState.objects.get().revision + 1)
    state = PortfolioState.objects.get()
    assert not state.is_fresh and not state.recompute_pending
    return service


def test_fresh_results_are_left_alone(owner):
    ServiceFactory(owner=owner)
    portfolio_recompute()
    computed_at = PortfolioState.objects.get().computed_at
    assert portfolio_recompute_if_unserved() is None
    assert PortfolioState.objects.get().computed_at == computed_at


def test_stale_results_with_nothing_queued_are_recomputed(stale_results):
    summary = portfolio_recompute_if_unserved()
    assert summary is not None and summary.stored
    assert PortfolioState.objects.get().is_fresh


def test_a_recent_claim_is_left_to_its_queued_task(stale_results):
    PortfolioState.objects.update(recompute_pending=True, recompute_claimed_at=NOW - datetime.timedelta(seconds=5))
    assert portfolio_recompute_if_unserved(now=NOW) is None
    assert not PortfolioState.objects.get().is_fresh


def test_a_claim_older_than_any_queued_task_takes_was_lost_and_is_recomputed(stale_results):
    claimed_at = NOW - RECOMPUTE_CLAIM_LOST_AFTER - datetime.timedelta(seconds=1)
    PortfolioState.objects.update(recompute_pending=True, recompute_claimed_at=claimed_at)
    assert portfolio_recompute_if_unserved(now=NOW) is not None
    state = PortfolioState.objects.get()
    assert state.is_fresh
    # The recompute cleared the claim: the next change queues a task again.
    assert not state.recompute_pending


def test_the_task_runs_the_catch_up_and_reports_what_it_stored(stale_results):
    result = recompute_portfolio_if_stale.apply().get()
    assert result["stored"] and result["services"] == 1
    assert recompute_portfolio_if_stale.apply().get() is None


def test_claiming_records_when(owner, time_machine, monkeypatch):
    time_machine.move_to(NOW)
    PortfolioState.objects.singleton().get_or_create()
    queued = []
    monkeypatch.setattr(
        "migration_app.services.recompute.task_send", lambda name, **options: queued.append({"name": name, **options})
    )
    _recompute_claim_and_queue()
    state = PortfolioState.objects.get()
    assert state.recompute_pending and state.recompute_claimed_at == NOW
    # Nobody waits for the result, and a broker that is down fails the call at once (see services/recompute.py).
    assert queued[0]["name"] == RECOMPUTE_TASK
    assert queued[0]["ignore_result"] is True
    assert queued[0]["retry_policy"]["max_retries"] == 1
