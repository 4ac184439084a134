"""The user's language: the switch in the page header, remembered per user, and the sign-in that
restores it in another browser."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.views import i18n as i18n_views
from django.views.decorators.http import require_POST

from ..selectors.weekly_reports import report_preference_for
from ..services.accounts import user_language_set


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Django's set_language (cookie and redirect), and for a signed-in user also their stored preference,
    so the choice follows them to another browser and into the weekly e-mail."""
    response = i18n_views.set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        user_language_set(user=request.user, language=language)
    return response


class TrackerLoginView(auth_views.LoginView):
    """Sign-in that restores the user's remembered language."""

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        preference = report_preference_for(form.get_user())
        # Only a language the user chose: one who never did (no stored row, so the defaults, not yet
        # saved) keeps the browser's.
        if not preference._state.adding and preference.language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                preference.language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            )
        return response
