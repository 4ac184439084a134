"""The sign-in page's single sign-on link, rendered only when single sign-on is enabled."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.urls import reverse

register = template.Library()


@register.inclusion_tag("registration/sso_sign_in.html")
def sso_sign_in(next_url: str = "") -> dict:
    """A link (not a form, so the CSP's form-action holds) to the provider, carrying the page to return to."""
    if not getattr(settings, "OIDC_ENABLED", False):
        return {"enabled": False}
    url = reverse("sso:start")
    if next_url:
        url += "?" + urlencode({"next": next_url})
    return {"enabled": True, "url": url, "provider_name": settings.OIDC_PROVIDER_NAME}
