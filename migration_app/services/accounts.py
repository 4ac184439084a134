"""A user's own settings: API token, language and weekly-report preference."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as Account
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from ..choices import ReportLanguage
from ..models import ReportPreference


@transaction.atomic
def api_token_rotate(*, user: Account) -> Any:
    """Give the user a new API token, revoking the one they had: the key is shown once, to them."""

    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def api_token_revoke(*, user: Account) -> bool:
    """Revoke the user's API token; False when they had none."""

    deleted, _details = Token.objects.filter(user=user).delete()
    return bool(deleted)


@transaction.atomic
def report_preferences_update(*, user: Account, receive_weekly: bool, language: str) -> ReportPreference:
    """Save whether the user receives the weekly report, and in which language."""
    if language not in ReportLanguage.values:
        raise ValidationError({"language": _("Unknown language %(language)r.") % {"language": language}})
    preference, _created = ReportPreference.objects.update_or_create(
        user=user, defaults={"receive_weekly": receive_weekly, "language": language}
    )
    return preference


@transaction.atomic
def report_unsubscribe(*, user_id: int) -> bool:
    """Stop the weekly report (the signed link's action; idempotent). False when there is no such user."""
    if not get_user_model().objects.filter(pk=user_id).exists():
        return False
    ReportPreference.objects.update_or_create(user_id=user_id, defaults={"receive_weekly": False})
    return True


@transaction.atomic
def user_language_set(*, user: Account, language: str) -> None:
    """Remember the user's language for pages and the weekly e-mail (one preference, one row)."""

    if language not in ReportLanguage.values:
        raise ValidationError({"language": _("Unknown language %(language)r.") % {"language": language}})
    ReportPreference.objects.update_or_create(user=user, defaults={"language": language})
