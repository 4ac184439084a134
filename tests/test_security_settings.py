"""Secure by default: `check --deploy` is clean with production settings; HTTPS, HSTS and cookie flags;
the response headers; the Content-Security-Policy and its two narrow exceptions; and no response for a
signed-in user that a shared cache may keep.

Settings are computed once at import, so what settings.py derives from the environment is checked in a
fresh ``manage.py`` process; the HTTP behaviour is then checked in-process with those values.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.factories import MONDAY_MORNING, ServiceFactory, UserFactory, build_week, make_lead

BASE_DIR = Path(__file__).resolve().parents[1]
TEMPLATES = BASE_DIR / "templates"
PASSWORD = "correct horse battery staple"
YEAR = 365 * 24 * 3600
# Where settings.py is told the database is; `check` never connects (port 1 would refuse at once).
UNUSED_DATABASE = "postgres://tracker@127.0.0.1:1/tracker"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``manage.py`` in a clean environment: only what the test passes (plus PATH), as on a new server."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(**overrides: str) -> dict[str, str]:
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "tracker.example.no",
        "DATABASE_URL": UNUSED_DATABASE,
        **overrides,
    }


SETTINGS_DUMP = (
    "import json; from django.conf import settings as s; print(json.dumps({name: getattr(s, name, None) for name in ["
    "'HTTPS', 'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', "
    "'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', 'SECURE_PROXY_SSL_HEADER', 'SESSION_COOKIE_AGE']}))"
)


def settings_under(**env: str) -> dict:
    result = manage("shell", "-c", SETTINGS_DUMP, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Settings from the environment ------------------------------------------------------------------


def test_check_deploy_reports_nothing_with_production_settings():
    result = manage("check", "--deploy", **production_env())
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout, result.stdout + result.stderr


def test_the_ci_environment_still_boots():
    """CI runs DEBUG=0 with a short, obviously-not-secret key and plain-http test requests: the settings
    load and every check passes; only --deploy objects to the key, and says why."""
    env = {"DEBUG": "0", "SECRET_KEY": "ci-not-secret", "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver"}
    result = manage("check", "--deploy", "--fail-level", "ERROR", **env, DATABASE_URL=UNUSED_DATABASE)
    assert result.returncode == 0, result.stderr
    assert set(re.findall(r"security\.W\d+", result.stderr)) == {"security.W009"}


def test_https_is_on_by_default_in_production():
    values = settings_under(**production_env())
    assert values == {
        "HTTPS": True,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": YEAR,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        # X-Forwarded-Proto is not believed unless a proxy of ours is said to set it.
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_AGE": 8 * 3600,
    }


def test_plain_http_on_loopback_turns_https_off_and_says_so():
    """`make stack` on http://127.0.0.1 sets HTTPS=0: no redirect, HSTS or Secure cookies, which --deploy names."""
    warnings = manage("check", "--deploy", **production_env(HTTPS="0")).stderr
    assert set(re.findall(r"security\.W\d+", warnings)) == {
        "security.W004",  # no HSTS
        "security.W008",  # no redirect to https
        "security.W012",  # session cookie not Secure
        "security.W016",  # CSRF cookie not Secure
    }


def test_behind_a_tls_proxy_and_with_overrides():
    values = settings_under(
        **production_env(TRUST_X_FORWARDED_PROTO="1", HSTS_SECONDS="600", HSTS_PRELOAD="0", SESSION_COOKIE_AGE="3600")
    )
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_HSTS_SECONDS"] == 600 and values["SECURE_HSTS_PRELOAD"] is False
    assert values["SESSION_COOKIE_AGE"] == 3600


def test_a_mistyped_switch_fails_loudly():
    result = manage("check", **production_env(HTTPS="maybe"))
    assert result.returncode != 0 and "HTTPS='maybe' is not a boolean" in result.stderr


# --- HTTPS, HSTS, cookies, headers (in-process, with the production values checked above) ---------


@pytest.fixture
def production_https(settings):
    """The values settings.py derives with HTTPS on (test_https_is_on_by_default_in_production), whatever
    DEBUG the suite runs with; the suite's conftest switches the redirect off for plain-http tests."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.LANGUAGE_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = YEAR
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True


def test_plain_http_is_redirected_to_https_and_https_gets_hsts(production_https, db):
    client = Client()
    redirected = client.get("/accounts/login/?next=/services/")
    assert redirected.status_code == 301
    assert redirected["Location"] == "https://testserver/accounts/login/?next=/services/"
    assert "Strict-Transport-Security" not in redirected  # HSTS over http would mean nothing
    page = client.get("/accounts/login/", secure=True)
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == f"max-age={YEAR}; includeSubDomains; preload"


def test_cookies_are_secure_httponly_and_same_site(production_https, db):
    UserFactory(username="kari")
    client = Client()
    form = client.get("/accounts/login/", secure=True)
    csrf = form.cookies[django_settings.CSRF_COOKIE_NAME]
    assert csrf["secure"] and csrf["samesite"] == "Lax"
    signed_in = client.post("/accounts/login/", {"username": "kari", "password": PASSWORD}, secure=True)
    assert signed_in.status_code == 302
    session = signed_in.cookies[django_settings.SESSION_COOKIE_NAME]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"


def test_every_page_carries_the_protective_headers(client, db):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


# --- Content-Security-Policy ---------------------------------------------------------------------------


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().partition(" ")[::2] for part in header.split(";"))


def test_the_site_policy_allows_nothing_inline_and_nothing_foreign(client, db):
    assert policy(client.get("/accounts/login/")) == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "frame-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"\bhx-on", re.I), "htmx hx-on (needs eval)"),
    (re.compile(r"\bhx-(?:vals|vars)=[\"']\s*js:", re.I), "htmx js: values (need eval)"),
]

TEMPLATE_COMMENT = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}", re.S)


def test_no_template_needs_inline_script_or_style():
    """The pages' templates (e-mails excepted: they are framed under their own policy) stay CSP-clean."""
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        if path.relative_to(TEMPLATES).parts[0] == "emails":
            continue
        text = TEMPLATE_COMMENT.sub("", path.read_text())
        found += [f"{path.relative_to(TEMPLATES)}: {what}" for pattern, what in INLINE if pattern.search(text)]
    assert found == []


def test_htmx_is_configured_not_to_inject_styles_or_evaluate_code(client, db):
    html = client.get("/accounts/login/").content.decode()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html)
    assert config and json.loads(config.group(1)) == {
        "includeIndicatorStyles": False,
        "allowEval": False,
        "allowScriptTags": False,
        # No page snapshots in localStorage, where they would outlive a signed-out session.
        "historyCacheSize": 0,
    }
    htmx = (BASE_DIR / "node_modules/htmx.org/dist/htmx.js").read_text()
    # The option names of the installed htmx, so a rename in an upgrade does not silently drop them.
    for option in ("includeIndicatorStyles", "allowEval", "allowScriptTags"):
        assert f"htmx.config.{option}" in htmx


@time_machine.travel(MONDAY_MORNING, tick=False)
def test_the_report_previews_email_frame_has_its_own_narrow_policy(client, db):
    week = build_week()
    client.force_login(week.users["lead"])
    page = client.get("/reports/preview/", {"user": week.users["kari"].pk, "week": "2026-W48"})
    assert policy(page)["frame-src"] == "'self'" and 'srcdoc="' not in page.content.decode()
    frame = client.get("/reports/preview/html/", {"user": week.users["kari"].pk, "week": "2026-W48"})
    assert frame.status_code == 200 and 'style="' in frame.content.decode()  # the e-mail's own inline styles
    assert policy(frame) == {
        "default-src": "'none'",
        "style-src": "'unsafe-inline'",
        "img-src": "'self' data:",
        "frame-ancestors": "'self'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "sandbox": "",
    }
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    assert frame["Cache-Control"] == "private, no-store"
    # Members may not read other people's reports this way either.
    client.force_login(week.users["kari"])
    assert client.get("/reports/preview/html/", {"user": week.users["siri"].pk}).status_code == 403


def test_the_api_docs_run_under_the_site_policy(client, db):
    page = client.get("/api/docs/")
    assert page.status_code == 200 and policy(page)["script-src"] == "'self'"
    html = page.content.decode()
    assert not [pattern for pattern, _what in INLINE[:3] if pattern.search(html)]
    script = re.search(r'<script src="([^"]*\?[^"]*script[^"]*)"', html)
    assert script, html
    start_up = client.get(script.group(1).replace("&amp;", "&"))
    assert start_up.status_code == 200 and start_up["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in start_up.content.decode()


# --- No shared caching of signed-in responses -------------------------------------------------------


def vary(response) -> set[str]:
    return {part.strip().lower() for part in response.get("Vary", "").split(",") if part.strip()}


def test_signed_in_pages_and_downloads_are_never_stored(client, db):
    ServiceFactory()
    client.force_login(make_lead())
    for path in ("/services/", "/programme/", "/services/export.csv"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Cache-Control"] == "private, no-store", path
        assert {"cookie", "authorization"} <= vary(response), path


def test_api_json_for_a_token_is_private_but_revalidatable(db):
    service = ServiceFactory()
    token = Token.objects.create(user=make_lead())
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    detail = client.get(f"/api/v1/services/{service.pk}/")
    assert detail.status_code == 200 and detail["ETag"]
    assert detail["Cache-Control"] == "private, no-cache"
    assert {"authorization", "cookie"} <= vary(detail)
    listing = client.get("/api/v1/services/")
    assert listing["Cache-Control"] == "private, no-cache"


def test_a_rejected_token_is_not_cached_either(db):
    response = Client(HTTP_AUTHORIZATION="Token not-a-token").get("/api/v1/services/")
    assert response.status_code == 401
    assert response["Cache-Control"] == "private, no-cache" and "authorization" in vary(response)


def test_anonymous_public_responses_are_left_alone(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and "Cache-Control" not in schema
    # The sign-in page sets its own (Django's never_cache), which wins.
    assert "no-store" in client.get("/accounts/login/")["Cache-Control"]
