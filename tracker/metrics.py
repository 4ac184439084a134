"""Prometheus metrics: request latency, Celery task outcomes, queue length and the age of engine results.

Two kinds of figures. Request and task metrics are *recorded* as things happen, by
``tracker.middleware`` and the Celery signal handlers below. Queue length, broker reachability and
recompute age are *read* at scrape time by :class:`LiveStateCollector`, so they are never stale.

gunicorn and Celery run several processes. With ``PROMETHEUS_MULTIPROC_DIR`` set (before the process
starts: prometheus_client reads it on import) every process writes its recorded figures to files
there and ``/metrics`` adds them up across processes; without it a scrape shows this process's only.

``/metrics`` is off (404) unless ``METRICS_TOKEN`` is set, and then wants ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

# Figures recorded by this process (our own registry, not prometheus_client's global one, so nothing a
# library registers there leaks into /metrics).
RECORDED = CollectorRegistry()

HTTP_REQUEST_DURATION = Histogram(
    "tracker_http_request_duration_seconds",
    "Time from the first middleware to the response, by method, URL route and status class (2xx, 4xx, ...).",
    ["method", "route", "status"],
    # Pages and API calls take milliseconds to tenths of a second; the long tail is exports and imports.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=RECORDED,
)
HTTP_REQUESTS = Counter(
    "tracker_http_requests",
    "Requests by method, URL route and exact status code (412 conflicts and 429 throttling stand apart).",
    ["method", "route", "code"],
    registry=RECORDED,
)
TASK_OUTCOMES = Counter(
    "tracker_celery_tasks",
    "Celery task runs by task name and outcome: succeeded, failed, retried, revoked or rejected.",
    ["task", "outcome"],
    registry=RECORDED,
)
TASK_DURATION = Histogram(
    "tracker_celery_task_duration_seconds",
    "Run time of Celery tasks (every attempt, whatever its outcome), by task name.",
    ["task"],
    buckets=(0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0),
    registry=RECORDED,
)

# Anything else (WebDAV verbs, made-up methods) is counted as "other": labels must stay a small set.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_observe(*, method: str, route: str, status: int, seconds: float) -> None:
    """Record one finished request (called by the middleware)."""
    method = method if method in HTTP_METHODS else "other"
    HTTP_REQUEST_DURATION.labels(method, route, f"{status // 100}xx").observe(seconds)
    HTTP_REQUESTS.labels(method, route, str(status)).inc()


# --- Read at scrape time -----------------------------------------------------------------------------


def celery_queue_keys(queue_name: str) -> list[str]:
    """The Redis lists holding a queue's waiting messages.

    kombu keeps one list per priority step: the bare queue name for the lowest, then the name, a
    separator and the step (``tracker\\x06\\x163``) for the others.
    """
    # kombu's transport options mix strings, numbers and lists; settings.py sets only some of them.
    options: Mapping[str, Any] = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    queue = options.get("global_keyprefix", "") + queue_name
    steps = options.get("priority_steps", [0, 3, 6, 9])
    separator = options.get("sep", "\x06\x16")
    return [queue] + [f"{queue}{separator}{step}" for step in steps if step]


class LiveStateCollector:
    """Broker reachability, queue length and recompute age, read when Prometheus scrapes.

    A server that is down leaves its figures out (queue length, recompute age) and sets
    ``tracker_broker_up`` to 0; the scrape itself still succeeds.
    """

    def collect(self) -> Iterator[Metric]:
        yield from self._broker()
        yield from self._recompute()

    def _broker(self) -> Iterator[Metric]:
        from tracker.health import broker_client

        client = broker_client()
        if client is None:
            return  # Embedded: tasks run in-process, there is no queue to watch.
        import redis

        # One figure per queue kind (settings.TASK_QUEUES): a backlog of e-mail shows apart from recomputes.
        queues = list(settings.TASK_QUEUES.values())
        try:
            with client.pipeline(transaction=False) as pipe:
                for queue in queues:
                    keys = celery_queue_keys(queue)
                    for key in keys:
                        pipe.llen(key)
                lengths = iter(pipe.execute())
                waiting = {queue: sum(next(lengths) for _key in celery_queue_keys(queue)) for queue in queues}
        except (redis.RedisError, OSError) as exc:
            logger.warning("Metrics: the broker is unavailable: %s", exc)
            yield GaugeMetricFamily("tracker_broker_up", "1 when the Celery broker (Redis) answers.", value=0)
            return
        yield GaugeMetricFamily("tracker_broker_up", "1 when the Celery broker (Redis) answers.", value=1)
        length = GaugeMetricFamily(
            "tracker_celery_queue_length", "Messages waiting in the Celery queue, all priorities.", labels=["queue"]
        )
        for queue, count in waiting.items():
            length.add_metric([queue], count)
        yield length

    def _recompute(self) -> Iterator[Metric]:
        from tracker.health import recompute_status

        try:
            status = recompute_status()
        except Exception as exc:
            logger.warning("Metrics: could not read the recompute state: %s", exc)
            return
        yield GaugeMetricFamily(
            "tracker_recompute_fresh", "1 when the engine's stored results reflect every change.", value=status["fresh"]
        )
        if status["age_seconds"] is not None:
            yield GaugeMetricFamily(
                "tracker_recompute_age_seconds",
                "Seconds since the engine last stored results (stale only when tracker_recompute_fresh is 0).",
                value=status["age_seconds"],
            )


def scrape_registry() -> CollectorRegistry:
    """What a scrape shows: every process's recorded figures (or this one's) plus the live state."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        # A registry is itself a collector (it has collect()), so this process's figures come along whole.
        registry.register(RECORDED)
    registry.register(LiveStateCollector())
    return registry


def _bearer_token_matches(request: HttpRequest, expected: str) -> bool:
    scheme, _space, supplied = request.headers.get("Authorization", "").partition(" ")
    # Constant time, so response timing does not reveal how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip().encode(), expected.encode())


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus scrape endpoint: 404 unless METRICS_TOKEN is set, 401 without that bearer token."""
    if not settings.METRICS_TOKEN:
        raise Http404
    if not _bearer_token_matches(request, settings.METRICS_TOKEN):
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(scrape_registry()), content_type=content_type)


# --- Celery signal handlers --------------------------------------------------------------------------

# Start times of running tasks by task id; a task runs start to finish in one process and thread.
_task_started: dict[str, float] = {}


def _task_name(task: Any) -> str:
    return getattr(task, "name", None) or "unknown"


def _task_run_start(task_id: str | None = None, **_: Any) -> None:
    if task_id is not None:
        _task_started[task_id] = time.perf_counter()


def _task_run_end(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    started = _task_started.pop(task_id, None) if task_id else None
    if started is not None:
        TASK_DURATION.labels(_task_name(task)).observe(time.perf_counter() - started)


def _task_succeeded(sender: Any = None, **_: Any) -> None:
    TASK_OUTCOMES.labels(_task_name(sender), "succeeded").inc()


def _task_failed(sender: Any = None, **_: Any) -> None:
    TASK_OUTCOMES.labels(_task_name(sender), "failed").inc()


def _task_retried(sender: Any = None, **_: Any) -> None:
    TASK_OUTCOMES.labels(_task_name(sender), "retried").inc()


def _task_revoked(sender: Any = None, request: Any = None, **_: Any) -> None:
    # Revoked (or expired) before it ran: there is no run, so no duration, only the outcome.
    name = _task_name(sender) if sender is not None else getattr(request, "task", None) or "unknown"
    TASK_OUTCOMES.labels(name, "revoked").inc()


def _task_rejected(message: Any = None, **_: Any) -> None:
    from celery import current_app

    # A rejected message is malformed or of an unknown kind: its task name comes from outside, so only
    # names this app knows become label values.
    name = (getattr(message, "headers", None) or {}).get("task")
    TASK_OUTCOMES.labels(name if name in current_app.tasks else "unknown", "rejected").inc()


def celery_signals_connect() -> None:
    """Connect the handlers above; ``dispatch_uid`` makes a second call harmless. Eager tasks fire them too."""
    from celery import signals

    for signal, handler in (
        (signals.task_prerun, _task_run_start),
        (signals.task_postrun, _task_run_end),
        (signals.task_success, _task_succeeded),
        (signals.task_failure, _task_failed),
        (signals.task_retry, _task_retried),
        (signals.task_revoked, _task_revoked),
        (signals.task_rejected, _task_rejected),
    ):
        signal.connect(handler, weak=False, dispatch_uid=f"tracker.metrics.{handler.__name__}")
