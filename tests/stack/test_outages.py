"""Faults on the production stack under a light load: PostgreSQL restarted, Redis stopped for a while.
The app recovers by itself, fails only while PostgreSQL is down, never while Redis is, loses no write,
and catches up with the recomputes the outage held back (tests/stack/outages.py).

CI holds Redis down for STACK_REDIS_OUTAGE_SECONDS (20 s by default); `make bench` for a full minute.
"""

from __future__ import annotations

import os

from tests.stack.conftest import CATCH_UP_SECONDS
from tests.stack.outages import postgres_restart_run, redis_outage_run

REDIS_OUTAGE_SECONDS = float(os.environ.get("STACK_REDIS_OUTAGE_SECONDS", "20"))


def test_postgres_restart_fails_requests_only_while_it_is_down_and_loses_no_write(stack, private_postgres):
    report = postgres_restart_run(stack, private_postgres, down_seconds=2, catch_up_interval=CATCH_UP_SECONDS)
    print("\n" + report.summary())
    assert report.problems == []
    # The restart was felt (requests failed while it was down) and nothing failed outside that window.
    assert report.failures_in_window > 0
    assert report.failures_outside_window == 0
    assert report.recovered_after_seconds <= 5


def test_redis_outage_fails_nothing_and_the_held_back_recompute_runs_once_it_is_back(stack, private_redis):
    report = redis_outage_run(
        stack, private_redis, down_seconds=REDIS_OUTAGE_SECONDS, catch_up_interval=CATCH_UP_SECONDS
    )
    print("\n" + report.summary())
    assert report.problems == []
    assert report.failures_in_window == report.failures_outside_window == 0
    assert report.stale_notice_seen
    assert report.caught_up_after_seconds is not None
