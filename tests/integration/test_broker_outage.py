"""A change made while the broker is down saves at once, and queues its recompute again once it is back.

The recompute is queued inside the user's request (on commit), so the request waits for the broker.
With Redis stopped after it was in use, kombu's reconnect loop would make every such request wait ~6 s
(retry=False does not prevent it), and a result subscription ~20 s more; tasks.py avoids both. This runs
against a private Redis that it stops and starts (tests/stack/servers.py), with SQLite or PostgreSQL.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import pytest
import redis

from migration_app.choices import MigrationStatus as S
from migration_app.models import PortfolioState, Service
from migration_app.services.catalog import service_change_status
from tests.conftest import require_service
from tests.factories import ServiceFactory
from tests.integration.worker import connection_pools_drop
from tests.stack.servers import PrivateRedis
from tracker.celery import app

pytestmark = pytest.mark.django_db

# What a request may spend on a recompute it cannot queue. Measured: ~0.01 s with the fix, 6 s without.
QUEUEING_BUDGET_SECONDS = 1.0


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    require_service("redis-server", PrivateRedis.available(), "install redis-server")
    server = PrivateRedis()
    server.start()
    yield server
    server.destroy()


@contextlib.contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Publish tasks to ``url`` for real (not eagerly), with a fresh connection pool before and after."""
    previous = {"CELERY_BROKER_URL": app.conf.broker_url, "CELERY_TASK_ALWAYS_EAGER": app.conf.task_always_eager}
    app.conf.update(CELERY_BROKER_URL=url, CELERY_TASK_ALWAYS_EAGER=False)
    connection_pools_drop()
    try:
        yield
    finally:
        app.conf.update(**previous)
        connection_pools_drop()


def change(service: Service, to_status: str, capture) -> float:
    """Change the status as a request would (committing, then queueing); return the seconds it took."""
    # As if the previously queued recompute had started: it clears the claim, so this change queues again.
    PortfolioState.objects.singleton().get_or_create()
    PortfolioState.objects.update(recompute_pending=False)
    started = time.monotonic()
    with capture(execute=True):
        service_change_status(service=service, to_status=to_status)
    return time.monotonic() - started


def test_changes_save_at_once_while_the_broker_is_down_and_queue_again_once_it_is_back(
    private_redis, owner, django_capture_on_commit_callbacks, caplog
):
    service = ServiceFactory(owner=owner)
    queue = redis.Redis.from_url(private_redis.url(0))
    with broker_at(private_redis.url(0)):
        change(service, S.ANALYSIS, django_capture_on_commit_callbacks)
        assert queue.llen(app.conf.task_default_queue) == 1

        private_redis.stop()
        with caplog.at_level(logging.ERROR, logger="migration_app.tasks"):
            # The first call finds the pooled connection dead; the next ones find no server to reconnect to.
            seconds = [
                change(service, to_status, django_capture_on_commit_callbacks)
                for to_status in (S.DEVELOPMENT, S.TESTING, S.IN_PRODUCTION)
            ]
        assert max(seconds) < QUEUEING_BUDGET_SECONDS, seconds
        assert Service.objects.get(pk=service.pk).status == S.IN_PRODUCTION
        assert caplog.text.count("Could not queue the portfolio recompute") == 3
        # Released: the catch-up run knows that no task is on its way.
        assert not PortfolioState.objects.get().recompute_pending

        private_redis.start()
        queue = redis.Redis.from_url(private_redis.url(0))
        change(service, S.ALTINN2_CLOSED, django_capture_on_commit_callbacks)
        state = PortfolioState.objects.get()
        assert state.recompute_pending and state.recompute_claimed_at is not None
        # The server kept the first task on disk (append-only file) and has the new one.
        assert queue.llen(app.conf.task_default_queue) == 2
