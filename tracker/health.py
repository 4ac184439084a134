"""Probes for load balancers and orchestrators: ``/healthz`` (liveness) and ``/readyz`` (readiness).

Liveness answers from the process alone, so a database outage never makes an orchestrator restart
healthy web processes. Readiness checks what a request needs, the database and the Celery broker,
and reports how old the engine's results are. Stale results do not fail readiness: workers being
down would then take every web process out of the load balancer at once, while the pages themselves
already say when results are stale (alert on ``tracker_recompute_age_seconds`` instead).

Both must answer quickly while a server is down: the database connection has a connect timeout
(settings, ``connect_timeout``) and the broker client a one-second socket timeout and no retries.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 1.0
# Error texts are public (probes are anonymous): the first line, bounded; the full text goes to the log.
ERROR_TEXT_LIMIT = 200


@dataclass(frozen=True)
class CheckResult:
    """One dependency's state: "ok", "error" (with its text), or a note such as "embedded"."""

    status: str
    error: str = ""

    @classmethod
    def failed(cls, exc: BaseException) -> CheckResult:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return cls("error", f"{type(exc).__name__}: {first_line}"[:ERROR_TEXT_LIMIT])

    @property
    def ok(self) -> bool:
        return self.status != "error"

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status, "error": self.error} if self.error else {"status": self.status}


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    # One client (and connection pool) per URL and process. No retries: redis-py's default of three
    # with backoff would hold a probe or a scrape for seconds while the broker is down.
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


def broker_client() -> redis.Redis | None:
    """A client for the Celery broker when it is Redis; None for the embedded (in-process) broker or another kind."""
    url = settings.CELERY_BROKER_URL
    return _redis_client(url) if url.startswith(("redis://", "rediss://")) else None


def database_check() -> CheckResult:
    """``SELECT 1`` over the request's own connection, the one pages and the API would use."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        # Any failure, not only DatabaseError: a probe must answer 503, never crash into a 500.
        logger.warning("Readiness: the database is unavailable: %s", exc)
        return CheckResult.failed(exc)
    return CheckResult("ok")


def broker_check() -> CheckResult:
    """Redis PING when the broker is Redis; "embedded" when tasks run in-process (no REDIS_URL)."""
    if settings.CELERY_BROKER_URL.startswith("memory://"):
        return CheckResult("embedded")
    client = broker_client()
    if client is None:
        return CheckResult("unchecked")
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        logger.warning("Readiness: the broker is unavailable: %s", exc)
        return CheckResult.failed(exc)
    return CheckResult("ok")


class RecomputeStatus(TypedDict):
    """The engine's stored results as /readyz and the metrics report them."""

    computed_at: str | None
    age_seconds: float | None
    fresh: bool


def recompute_status() -> RecomputeStatus:
    """When the engine last stored results, how many seconds ago, and whether they reflect every change."""
    from migration_app.models import PortfolioState

    # No row yet means nothing was ever changed or computed: the model's defaults say exactly that.
    state = PortfolioState.objects.singleton().first() or PortfolioState()
    computed_at = state.computed_at
    age = (timezone.now() - computed_at).total_seconds() if computed_at else None
    return {
        "computed_at": computed_at.isoformat() if computed_at else None,
        "age_seconds": round(age, 1) if age is not None else None,
        "fresh": state.is_fresh,
    }


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process serves requests. Touches no database, cache or session."""
    return JsonResponse({"status": "ok"})


@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database and the broker answer, 503 naming the one that does not."""
    checks = {"database": database_check(), "broker": broker_check()}
    ready = all(check.ok for check in checks.values())
    recompute: Mapping[str, object] | None = None
    if checks["database"].ok:
        try:
            recompute = recompute_status()
        except Exception as exc:
            # An unmigrated database, say: reported, and readiness is decided by the checks above.
            recompute = {"error": CheckResult.failed(exc).error}
    return JsonResponse(
        {
            "status": "ok" if ready else "error",
            "checks": {name: check.as_dict() for name, check in checks.items()},
            "recompute": recompute,
        },
        status=200 if ready else 503,
    )
