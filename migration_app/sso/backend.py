"""The authentication backend for single sign-on: mozilla-django-oidc's code exchange, with the ID token
checks it leaves out, and the account found by claims rather than by e-mail.

mozilla-django-oidc 5.0.2 verifies the signature, expiry and nonce, but not the audience (it decodes
with ``verify_aud=False``) nor the issuer, it lets expired or otherwise invalid tokens escape as
exceptions, and it matches accounts on e-mail. This backend checks ``iss``, ``aud``, ``azp`` and, when
configured, ``acr``; turns every protocol failure into a refused sign-in that is logged; and hands the
verified claims to ``claims.sso_profile_from_claims`` and ``services.sso_user_sign_in``.
"""

from __future__ import annotations

import logging
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from .claims import SsoClaimsError, SsoMappingRules, sso_profile_from_claims
from .services import sso_user_sign_in

logger = logging.getLogger(__name__)

# Seconds of clock difference between the provider and us that a token's exp, iat and nbf tolerate.
CLOCK_LEEWAY_SECONDS = 60


class SsoAccessRefused(Exception):
    """The provider signed the person in, but the tracker's policy (OIDC_REQUIRE_MEMBERSHIP) refuses them.

    Deliberately not a PermissionDenied: Django's authenticate() would swallow that, and the callback
    shows this person a page saying what to do, not the generic failure.
    """

    def __init__(self, reference: str) -> None:
        super().__init__(f"no membership for {reference}")
        self.reference = reference


def mapping_rules() -> SsoMappingRules:
    return SsoMappingRules(
        username_claim=settings.OIDC_USERNAME_CLAIM,
        username_hash_key=settings.OIDC_USERNAME_HASH_KEY.encode(),
        org_claim=settings.OIDC_ORG_CLAIM,
        role_claim=settings.OIDC_ROLE_CLAIM,
        editor_groups=frozenset(settings.OIDC_EDITOR_GROUPS),
        lead_groups=frozenset(settings.OIDC_LEAD_GROUPS),
    )


class SsoBackend(OIDCAuthenticationBackend):
    """Signs a person in from a verified OpenID Connect authorisation-code callback."""

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        # Only the callback view passes a nonce. Without this guard a password sign-in posted to a URL
        # with ?code=...&state=... would make this backend redeem a code nobody asked it to.
        if request is None or "nonce" not in kwargs:
            return None
        try:
            return super().authenticate(request, **kwargs)
        except (SuspiciousOperation, jwt.InvalidTokenError, requests.RequestException, ValueError) as exc:
            # Logged without the token or the code; Django's authenticate() then reports a failed sign-in.
            logger.warning("SSO sign-in refused: %s: %s", type(exc).__name__, exc)
            return None

    def get_payload_data(self, token: str | bytes, key: Any) -> dict[str, Any]:
        """Verify an ID token (or a signed userinfo response) completely: OpenID Connect Core 3.1.3.7."""
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_OP_ISSUER,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.InvalidTokenError as exc:
            raise SuspiciousOperation(f"ID token rejected: {exc}") from exc
        audiences = payload["aud"] if isinstance(payload["aud"], list) else [payload["aud"]]
        if len(audiences) > 1 and payload.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("ID token has several audiences and is not authorised for this client (azp)")
        acr_values = settings.OIDC_ACR_VALUES
        if acr_values and payload.get("acr") not in acr_values:
            raise SuspiciousOperation(f"ID token's level of assurance {payload.get('acr')!r} is not accepted")
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The userinfo endpoint's claims, or none when no endpoint is configured (Entra ID puts all in the
        ID token). A response about someone else than the ID token's subject is refused (OIDC Core 5.3.2)."""
        if not self.OIDC_OP_USER_ENDPOINT:
            return {}
        userinfo: dict[str, Any] = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload["sub"]:
            raise SuspiciousOperation("userinfo is about another subject than the ID token")
        return userinfo

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        userinfo = self.get_userinfo(access_token, id_token, payload)
        # The signed ID token wins over userinfo where both speak; userinfo adds what the token left out.
        claims = {**userinfo, **payload}
        try:
            profile = sso_profile_from_claims(claims, mapping_rules())
        except SsoClaimsError as exc:
            raise SuspiciousOperation(str(exc)) from exc
        result = sso_user_sign_in(profile=profile, require_membership=settings.OIDC_REQUIRE_MEMBERSHIP)
        if result.refused:
            raise SsoAccessRefused(profile.username)
        return result.user

    def store_tokens(self, access_token: str, id_token: str) -> None:
        # Kept on the request, not yet in the session: signing in a different user flushes the session,
        # so the callback view stores the ID token (for the provider's sign-out) after login().
        self.request.sso_id_token = id_token

    def get_user(self, user_id: int) -> Any:
        # ModelBackend's version, which refuses inactive users: mozilla-django-oidc's returns any user, so
        # deactivating an account in the admin would not end its existing sessions.
        return ModelBackend.get_user(self, user_id)
