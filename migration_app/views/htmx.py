"""htmx: when a page answers with a fragment, and the header that tells caches so (NetBox's
``utilities/htmx.py``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers


def is_htmx(request: HttpRequest) -> bool:
    """An htmx swap wants a fragment; a history restore after a cache miss wants the whole page."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def vary_on_htmx(response: HttpResponse) -> HttpResponse:
    """The same URL answers with a fragment or a page depending on ``HX-Request``; caches must keep both."""
    patch_vary_headers(response, ["HX-Request"])
    return response
