"""Single sign-on's pages: the start (a plain link from the sign-in page), the provider's callback, and a
sign-out that also offers signing out at the provider.

The start is a GET link, never a form: the Content-Security-Policy's ``form-action 'self'`` also covers
redirects after a form is posted (Chromium enforces it), so a form could not send the browser on to the
provider. For the same reason the sign-out does not redirect to the provider after the sign-out form's
POST; it shows a page with a link there instead.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from .backend import SsoAccessRefused

logger = logging.getLogger(__name__)

# The session key holding the ID token that the provider's end-session endpoint wants as id_token_hint.
ID_TOKEN_SESSION_KEY = "sso_id_token"  # noqa: S105 - a session key, not a secret


class SsoStartView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider with a fresh state, nonce and PKCE challenge kept in the session."""

    def get_extra_params(self, request: HttpRequest) -> dict[str, str]:
        # The provider's pages in the language the person is reading ours in (ID-porten: nb, nn, en, se).
        params = {"ui_locales": translation.get_language() or settings.LANGUAGE_CODE}
        if settings.OIDC_ACR_VALUES:
            params["acr_values"] = " ".join(settings.OIDC_ACR_VALUES)
        return params


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back: the backend redeems the code and signs the person in.

    Every failure ends on the sign-in page with one message and nobody signed in; what went wrong is in
    the log, not on the page. A person the membership policy refuses gets a page saying what to do.
    """

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            response: HttpResponse = super().get(request)
            return response
        except SsoAccessRefused as refusal:
            context = {"provider_name": settings.OIDC_PROVIDER_NAME, "reference": refusal.reference}
            return render(request, "registration/sso_refused.html", context, status=403)
        except SuspiciousOperation as exc:
            # A state this browser's session never issued (forged, replayed or from an old tab).
            logger.warning("SSO callback refused: %s", exc)
            return self.login_failure()

    def login_success(self) -> HttpResponse:
        # login() inside rotates the session id, as a password sign-in does.
        response: HttpResponse = super().login_success()
        id_token = getattr(self.request, "sso_id_token", None)
        if id_token and settings.OIDC_OP_LOGOUT_ENDPOINT:
            self.request.session[ID_TOKEN_SESSION_KEY] = id_token
        return response

    def login_failure(self) -> HttpResponse:
        messages.error(
            self.request,
            _("Signing in with %(provider)s did not succeed. Please try again.")
            % {"provider": settings.OIDC_PROVIDER_NAME},
        )
        return redirect("login")


def provider_logout_url(request: HttpRequest, id_token: str) -> str:
    """The provider's end-session URL (OpenID Connect RP-Initiated Logout) that returns to our sign-in page."""
    query = urlencode(
        {"id_token_hint": id_token, "post_logout_redirect_uri": request.build_absolute_uri(reverse("login"))}
    )
    return f"{settings.OIDC_OP_LOGOUT_ENDPOINT}?{query}"


class SsoLogoutView(auth_views.LogoutView):
    """Django's sign-out (POST only, the session flushed); after a single sign-on it also offers the
    provider's sign-out, since the provider's own session would otherwise sign the person straight in again."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        id_token = request.session.get(ID_TOKEN_SESSION_KEY)
        if not (id_token and settings.OIDC_OP_LOGOUT_ENDPOINT):
            return super().post(request, *args, **kwargs)
        auth.logout(request)
        # LogoutView.dispatch marks the response never_cache: the page holds the ID token in its link.
        context = {
            "provider_name": settings.OIDC_PROVIDER_NAME,
            "provider_logout_url": provider_logout_url(request, id_token),
        }
        return render(request, "registration/sso_signed_out.html", context)
