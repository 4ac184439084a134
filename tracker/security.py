"""Security plumbing that settings alone cannot express.

* ``PrivateResponsesMiddleware`` keeps every response made for a signed-in user out of shared caches.
* ``client_address`` is the one definition of "the client's address", shared by the API throttles and the
  sign-in lockout, so a client behind the same proxies is counted the same way by both.
* ``lockout_response`` is the page a locked-out sign-in gets (django-axes calls it).

The settings that drive these live in the "Security" blocks of ``tracker/settings.py``.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control, patch_vary_headers
from rest_framework.throttling import BaseThrottle

# JSON is what the API's clients revalidate with the ETag they hold; every other representation
# (pages, CSV exports, the browsable API) is not worth keeping at all once shown.
REVALIDATED_CONTENT_TYPES = ("application/json", "application/problem+json", "application/vnd.oai.openapi+json")


class PrivateResponsesMiddleware:
    """Mark every response made for a signed-in user as private to that user's browser.

    A shared cache (a corporate proxy, a CDN in front of the load balancer) that stored one user's page
    could serve it to the next person asking for the same URL: the cross-user leak the issue asks us to
    rule out. So a response to a request that is signed in (session) or carries credentials
    (``Authorization``: API tokens) gets ``Cache-Control: private`` plus

    * ``no-store`` for pages and downloads: nothing personal lingers on disk on a shared computer;
    * ``no-cache`` for API JSON: the client may keep it but must revalidate, which the API's ETags serve.

    A view that set its own ``Cache-Control`` (Django's ``never_cache`` on the sign-in page, for one)
    knows better and is left alone. ``Vary: Cookie, Authorization`` tells any cache that the same URL has
    different answers for different credentials.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not _signed_in(request):
            return response
        patch_vary_headers(response, ("Cookie", "Authorization"))
        if response.has_header("Cache-Control"):
            return response
        content_type = response.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type in REVALIDATED_CONTENT_TYPES:
            patch_cache_control(response, private=True, no_cache=True)
        else:
            patch_cache_control(response, private=True, no_store=True)
        return response


def _signed_in(request: HttpRequest) -> bool:
    """True for a session user and for any request presenting credentials.

    DRF authenticates tokens on its own request object but also assigns the user to the Django request,
    so ``request.user`` covers token users once the view ran. The ``Authorization`` header is checked too:
    a request with wrong or expired credentials still asked for something personal.
    """
    if request.META.get("HTTP_AUTHORIZATION"):
        return True
    # Without a session cookie the visitor is anonymous, unless this very request signed them in (which
    # writes to the session). Not loading an empty session keeps anonymous answers free of `Vary: Cookie`.
    session = getattr(request, "session", None)
    if settings.SESSION_COOKIE_NAME not in request.COOKIES and not (session is not None and session.modified):
        return False
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address, honouring ``NUM_PROXIES`` exactly as the API throttles do.

    With ``NUM_PROXIES=0`` (the default) only ``REMOTE_ADDR`` counts, so a client cannot pick a fresh
    address for every guess by sending its own ``X-Forwarded-For``. Behind N proxies the address the
    outermost of ours appended is used. Whatever a header yields must parse as an address (the lockout
    stores it in an address column); otherwise the peer's own address is used.
    """
    remote_addr = request.META.get("REMOTE_ADDR") or None
    candidate = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address((candidate or "").strip()))
    except ValueError:
        return remote_addr


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The page a sign-in gets while its account or address is locked (429, with Retry-After).

    It tells the person how long to wait and where to reset a forgotten password, and says nothing about
    whether the account exists: unknown usernames are locked out the same way.
    """
    cool_off = settings.AXES_COOLOFF_TIME
    seconds = int(cool_off.total_seconds())
    response = render(
        request,
        "registration/lockout.html",
        {"minutes": math.ceil(seconds / 60), "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    # The longest wait: the lock may have begun with this attempt.
    response["Retry-After"] = str(seconds)
    return response
