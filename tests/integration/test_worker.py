"""Reliability against a real Celery worker and Redis (CI runs these with REQUIRE_SERVICES=1).

Each test routes its tasks to private queues (one per kind of work, as in production) and starts
worker subprocesses that use the test database, so the data a test commits is what the worker reads.
"""

from __future__ import annotations

import datetime
import email
import importlib.util
import logging
import socket
import time
from email import policy

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction

from migration_app.choices import MigrationStatus as S
from migration_app.engine.portfolio import build_portfolio
from migration_app.engine.readiness import readiness_all
from migration_app.models import (
    PortfolioResult,
    PortfolioState,
    ProgressSnapshot,
    Service,
    ServiceReadiness,
    WeeklyReportDelivery,
)
from migration_app.selectors.engine_inputs import portfolio_load
from migration_app.services.catalog import service_change_status
from migration_app.tasks import progress_snapshot_take, recompute_portfolio
from tests.conftest import redis_available, require_service
from tests.integration.worker import Worker, connection_pools_drop, private_queue
from tracker.celery import app

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_services():
    require_service("PostgreSQL", connection.vendor == "postgresql", "worker tests share the database")
    require_service("Redis", redis_available(), "set REDIS_URL")
    if app.conf.task_always_eager:
        pytest.fail("REDIS_URL is set but tasks run eagerly")


@pytest.fixture
def queues(real_services):
    with private_queue() as names:
        yield names


@pytest.fixture
def workers(queues):
    started: list[Worker] = []

    def start(name: str, **options) -> Worker:
        worker = Worker(queues, name, **options)
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


def queue_length(queue: str) -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen(queue)


def purge(queue: str) -> None:
    with app.connection_for_write() as conn:
        conn.default_channel.client.delete(queue)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def seed(services: int) -> None:
    call_command("seed_demo", services=services, seed=7, today="2026-11-28", verbosity=0)


def assert_stored_equals_fresh() -> None:
    fresh = readiness_all(build_portfolio(*portfolio_load()))
    stored = dict(ServiceReadiness.objects.values_list("service_id", "state"))
    assert stored == {sid: r.state for sid, r in fresh.items()}
    scores = dict(ServiceReadiness.objects.values_list("service_id", "score"))
    assert scores == {sid: r.score for sid, r in fresh.items()}
    state = PortfolioState.objects.get()
    assert state.is_fresh


def test_worker_killed_mid_recompute_is_redelivered_and_completes_elsewhere(workers, queues):
    seed(6000)
    purge(queues.recompute)  # the recompute the seed asked for: this test sends exactly one job itself
    PortfolioState.objects.update(recompute_pending=True, computed_revision=None)
    first = workers("doomed")
    job = recompute_portfolio.apply_async()
    # The task clears the pending flag as its first step: from then on it is mid-recompute.
    wait_for(lambda: not PortfolioState.objects.get().recompute_pending, 30, "the recompute to start")
    first.kill_hard()
    killed_at = time.monotonic()
    assert PortfolioState.objects.get().computed_revision is None, "the recompute finished before the kill"

    # acks_late: the job stays unacknowledged in Redis. Once the visibility timeout (8 s for these
    # workers) has passed, a starting worker restores it to the queue and runs it.
    time.sleep(max(0.0, 9 - (time.monotonic() - killed_at)))
    rescuer = workers("rescuer")
    wait_for(lambda: PortfolioState.objects.get().computed_revision is not None, 90, "the redelivered recompute")
    assert job.get(timeout=30)["stored"]
    # Celery stores the result before it logs "succeeded", so the log line may trail job.get() a little.
    wait_for(
        lambda: f"recompute_portfolio[{job.id}] succeeded" in rescuer.log_path.read_text(),
        10,
        "the rescuer to log the success",
    )
    assert_stored_equals_fresh()
    assert ServiceReadiness.objects.count() == Service.objects.count()
    assert set(PortfolioResult.objects.values_list("kind", flat=True)) == {"leverage", "waves", "forecast", "progress"}


def test_the_same_jobs_run_twice_by_two_workers_leave_the_state_of_one_run(workers, queues):
    seed(800)
    workers("left")
    workers("right")
    today = datetime.date.today().isoformat()
    results = [recompute_portfolio.apply_async() for _ in range(2)]
    results += [progress_snapshot_take.apply_async(args=[today]) for _ in range(2)]
    for result in results:
        result.get(timeout=120)
    assert_stored_equals_fresh()
    # Two snapshot runs for the same day: one row per scope, none duplicated.
    scopes = ProgressSnapshot.objects.filter(day=today)
    assert scopes.count() == scopes.values("scope", "scope_key").distinct().count()
    assert scopes.filter(scope="overall").count() == 1


def test_a_burst_of_edits_queues_one_recompute(queues, owner):
    from tests.factories import ServiceFactory

    services = ServiceFactory.create_batch(20, owner=owner)
    PortfolioState.objects.singleton().get_or_create()
    PortfolioState.objects.update(recompute_pending=False)
    for service in services:
        with transaction.atomic():
            service_change_status(service=service, to_status=S.ANALYSIS)
    assert queue_length(queues.recompute) == 1
    assert PortfolioState.objects.get().revision >= 20


def test_a_rolled_back_change_never_queues_a_task(queues, owner):
    from tests.factories import ServiceFactory

    service = ServiceFactory(owner=owner)
    PortfolioState.objects.singleton().get_or_create()
    with pytest.raises(RuntimeError), transaction.atomic():
        service_change_status(service=service, to_status=S.ANALYSIS)
        raise RuntimeError("request failed")
    assert queue_length(queues.recompute) == 0
    assert Service.objects.get(pk=service.pk).status == S.NOT_STARTED


def test_broker_down_the_save_succeeds_and_the_failure_is_logged(real_services, owner, caplog):
    from tests.factories import ServiceFactory

    service = ServiceFactory(owner=owner)
    PortfolioState.objects.singleton().get_or_create()
    PortfolioState.objects.update(recompute_pending=False)
    previous = app.conf.broker_url
    # Nothing listens on the discard port: publishing fails at once, as with Redis down.
    app.conf.update(CELERY_BROKER_URL="redis://127.0.0.1:9/0")
    connection_pools_drop()
    try:
        with caplog.at_level(logging.ERROR, logger="migration_app.services.recompute"), transaction.atomic():
            service_change_status(service=service, to_status=S.ANALYSIS)
    finally:
        app.conf.update(CELERY_BROKER_URL=previous)
        connection_pools_drop()
    assert Service.objects.get(pk=service.pk).status == S.ANALYSIS
    assert "Could not queue the portfolio recompute" in caplog.text
    # The claim is released so the next change (or the hourly run) tries again.
    assert not PortfolioState.objects.get().recompute_pending


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts: (recipients, message)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK: queued"


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free loopback port, in a thread: (its port, its mailbox)."""
    require_service("aiosmtpd", importlib.util.find_spec("aiosmtpd") is not None, "pip install aiosmtpd")
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


def test_a_weekly_report_is_delivered_while_a_recompute_waits_on_its_own_queue(workers, queues, smtp_server, editor):
    """Monday's fan-out, sent as beat sends it, reaches the SMTP server through an e-mail worker while a
    recompute queued before it is still waiting: nothing consumes the recompute queue here, as when its
    worker is busy with a five-minute run. On one shared queue the delivery would wait for the recompute."""
    port, mailbox = smtp_server
    recompute_portfolio.apply_async()
    smtp = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port), "EMAIL_USE_TLS": "0", "EMAIL_USE_SSL": "0"}
    workers("mailer", kinds=("email",), env={**smtp, "EMAIL_HOST_USER": "", "EMAIL_HOST_PASSWORD": ""})

    monday = settings.CELERY_BEAT_SCHEDULE["weekly-reports-monday"]
    app.send_task(monday["task"], **monday["options"])
    wait_for(
        lambda: WeeklyReportDelivery.objects.filter(recipient=editor, status=WeeklyReportDelivery.Status.SENT).exists(),
        30,
        "the weekly report to be sent",
    )
    [(recipients, message)] = mailbox.received
    assert recipients == [editor.email]
    assert message["To"] == editor.email
    # The recompute, first in line, still waits on its own queue; the e-mail queue is empty.
    assert queue_length(queues.recompute) == 1
    assert queue_length(queues.email) == 0
