"""Print a provider's OpenID Connect endpoints as the OIDC_* environment lines single sign-on needs.

    python manage.py oidc_discover https://test.idporten.no >> tracker.env

The tracker reads the endpoints from the environment rather than discovering them at start-up (see the
single sign-on block of tracker/settings.py); this command does the discovery once, when configuring.
"""

from __future__ import annotations

from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser

# Discovery metadata name → the setting it fills; the first three (with the issuer) are required.
ENDPOINTS = [
    ("authorization_endpoint", "OIDC_OP_AUTHORIZATION_ENDPOINT"),
    ("token_endpoint", "OIDC_OP_TOKEN_ENDPOINT"),
    ("jwks_uri", "OIDC_OP_JWKS_ENDPOINT"),
    ("userinfo_endpoint", "OIDC_OP_USER_ENDPOINT"),
    ("end_session_endpoint", "OIDC_OP_LOGOUT_ENDPOINT"),
]
REQUIRED = {"authorization_endpoint", "token_endpoint", "jwks_uri"}


class Command(BaseCommand):
    help = "Fetch <issuer>/.well-known/openid-configuration and print the OIDC_OP_* environment lines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("issuer", help="The provider's issuer identifier, e.g. https://idporten.no")
        parser.add_argument("--timeout", type=float, default=10.0, help="Seconds to wait for the provider.")

    def handle(self, *args: Any, issuer: str, timeout: float, **options: Any) -> None:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = requests.get(url, timeout=timeout)
            response.raise_for_status()
            metadata = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise CommandError(f"Could not read {url}: {exc}") from exc
        # OpenID Connect Discovery 4.3: the document must name exactly the issuer it was fetched for,
        # and ID tokens are checked against this value.
        if metadata.get("issuer") != issuer:
            raise CommandError(f"{url} names the issuer {metadata.get('issuer')!r}, not {issuer!r}.")
        missing = sorted(name for name in REQUIRED if not metadata.get(name))
        if missing:
            raise CommandError(f"{url} lacks {', '.join(missing)}.")

        lines = [f"OIDC_OP_ISSUER={issuer}"]
        lines += [f"{setting}={metadata[name]}" for name, setting in ENDPOINTS if metadata.get(name)]
        self.stdout.write("\n".join(lines))
        self._warn_unsupported(metadata)

    def _warn_unsupported(self, metadata: dict[str, Any]) -> None:
        """What the tracker relies on, if the provider says it lacks it (absent lists say nothing)."""
        expectations = [
            ("response_types_supported", "code", "the authorisation-code flow"),
            ("code_challenge_methods_supported", "S256", "PKCE with S256"),
            ("id_token_signing_alg_values_supported", "RS256", "RS256 ID tokens (else set OIDC_RP_SIGN_ALGO)"),
        ]
        for name, value, meaning in expectations:
            supported = metadata.get(name)
            if isinstance(supported, list) and value not in supported:
                self.stderr.write(self.style.WARNING(f"The provider does not list {value} in {name}: {meaning}."))
