"""Operations: the health probes, request ids in structured logs, and the Prometheus metrics endpoint."""

from __future__ import annotations

import datetime
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import time_machine
from django.db import OperationalError
from prometheus_client.parser import text_string_to_metric_families

from migration_app.models import PortfolioState
from tests.conftest import redis_available, require_service
from tests.factories import ServiceFactory
from tracker import health
from tracker.celery import app
from tracker.logs import JsonFormatter, PlainFormatter, RequestIdFilter, request_id_var
from tracker.metrics import RECORDED, celery_queue_keys

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "t" * 40
NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)


def closed_port() -> int:
    """A loopback port nothing listens on: bound by us, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def log_lines():
    """Records logged during the test, formatted by the production JSON formatter and parsed back."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def access_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "tracker.requests"]


def scrape(client) -> dict[tuple[str, frozenset], float]:
    """GET /metrics with the token; samples by (name, labels)."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:300]
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


# --- /healthz -----------------------------------------------------------------------------------------


def test_healthz_answers_without_database_session_or_https_redirect(client, settings):
    # No django_db mark: a database query would raise here instead of passing unnoticed.
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]
    assert "sessionid" not in response.cookies
    # Any other page over plain http is redirected: the exemption is for the probes only.
    assert client.get("/accounts/login/").status_code == 301


# --- /readyz ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_readyz_reports_database_broker_and_recompute_age(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    PortfolioState.objects.create(
        pk=1, revision=3, computed_revision=3, computed_at=NOW - datetime.timedelta(seconds=90)
    )
    with time_machine.travel(NOW, tick=False):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": {"status": "ok"},
            # The embedded configuration has no broker to reach: tasks run in-process.
            "broker": {"status": "ok" if settings.REDIS_URL else "embedded"},
        },
        "recompute": {"computed_at": "2026-11-28T11:58:30+00:00", "age_seconds": 90.0, "fresh": True},
    }


@pytest.mark.django_db
def test_readyz_reports_stale_results_without_failing(client):
    # An edit since the last recompute (workers down, say): reported, yet the web process stays in service.
    PortfolioState.objects.create(pk=1, revision=5, computed_revision=4, computed_at=NOW)
    with time_machine.travel(NOW + datetime.timedelta(hours=2), tick=False):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["recompute"] == {"computed_at": NOW.isoformat(), "age_seconds": 7200.0, "fresh": False}


@pytest.mark.django_db
def test_readyz_fails_fast_naming_the_broker_when_it_is_unreachable(client, settings, log_lines):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["broker"]["status"] == "error"
    assert "ConnectionError" in body["checks"]["broker"]["error"]
    # The full error is logged under the probe's request id.
    warning = next(line for line in log_lines() if line["logger"] == "tracker.health")
    assert warning["level"] == "WARNING"
    assert warning["request_id"] == response["X-Request-ID"]


class UnreachableDatabase:
    """Stands in for django.db.connection while PostgreSQL is down."""

    def cursor(self):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')


def test_readyz_fails_when_the_database_is_unreachable(client, monkeypatch):
    monkeypatch.setattr(health, "connection", UnreachableDatabase())
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["status"] == "error"
    assert body["checks"]["database"]["error"].startswith("OperationalError: connection to server")
    # Without a database there is no recompute state to read; the probe still answers.
    assert body["recompute"] is None


# --- Request ids and the access log -------------------------------------------------------------------


def test_request_log_line_is_json_with_request_id_echoed_in_header(client, log_lines):
    response = client.get("/healthz?token=secret-in-query")
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    int(request_id, 16)  # a uuid4 in hex
    [line] = access_lines(log_lines())
    assert set(line) == {
        "ts", "level", "logger", "message", "request_id", "method", "path", "route", "status", "duration_ms", "user_id"
    }  # fmt: skip
    assert line["request_id"] == request_id
    assert line["message"] == "GET /healthz 200"
    assert (line["method"], line["path"], line["route"], line["status"]) == ("GET", "/healthz", "/healthz", 200)
    assert line["user_id"] is None
    assert line["duration_ms"] >= 0
    assert datetime.datetime.fromisoformat(line["ts"]).utcoffset() == datetime.timedelta(0)
    # A successful probe is a DEBUG line, kept out of the default INFO log.
    assert line["level"] == "DEBUG"
    # The query string is never logged.
    assert "secret-in-query" not in json.dumps(log_lines())


@pytest.mark.django_db
def test_request_log_names_the_signed_in_user_and_the_route(client, lead, log_lines):
    service = ServiceFactory()
    client.force_login(lead)
    path = f"/api/v1/services/by-key/{service.service_code}/{service.edition_code}/"
    assert client.get(path).status_code == 200
    [line] = access_lines(log_lines())
    assert line["user_id"] == lead.pk
    assert line["route"] == "/api/v1/services/by-key/<str:service_code>/<int:edition_code>/"
    assert line["path"] == path
    assert line["level"] == "INFO"


def test_incoming_request_id_is_kept(client, log_lines):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c2e-1")
    assert response["X-Request-ID"] == "lb-7f3a9c2e-1"
    assert access_lines(log_lines())[0]["request_id"] == "lb-7f3a9c2e-1"


@pytest.mark.parametrize(
    "forged",
    ["abc\nINFO forged log line", "a" * 500, 'x" "injected": "y', "id with spaces", ""],
    ids=["newline", "500-chars", "quotes", "spaces", "empty"],
)
def test_malformed_incoming_request_id_is_replaced(client, log_lines, forged):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=forged)
    request_id = response["X-Request-ID"]
    assert request_id != forged
    assert len(request_id) == 32
    assert access_lines(log_lines())[0]["request_id"] == request_id


def test_request_id_is_cleared_after_the_request(client):
    client.get("/healthz", HTTP_X_REQUEST_ID="req-after")
    assert request_id_var.get() is None


def test_json_formatter_keeps_a_traceback_inside_one_line():
    logger = logging.getLogger("tests.ops")
    try:
        raise ValueError("broken")
    except ValueError:
        record = logger.makeRecord("tests.ops", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed here"
    assert entry["exception"].endswith("ValueError: broken")


def test_plain_formatter_shows_request_id_and_fields():
    token = request_id_var.set("req-1")
    try:
        record = logging.getLogger("x").makeRecord("x", logging.INFO, __file__, 1, "hello", (), None, extra={"k": 2})
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    assert PlainFormatter().format(record).endswith(" INFO x [req-1] hello k=2")


# --- /metrics -----------------------------------------------------------------------------------------


def test_metrics_is_not_there_without_a_token_configured(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Token {TOKEN}", f"Basic {TOKEN}", "Bearer"],
    ids=["missing", "shorter", "longer", "token-scheme", "basic-scheme", "empty-bearer"],
)
def test_metrics_refuses_a_missing_or_wrong_token(client, settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get("/metrics", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"tracker_" not in response.content


@pytest.mark.django_db
def test_metrics_show_request_latency_by_route_not_by_path(client, settings, lead):
    settings.METRICS_TOKEN = TOKEN
    service = ServiceFactory()
    client.force_login(lead)
    route = frozenset({"method": "GET", "route": "/api/v1/services/<pk>/", "status": "2xx"}.items())
    before = scrape(client).get(("tracker_http_request_duration_seconds_count", route), 0)

    assert client.get(f"/api/v1/services/{service.pk}/").status_code == 200
    assert client.get("/no/such/page/").status_code == 404

    settings.SECURE_SSL_REDIRECT = True  # Prometheus scrapes each host over plain http: not redirected
    samples = scrape(client)
    assert samples[("tracker_http_request_duration_seconds_count", route)] == before + 1
    unmatched = frozenset({"method": "GET", "route": "unmatched", "code": "404"}.items())
    assert samples[("tracker_http_requests_total", unmatched)] >= 1
    # Raw paths (with ids) never become labels.
    assert not any(dict(labels).get("route", "").endswith(f"/{service.pk}/") for _name, labels in samples)
    # The live state read at scrape time: the engine's results and, with Redis, the broker.
    assert ("tracker_recompute_fresh", frozenset()) in samples
    if settings.REDIS_URL:
        assert samples[("tracker_broker_up", frozenset())] == 1


@pytest.mark.django_db
def test_metrics_scrape_succeeds_with_the_broker_down(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    samples = scrape(client)
    assert samples[("tracker_broker_up", frozenset())] == 0
    assert not any(name == "tracker_celery_queue_length" for name, _labels in samples)


@pytest.mark.django_db
def test_metrics_queue_length_counts_waiting_messages_of_every_priority(client, settings):
    require_service("Redis", redis_available(), "the queue length is read from the broker")
    settings.METRICS_TOKEN = TOKEN
    queue, email_queue = (f"ops-test-{uuid.uuid4().hex[:8]}.{kind}" for kind in ("recompute", "email"))
    settings.TASK_QUEUES = {"recompute": queue, "email": email_queue}
    try:
        # Real messages through kombu, so the test follows its key naming (one list per priority step).
        app.send_task("tests.ops.never_consumed", queue=queue)
        app.send_task("tests.ops.never_consumed", queue=queue, priority=5)
        app.send_task("tests.ops.never_consumed", queue=queue, priority=9)
        app.send_task("tests.ops.never_consumed", queue=email_queue)
        samples = scrape(client)
        # Each queue kind is counted apart.
        assert samples[("tracker_celery_queue_length", frozenset({"queue": queue}.items()))] == 3
        assert samples[("tracker_celery_queue_length", frozenset({"queue": email_queue}.items()))] == 1
    finally:
        health.broker_client().delete(*celery_queue_keys(queue), *celery_queue_keys(email_queue))


def test_metrics_add_up_across_processes_in_multiprocess_mode(client, settings, tmp_path, monkeypatch):
    # Two "gunicorn workers" record requests into the shared directory; the scrape answers with both.
    settings.METRICS_TOKEN = TOKEN
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    record = (
        "from tracker.metrics import request_observe\n"
        "for _ in range({n}): request_observe(method='GET', route='/multiprocess-test', status=200, seconds=0.01)\n"
    )
    workers = [subprocess.Popen([sys.executable, "-c", record.format(n=n)], env=env, cwd=ROOT) for n in (2, 3)]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0]

    # This process was not started in multiprocess mode, but the scrape reads the directory all the same.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape(client)
    route = {"method": "GET", "route": "/multiprocess-test"}
    assert samples[("tracker_http_requests_total", frozenset({**route, "code": "200"}.items()))] == 5
    assert samples[("tracker_http_request_duration_seconds_count", frozenset({**route, "status": "2xx"}.items()))] == 5


# --- Celery task metrics and log context --------------------------------------------------------------

task_logger = logging.getLogger("tests.ops.tasks")


@app.task(name="tests.ops.succeeds")
def succeeds() -> str:
    task_logger.info("working")
    return "done"


@app.task(name="tests.ops.fails")
def fails() -> None:
    raise ValueError("the task failed")


@app.task(bind=True, name="tests.ops.retries_once", max_retries=1)
def retries_once(self) -> str:
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return "done on retry"


def task_count(task: str, outcome: str) -> float:
    return RECORDED.get_sample_value("tracker_celery_tasks_total", {"task": task, "outcome": outcome}) or 0


def task_runs_timed(task: str) -> float:
    return RECORDED.get_sample_value("tracker_celery_task_duration_seconds_count", {"task": task}) or 0


def test_task_signals_count_success_failure_and_retry():
    # .apply() runs the task in-process through Celery's tracer, which fires the same signals as a worker.
    before = {
        "succeeded": task_count("tests.ops.succeeds", "succeeded"),
        "failed": task_count("tests.ops.fails", "failed"),
        "retried": task_count("tests.ops.retries_once", "retried"),
        "retry succeeded": task_count("tests.ops.retries_once", "succeeded"),
        "timed": task_runs_timed("tests.ops.succeeds"),
    }
    assert succeeds.apply().get() == "done"
    # throw=False, as in a worker: under task_eager_propagates Celery re-raises a failure or retry before
    # it records (and signals) it. The eager retry runs its second attempt inline, which succeeds.
    assert fails.apply(throw=False).failed()
    retries_once.apply(throw=False)

    assert task_count("tests.ops.succeeds", "succeeded") == before["succeeded"] + 1
    assert task_count("tests.ops.fails", "failed") == before["failed"] + 1
    assert task_count("tests.ops.retries_once", "retried") == before["retried"] + 1
    assert task_count("tests.ops.retries_once", "succeeded") == before["retry succeeded"] + 1
    assert task_runs_timed("tests.ops.succeeds") == before["timed"] + 1
    assert task_count("tests.ops.fails", "succeeded") == 0


def test_task_log_lines_carry_the_task_id_and_name(log_lines):
    result = succeeds.apply()
    [line] = [line for line in log_lines() if line["logger"] == "tests.ops.tasks"]
    assert (line["request_id"], line["task_id"], line["task_name"]) == (result.id, result.id, "tests.ops.succeeds")
    assert request_id_var.get() is None


def test_task_run_inside_a_request_logs_under_the_request_id_and_gives_it_back(log_lines):
    token = request_id_var.set("req-42")
    try:
        result = succeeds.apply()
        # The request's later lines are its own again.
        logging.getLogger("tests.ops").info("after the task")
    finally:
        request_id_var.reset(token)
    lines = log_lines()
    task_line = next(line for line in lines if line["logger"] == "tests.ops.tasks")
    assert (task_line["request_id"], task_line["task_id"]) == ("req-42", result.id)
    after = next(line for line in lines if line["message"] == "after the task")
    assert after["request_id"] == "req-42"
    assert "task_id" not in after
