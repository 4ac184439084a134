"""A real OpenID Connect provider on 127.0.0.1 for the single sign-on tests.

An HTTP server (http.server, in a thread, on a free port) with the endpoints the tracker talks to:
discovery, authorize, token, userinfo, JWKS and end-session. It signs ID tokens with an RSA key made at
start-up, and it checks what a real provider checks: the client's secret, the redirect URI, single-use
codes and the PKCE verifier. Tests choose who signs in next (``identity``) and can make the next ID
tokens wrong in one way (``id_token_overrides``, ``sign_with``) to see the tracker refuse them.

There is no login form: the authorize endpoint signs in ``identity`` at once and redirects back with a
code, as a provider does for someone who already has a session there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Grant:
    """What an authorisation code stands for until the token endpoint redeems it (once)."""

    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    claims: dict[str, Any]


class FakeOidcProvider:
    """An OpenID Connect provider for one client, serving on http://127.0.0.1:<port> until ``stop()``."""

    def __init__(self, *, client_id: str = "tracker", client_secret: str | None = None) -> None:
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.key_id = "fake-key-1"
        self.signing_key = rsa_key()
        self.lock = threading.Lock()
        self.reset()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.provider = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-oidc", daemon=True)

    def reset(self) -> None:
        """Forget codes and tokens and go back to an honest provider signing in a plain identity."""
        with self.lock:
            # The claims of whoever signs in next (besides iss, aud, exp, iat and nonce).
            self.identity: dict[str, Any] = {"sub": "subject-1"}
            # Merged into the next ID tokens, to make them wrong: {"aud": "someone-else"}, a past "exp", ...
            self.id_token_overrides: dict[str, Any] = {}
            # Merged into userinfo responses.
            self.userinfo_overrides: dict[str, Any] = {}
            # Another key to sign ID tokens with (under the published key id): a forgery.
            self.sign_with: rsa.RSAPrivateKey | None = None
            self.grants: dict[str, Grant] = {}
            self.access_tokens: dict[str, dict[str, Any]] = {}
            # Every token request's form fields (without the secret), for assertions on what the client sent.
            self.token_requests: list[dict[str, str]] = []

    # --- Lifecycle and addresses ----------------------------------------------------------------------

    def start(self) -> FakeOidcProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeOidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def issuer(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.issuer + path

    def environment(self) -> dict[str, str]:
        """The tracker's OIDC_* environment for this provider (what `manage.py oidc_discover` prints, and more)."""
        return {
            "OIDC_ENABLED": "1",
            "OIDC_PROVIDER_NAME": "Fake ID",
            "OIDC_RP_CLIENT_ID": self.client_id,
            "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_OP_ISSUER": self.issuer,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": self.url("/authorize"),
            "OIDC_OP_TOKEN_ENDPOINT": self.url("/token"),
            "OIDC_OP_USER_ENDPOINT": self.url("/userinfo"),
            "OIDC_OP_JWKS_ENDPOINT": self.url("/jwks"),
            "OIDC_OP_LOGOUT_ENDPOINT": self.url("/logout"),
            "OIDC_USERNAME_HASH_KEY": "test-only-username-hash-key-0123456789",
        }

    # --- What the endpoints answer --------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.url("/authorize"),
            "token_endpoint": self.url("/token"),
            "userinfo_endpoint": self.url("/userinfo"),
            "jwks_uri": self.url("/jwks"),
            "end_session_endpoint": self.url("/logout"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.signing_key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.key_id, "alg": "RS256", "use": "sig"}]}

    def authorize(self, query: dict[str, str]) -> tuple[HTTPStatus, str]:
        """(status, redirect location or error text) for an authorisation request."""
        if query.get("client_id") != self.client_id:
            return HTTPStatus.BAD_REQUEST, "unknown client_id"
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            return HTTPStatus.BAD_REQUEST, "only the openid code flow is offered"
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri:
            return HTTPStatus.BAD_REQUEST, "redirect_uri is required"
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.grants[code] = Grant(
                client_id=self.client_id,
                redirect_uri=redirect_uri,
                nonce=query.get("nonce"),
                code_challenge=query.get("code_challenge"),
                code_challenge_method=query.get("code_challenge_method"),
                claims=dict(self.identity),
            )
        return HTTPStatus.FOUND, redirect_uri + "?" + urlencode({"code": code, "state": query.get("state", "")})

    def token(self, form: dict[str, str], authorization: str) -> tuple[HTTPStatus, dict[str, Any]]:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            client_id, _colon, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if client_id != self.client_id or client_secret != self.client_secret:
            return HTTPStatus.UNAUTHORIZED, {"error": "invalid_client"}
        with self.lock:
            self.token_requests.append({k: v for k, v in form.items() if k != "client_secret"})
            grant = self.grants.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return HTTPStatus.BAD_REQUEST, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return HTTPStatus.BAD_REQUEST, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        if grant.code_challenge and not _pkce_matches(grant, form.get("code_verifier", "")):
            return HTTPStatus.BAD_REQUEST, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            **({"nonce": grant.nonce} if grant.nonce else {}),
            **grant.claims,
            **self.id_token_overrides,
        }
        id_token = jwt.encode(
            claims, self.sign_with or self.signing_key, algorithm="RS256", headers={"kid": self.key_id}
        )
        access_token = secrets.token_urlsafe(24)
        with self.lock:
            self.access_tokens[access_token] = {**grant.claims, **self.userinfo_overrides}
        return HTTPStatus.OK, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }

    def userinfo(self, authorization: str) -> tuple[HTTPStatus, dict[str, Any]]:
        token = authorization.removeprefix("Bearer ")
        with self.lock:
            claims = self.access_tokens.get(token)
        if not authorization.startswith("Bearer ") or claims is None:
            return HTTPStatus.UNAUTHORIZED, {"error": "invalid_token"}
        return HTTPStatus.OK, claims


def _pkce_matches(grant: Grant, verifier: str) -> bool:
    if grant.code_challenge_method != "S256":
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == grant.code_challenge


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the provider; JSON in and out, as OpenID Connect's endpoints speak."""

    server: ThreadingHTTPServer

    @property
    def provider(self) -> FakeOidcProvider:
        return self.server.provider  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows the test's own output."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            self._json(HTTPStatus.OK, self.provider.discovery())
        elif url.path == "/jwks":
            self._json(HTTPStatus.OK, self.provider.jwks())
        elif url.path == "/authorize":
            status, location = self.provider.authorize(query)
            if status == HTTPStatus.FOUND:
                self.send_response(status)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._json(status, {"error": "invalid_request", "error_description": location})
        elif url.path == "/userinfo":
            self._json(*self.provider.userinfo(self.headers.get("Authorization", "")))
        elif url.path == "/logout":
            self._json(HTTPStatus.OK, {"signed_out": True, "id_token_hint": bool(query.get("id_token_hint"))})
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not_found"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        form = {name: values[0] for name, values in parse_qs(body).items()}
        if urlsplit(self.path).path == "/token":
            self._json(*self.provider.token(form, self.headers.get("Authorization", "")))
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not_found"})

    def _json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)
