"""Per-request observation: a request id for every log line, one access log line, and latency metrics.

First in ``MIDDLEWARE``, so the id is set before any other code logs and the timing covers the whole
stack, including redirects and responses other middleware return early (WhiteNoise's static files).
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import SimpleLazyObject

from tracker.logs import REQUEST_ID_HEADER, request_id_accept, request_id_var
from tracker.metrics import request_observe

access_logger = logging.getLogger("tracker.requests")

# Load balancers probe these every few seconds; a successful probe is logged at DEBUG, not INFO.
PROBE_ROUTES = frozenset({"/healthz", "/readyz"})


# A regex route's named group, e.g. DRF's router's "(?P<pk>[^/.]+)".
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


@functools.lru_cache(maxsize=1024)
def route_label(route: str) -> str:
    """A URL pattern as a metric label: ``/`` first, regex groups and anchors shown as ``path()`` would.

    ``api/v1/services/(?P<pk>[^/.]+)/$`` (DRF's router) becomes ``/api/v1/services/<pk>/``.
    """
    return "/" + _NAMED_GROUP.sub(r"<\1>", route).replace("^", "").replace("$", "")


def _user_id(request: HttpRequest) -> int | None:
    """The signed-in user's id, only if something already loaded the user: the log never costs a query."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        # AuthenticationMiddleware's lazy user caches the loaded one here (DRF replaces it outright).
        user = getattr(request, "_cached_user", None)
    return user.pk if user is not None and user.is_authenticated else None


class RequestObservationMiddleware:
    """Tag the request with an id (echoed in ``X-Request-ID``), time it, count it and log one line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.static_prefix = settings.STATIC_URL

    def route(self, request: HttpRequest) -> str:
        """The URL pattern that answered, e.g. ``/api/v1/services/<int:pk>/``: never the raw path, whose
        ids and typos would make a new metric series each."""
        match = request.resolver_match
        if match is not None:
            return route_label(match.route)
        if request.path.startswith(self.static_prefix):
            return "static"
        return "unmatched"

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_accept(request.META.get("HTTP_X_REQUEST_ID"))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            route = self.route(request)
            request_observe(method=request.method or "", route=route, status=response.status_code, seconds=seconds)
            response[REQUEST_ID_HEADER] = request_id
            level = logging.DEBUG if route in PROBE_ROUTES and response.status_code < 400 else logging.INFO
            if access_logger.isEnabledFor(level):
                self.log(request, response, route=route, seconds=seconds, level=level)
            return response
        finally:
            request_id_var.reset(token)

    def log(self, request: HttpRequest, response: HttpResponseBase, *, route: str, seconds: float, level: int) -> None:
        """The access log line; the path without its query string, which may carry what must not be logged."""
        access_logger.log(
            level,
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
                "user_id": _user_id(request),
            },
        )
