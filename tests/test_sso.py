"""Single sign-on with OpenID Connect, against a real provider over HTTP on loopback (tests/fake_oidc.py).

The flow tests drive what a browser does: open the sign-in page, follow its single sign-on link to the
provider's authorize endpoint, let the provider redirect back with a code, and open our callback, which
redeems the code over HTTP with the provider. Configuration always goes through tracker/settings.py
itself (run afresh with OIDC_* variables), so the tests exercise the settings a deployment would get.
"""

from __future__ import annotations

import html
import importlib
import os
import re
import runpy
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import NoReverseMatch, clear_url_caches, reverse

from migration_app.choices import PROJECT_LEADS_GROUP, MembershipRole
from migration_app.models import Membership
from migration_app.sso.claims import (
    SsoClaimsError,
    SsoMappingRules,
    claim_values,
    organisation_keys,
    sso_profile_from_claims,
    sso_username,
)
from tests.factories import MembershipFactory, ServiceOwnerFactory, UserFactory, make_lead
from tests.fake_oidc import FakeOidcProvider, rsa_key

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "tracker" / "settings.py"
SSO_BACKEND = "migration_app.sso.backend.SsoBackend"
# Skatteetaten's, NAV's and Brønnøysundregistrene's organisation numbers.
SKD_ORGNR, NAV_ORGNR, BRG_ORGNR = "974761076", "889640782", "974757486"
# The fake provider's claim names, as an agency's directory might send them.
MAPPING_ENV = {"OIDC_ORG_CLAIM": "orgs", "OIDC_ROLE_CLAIM": "groups", "OIDC_EDITOR_GROUPS": "tracker-editors"}
FAILED = "did not succeed"


def settings_from_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict[str, Any]:
    """Run tracker/settings.py afresh with exactly these OIDC_* variables, as a starting process would."""
    for name in [name for name in os.environ if name.startswith("OIDC_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


def reload_urls() -> None:
    """tracker/urls.py decides at import whether single sign-on's URLs exist; import it again."""
    import tracker.urls

    importlib.reload(tracker.urls)
    clear_url_caches()


@pytest.fixture(scope="module")
def provider_server() -> Iterator[FakeOidcProvider]:
    with FakeOidcProvider() as provider:
        yield provider


@pytest.fixture
def provider(provider_server: FakeOidcProvider) -> FakeOidcProvider:
    provider_server.reset()
    return provider_server


@pytest.fixture
def configure_sso(provider, monkeypatch, db) -> Iterator[Callable[..., None]]:
    """Enable single sign-on against the fake provider; call again to change a variable."""
    with ExitStack() as stack:

        def configure(**env: str) -> None:
            values = settings_from_environment(monkeypatch, {**provider.environment(), **MAPPING_ENV, **env})
            overrides = {name: value for name, value in values.items() if name.startswith("OIDC_")}
            stack.enter_context(
                override_settings(**overrides, AUTHENTICATION_BACKENDS=values["AUTHENTICATION_BACKENDS"])
            )
            reload_urls()

        yield configure
    reload_urls()


@pytest.fixture
def sso(configure_sso) -> None:
    configure_sso()


@pytest.fixture
def client() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def owners(db) -> dict[str, Any]:
    return {
        "skd": ServiceOwnerFactory(code="skd", name_nb="Skatteetaten", orgnr=SKD_ORGNR),
        "nav": ServiceOwnerFactory(code="nav", name_nb="NAV", orgnr=NAV_ORGNR),
        "brg": ServiceOwnerFactory(code="brg", name_nb="Brønnøysundregistrene", orgnr=BRG_ORGNR),
    }


def start_sign_in(client: Client, provider: FakeOidcProvider, next_url: str = "") -> str:
    """Open the sign-in page, click its single sign-on link and let the provider answer: returns the
    callback URL (path and query) the provider redirected the browser to."""
    login_page = client.get(reverse("login") + (f"?next={next_url}" if next_url else ""))
    link = re.search(r'href="([^"]*/accounts/sso/start/[^"]*)"', login_page.content.decode())
    assert link, "the sign-in page has no single sign-on link"
    start = client.get(html.unescape(link.group(1)))
    assert start.status_code == 302
    assert start["Location"].startswith(provider.url("/authorize?"))
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert at_provider.status_code == 302, at_provider.text
    callback = urlsplit(at_provider.headers["Location"])
    assert (callback.scheme, callback.netloc) == ("http", "testserver")
    return f"{callback.path}?{callback.query}"


def sign_in(client: Client, provider: FakeOidcProvider, next_url: str = ""):
    return client.get(start_sign_in(client, provider, next_url))


def signed_in_user(client: Client):
    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id) if user_id else None


def memberships(user) -> dict[str, tuple[str, str]]:
    return {m.owner.code: (m.role, m.source) for m in Membership.objects.filter(user=user).select_related("owner")}


def assert_refused(client: Client, response) -> None:
    """A refused sign-in: back on the sign-in page with one message, and nobody signed in."""
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert signed_in_user(client) is None
    assert FAILED in client.get(response["Location"]).content.decode()


# --- The mapping rules, pure ----------------------------------------------------------------------------

RULES = SsoMappingRules(
    username_claim="pid",
    username_hash_key=b"k" * 32,
    org_claim="orgs",
    role_claim="groups",
    editor_groups=frozenset({"editors"}),
    lead_groups=frozenset({"leads"}),
)


def test_account_name_is_a_keyed_hash_of_the_identity_claim():
    name = sso_username("23079410918", claim="pid", key=b"k" * 32)
    assert name.startswith("sso-") and "23079410918" not in name
    assert name == sso_username("23079410918", claim="pid", key=b"k" * 32)
    # Without the key the number cannot be found by hashing every possible one, and another claim
    # with the same value is another person.
    assert name != sso_username("23079410918", claim="pid", key=b"x" * 32)
    assert name != sso_username("23079410918", claim="sub", key=b"k" * 32)


def test_claim_values_accept_arrays_numbers_and_separated_strings():
    assert claim_values({"orgs": ["skd", 974761076, {"nested": 1}, " "]}, "orgs") == ["skd", "974761076"]
    assert claim_values({"orgs": "skd, nav  brg"}, "orgs") == ["skd", "nav", "brg"]
    assert claim_values({"orgs": None}, "orgs") == []
    assert claim_values({"orgs": ["skd"]}, "") == []


def test_organisations_by_number_with_or_without_iso6523_prefix_or_by_code():
    orgnrs, codes = organisation_keys(["0192:974761076", "889640782", "SKD", "12345"])
    assert orgnrs == {"974761076", "889640782"}
    assert codes == {"skd", "12345"}


def test_profile_from_claims():
    claims = {
        "pid": "23079410918",
        "given_name": "Kari",
        "family_name": "Nordmann",
        "email": "kari@skatteetaten.no",
        "orgs": ["974761076", "nav"],
        "groups": ["editors", "leads"],
    }
    profile = sso_profile_from_claims(claims, RULES)
    assert profile.username == sso_username("23079410918", claim="pid", key=b"k" * 32)
    assert (profile.first_name, profile.last_name, profile.email) == ("Kari", "Nordmann", "kari@skatteetaten.no")
    assert (profile.orgnrs, profile.org_codes) == ({"974761076"}, {"nav"})
    assert profile.role == MembershipRole.EDITOR
    assert profile.is_lead is True


def test_profile_defaults_to_viewer_and_leaves_lead_status_alone_without_lead_groups():
    rules = SsoMappingRules(username_claim="sub", username_hash_key=b"k" * 32, role_claim="groups")
    profile = sso_profile_from_claims({"sub": "a", "groups": ["leads", "editors"]}, rules)
    assert profile.role == MembershipRole.VIEWER
    assert profile.is_lead is None


def test_profile_role_names_in_a_shared_claim_are_not_organisations():
    # Entra ID app roles: organisations and roles in one "roles" claim.
    rules = SsoMappingRules(
        username_claim="sub",
        username_hash_key=b"k" * 32,
        org_claim="roles",
        role_claim="roles",
        editor_groups=frozenset({"Tracker.Editor"}),
    )
    profile = sso_profile_from_claims({"sub": "a", "roles": ["974761076", "Tracker.Editor"]}, rules)
    assert (profile.orgnrs, profile.org_codes, profile.role) == ({"974761076"}, frozenset(), MembershipRole.EDITOR)


def test_profile_names_from_full_name_and_no_unverified_email():
    profile = sso_profile_from_claims(
        {"pid": "1", "name": "Ola Johan Nordmann", "email": "ola@example.no", "email_verified": False}, RULES
    )
    assert (profile.first_name, profile.last_name, profile.email) == ("Ola Johan", "Nordmann", "")


def test_profile_needs_the_identity_claim():
    with pytest.raises(SsoClaimsError, match="'pid'"):
        sso_profile_from_claims({"sub": "a", "email": "kari@example.no"}, RULES)


# --- Configuration ----------------------------------------------------------------------------------------


def test_disabled_by_default_installs_nothing(monkeypatch):
    values = settings_from_environment(monkeypatch, {})
    assert values["OIDC_ENABLED"] is False
    assert SSO_BACKEND not in values["AUTHENTICATION_BACKENDS"]
    assert values["AUTHENTICATION_BACKENDS"][0] == "axes.backends.AxesStandaloneBackend"
    assert not [name for name in values if name.startswith("OIDC_") and name != "OIDC_ENABLED"]


def test_enabled_adds_the_backend_after_the_lockout_and_password_backends(monkeypatch, provider):
    values = settings_from_environment(monkeypatch, provider.environment())
    backends = values["AUTHENTICATION_BACKENDS"]
    assert backends[0] == "axes.backends.AxesStandaloneBackend"
    assert backends[-1] == SSO_BACKEND
    assert values["OIDC_REQUIRE_MEMBERSHIP"] is True
    assert values["OIDC_USE_PKCE"] is True


@pytest.mark.parametrize(
    "name",
    [
        "OIDC_PROVIDER_NAME",
        "OIDC_RP_CLIENT_ID",
        "OIDC_RP_CLIENT_SECRET",
        "OIDC_OP_ISSUER",
        "OIDC_OP_AUTHORIZATION_ENDPOINT",
        "OIDC_OP_TOKEN_ENDPOINT",
        "OIDC_OP_JWKS_ENDPOINT",
        "OIDC_USERNAME_HASH_KEY",
    ],
)
def test_enabled_without_a_required_value_names_it(monkeypatch, provider, name):
    env = provider.environment()
    del env[name]
    with pytest.raises(ImproperlyConfigured, match=name):
        settings_from_environment(monkeypatch, env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OIDC_OP_TOKEN_ENDPOINT", "http://idp.example.no/token"),
        ("OIDC_RP_SIGN_ALGO", "HS256"),
        ("OIDC_RP_SCOPES", "profile email"),
        ("OIDC_USERNAME_HASH_KEY", "short"),
        ("OIDC_REQUIRE_MEMBERSHIP", "maybe"),
    ],
)
def test_enabled_with_an_unsafe_or_malformed_value_names_it(monkeypatch, provider, name, value):
    with pytest.raises(ImproperlyConfigured, match=name):
        settings_from_environment(monkeypatch, {**provider.environment(), name: value})


@pytest.mark.django_db
def test_disabled_has_no_urls_and_no_button(client):
    reload_urls()
    with pytest.raises(NoReverseMatch):
        reverse("sso:start")
    assert client.get("/accounts/sso/start/").status_code == 404
    assert client.get("/accounts/sso/callback/?code=x&state=y").status_code == 404
    page = client.get(reverse("login")).content.decode()
    assert "/accounts/sso/" not in page
    assert "Log in with" not in page


def test_oidc_discover_prints_the_environment(provider):
    out, err = StringIO(), StringIO()
    call_command("oidc_discover", provider.issuer, stdout=out, stderr=err)
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    assert lines == {
        "OIDC_OP_ISSUER": provider.issuer,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": provider.url("/authorize"),
        "OIDC_OP_TOKEN_ENDPOINT": provider.url("/token"),
        "OIDC_OP_JWKS_ENDPOINT": provider.url("/jwks"),
        "OIDC_OP_USER_ENDPOINT": provider.url("/userinfo"),
        "OIDC_OP_LOGOUT_ENDPOINT": provider.url("/logout"),
    }
    assert err.getvalue() == ""


def test_oidc_discover_refuses_a_document_for_another_issuer(provider):
    with pytest.raises(CommandError, match="names the issuer"):
        # A trailing slash is enough to be another issuer: ID tokens would then never match.
        call_command("oidc_discover", provider.issuer + "/", stdout=StringIO())


# --- Signing in -----------------------------------------------------------------------------------------


def test_first_sign_in_creates_the_account_with_the_memberships_from_the_claims(sso, provider, owners, client):
    provider.identity = {
        "sub": "kari-1",
        "given_name": "Kari",
        "family_name": "Nordmann",
        "email": "kari@skatteetaten.no",
        "orgs": [SKD_ORGNR, "nav"],
        "groups": ["tracker-editors"],
    }
    response = sign_in(client, provider, next_url="/services/")

    assert response.status_code == 302
    assert response["Location"] == "/services/"
    user = signed_in_user(client)
    assert user.username.startswith("sso-") and "kari-1" not in user.username
    assert (user.first_name, user.last_name, user.email) == ("Kari", "Nordmann", "kari@skatteetaten.no")
    assert not user.has_usable_password()
    assert memberships(user) == {"skd": ("editor", "sso"), "nav": ("editor", "sso")}
    assert client.get(reverse("migration_app:home")).status_code == 200
    # The code was redeemed with the client's secret and the PKCE verifier, for our callback.
    (token_request,) = provider.token_requests
    assert token_request["code_verifier"]
    assert token_request["redirect_uri"] == "http://testserver/accounts/sso/callback/"


def test_next_sign_in_synchronises_sso_memberships_and_keeps_manual_ones(sso, provider, owners, client):
    ssb = ServiceOwnerFactory(code="ssb", name_nb="Statistisk sentralbyrå")
    provider.identity = {"sub": "kari-1", "orgs": [SKD_ORGNR, NAV_ORGNR], "groups": ["tracker-editors"]}
    sign_in(client, provider)
    user = signed_in_user(client)
    # An administrator makes her an editor in Brønnøysundregistrene and a viewer in SSB by hand.
    MembershipFactory(user=user, owner=owners["brg"], role=MembershipRole.EDITOR)
    MembershipFactory(user=user, owner=ssb, role=MembershipRole.VIEWER)
    client.logout()

    # The directory now lists NAV and Brønnøysundregistrene, not SSB, and no longer the editor group.
    provider.identity = {"sub": "kari-1", "given_name": "Kari", "orgs": [NAV_ORGNR, BRG_ORGNR], "groups": []}
    sign_in(client, provider)

    assert signed_in_user(client) == user
    assert memberships(user) == {
        "nav": ("viewer", "sso"),  # role corrected
        "brg": ("editor", "manual"),  # the administrator's role stands against the directory's
        "ssb": ("viewer", "manual"),  # kept though the directory does not list it
    }  # Skatteetaten, which came from single sign-on, is gone
    user.refresh_from_db()
    assert user.first_name == "Kari"


def test_sign_in_with_an_organisation_the_tracker_does_not_know_ignores_it(sso, provider, owners, client, caplog):
    provider.identity = {"sub": "kari-1", "orgs": [SKD_ORGNR, "0192:999999999", "nosuchorg"]}
    with caplog.at_level("WARNING", logger="migration_app.sso.services"):
        sign_in(client, provider)
    assert memberships(signed_in_user(client)) == {"skd": ("viewer", "sso")}
    assert "999999999, nosuchorg" in caplog.text


def test_lead_groups_grant_and_withdraw_lead_status(configure_sso, provider, owners, client):
    configure_sso(OIDC_LEAD_GROUPS="programme-team")
    provider.identity = {"sub": "lead-1", "groups": ["programme-team"]}
    sign_in(client, provider)
    user = signed_in_user(client)
    assert user.groups.filter(name=PROJECT_LEADS_GROUP).exists()
    client.logout()

    provider.identity = {"sub": "lead-1", "orgs": ["skd"], "groups": []}
    sign_in(client, provider)
    assert not user.groups.filter(name=PROJECT_LEADS_GROUP).exists()


def test_without_lead_groups_single_sign_on_never_changes_lead_status(sso, provider, owners, client):
    provider.identity = {"sub": "lead-1", "orgs": ["skd"], "groups": ["programme-team"]}
    sign_in(client, provider)
    user = signed_in_user(client)
    assert not user.groups.filter(name=PROJECT_LEADS_GROUP).exists()
    user.groups.add(make_lead("someone").groups.get())  # made a lead by an administrator
    client.logout()

    sign_in(client, provider)
    assert user.groups.filter(name=PROJECT_LEADS_GROUP).exists()


def test_no_membership_is_refused_with_a_page_and_no_account(sso, provider, owners, client):
    provider.identity = {"sub": "stranger", "orgs": [], "given_name": "Ola"}
    response = sign_in(client, provider)

    assert response.status_code == 403
    page = response.content.decode()
    assert "not a member of any organisation" in page
    reference = sso_username("stranger", claim="sub", key=provider.environment()["OIDC_USERNAME_HASH_KEY"].encode())
    assert reference in page
    assert signed_in_user(client) is None
    assert not get_user_model().objects.filter(username=reference).exists()


def test_a_withdrawn_last_membership_is_removed_and_the_sign_in_refused(sso, provider, owners, client):
    provider.identity = {"sub": "kari-1", "orgs": ["skd"]}
    sign_in(client, provider)
    user = signed_in_user(client)
    client.logout()

    provider.identity = {"sub": "kari-1", "orgs": []}
    assert sign_in(client, provider).status_code == 403
    assert memberships(user) == {}
    assert signed_in_user(client) is None


def test_no_membership_may_sign_in_as_a_reader_when_not_required(configure_sso, provider, owners, client):
    configure_sso(OIDC_REQUIRE_MEMBERSHIP="0")
    provider.identity = {"sub": "reader"}
    sign_in(client, provider)
    user = signed_in_user(client)
    assert memberships(user) == {}
    # Like any signed-in user without an organisation: the organisation chooser, read-only.
    page = client.get(reverse("migration_app:home"))
    assert page.status_code == 200
    assert page.templates[0].name == "migration_app/owner_choose.html"


def test_a_local_account_with_the_same_email_is_never_taken_over(sso, provider, owners, client):
    local = UserFactory(username="kari", email="kari@skatteetaten.no")
    MembershipFactory(user=local, owner=owners["nav"], role=MembershipRole.EDITOR)
    provider.identity = {"sub": "someone", "email": "kari@skatteetaten.no", "orgs": ["skd"]}
    sign_in(client, provider)

    user = signed_in_user(client)
    assert user != local
    assert memberships(local) == {"nav": ("editor", "manual")}
    assert memberships(user) == {"skd": ("viewer", "sso")}


def test_sign_in_rotates_the_session_id(sso, provider, owners, client):
    from importlib import import_module

    provider.identity = {"sub": "kari-1", "orgs": ["skd"]}
    callback = start_sign_in(client, provider)
    before = client.cookies[settings.SESSION_COOKIE_NAME].value  # the session holding state and nonce
    client.get(callback)
    after = client.cookies[settings.SESSION_COOKIE_NAME].value

    assert signed_in_user(client) is not None
    assert after != before
    assert not import_module(settings.SESSION_ENGINE).SessionStore().exists(before)


def test_an_inactive_account_cannot_sign_in_and_its_sessions_end(sso, provider, owners, client):
    provider.identity = {"sub": "kari-1", "orgs": ["skd"]}
    sign_in(client, provider)
    user = signed_in_user(client)
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)

    # The session no longer signs anyone in.
    assert client.get(reverse("migration_app:service_list"))["Location"].startswith(reverse("login"))
    other_browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert_refused(other_browser, sign_in(other_browser, provider))


def test_a_password_sign_in_never_redeems_a_code_in_its_url(sso, provider, owners, client):
    # Only the callback hands the backend a nonce; a password form posted to a URL carrying a code and
    # state must not make the tracker redeem that code at the provider.
    callback = urlsplit(start_sign_in(client, provider))
    response = client.post(f"{reverse('login')}?{callback.query}", {"username": "nobody", "password": "wrong"})
    assert response.status_code == 200
    assert provider.token_requests == []
    assert signed_in_user(client) is None


# --- Refused callbacks: nobody signed in, no account created ----------------------------------------------


def _wrong_nonce(provider):
    provider.id_token_overrides = {"nonce": "not-the-nonce-we-sent"}


def _signed_by_another_key(provider):
    provider.sign_with = rsa_key()


def _expired(provider):
    now = int(time.time())
    provider.id_token_overrides = {"iat": now - 7200, "exp": now - 3600}


def _wrong_audience(provider):
    provider.id_token_overrides = {"aud": "another-client"}


def _shared_audience_without_azp(provider):
    provider.id_token_overrides = {"aud": [provider.client_id, "another-client"]}


def _wrong_issuer(provider):
    provider.id_token_overrides = {"iss": "http://127.0.0.1:9/"}


def _no_subject(provider):
    provider.id_token_overrides = {"sub": None}


def _userinfo_about_someone_else(provider):
    provider.userinfo_overrides = {"sub": "someone-else"}


@pytest.mark.parametrize(
    "tamper",
    [
        _wrong_nonce,
        _signed_by_another_key,
        _expired,
        _wrong_audience,
        _shared_audience_without_azp,
        _wrong_issuer,
        _no_subject,
        _userinfo_about_someone_else,
    ],
)
def test_a_bad_id_token_is_refused(sso, provider, owners, client, tamper):
    provider.identity = {"sub": "kari-1", "orgs": ["skd"]}
    tamper(provider)
    users_before = get_user_model().objects.count()

    assert_refused(client, sign_in(client, provider))
    assert get_user_model().objects.count() == users_before


def test_failed_sign_ins_count_towards_the_lockout_per_address(sso, provider, owners, client):
    # Each failure cost a request to the provider; like failed passwords they lock the address for a while.
    provider.id_token_overrides = {"aud": "another-client"}
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, provider)
    provider.id_token_overrides = {}
    provider.identity = {"sub": "kari-1", "orgs": ["skd"]}
    response = sign_in(client, provider)
    assert response.status_code == settings.AXES_HTTP_RESPONSE_CODE
    assert signed_in_user(client) is None


def test_a_shared_audience_is_accepted_when_authorised_for_us(sso, provider, owners, client):
    provider.identity = {"sub": "kari-1", "orgs": ["skd"]}
    provider.id_token_overrides = {"aud": [provider.client_id, "another-client"], "azp": provider.client_id}
    sign_in(client, provider)
    assert signed_in_user(client) is not None


def test_a_level_of_assurance_below_the_required_is_refused(configure_sso, provider, owners, client):
    configure_sso(OIDC_ACR_VALUES="idporten-loa-high")
    provider.identity = {"sub": "kari-1", "orgs": ["skd"], "acr": "idporten-loa-substantial"}
    callback = start_sign_in(client, provider)
    assert_refused(client, client.get(callback))

    provider.identity = {"sub": "kari-1", "orgs": ["skd"], "acr": "idporten-loa-high"}
    sign_in(client, provider)
    assert signed_in_user(client) is not None


def test_a_forged_state_is_refused(sso, provider, owners, client):
    provider.identity = {"sub": "kari-1", "orgs": ["skd"]}
    callback = urlsplit(start_sign_in(client, provider))
    code = parse_qs(callback.query)["code"][0]
    assert_refused(client, client.get(callback.path, {"code": code, "state": "made-up"}))


def test_a_replayed_callback_is_refused(sso, provider, owners, client):
    provider.identity = {"sub": "kari-1", "orgs": ["skd"]}
    callback = start_sign_in(client, provider)
    client.get(callback)
    client.logout()
    assert_refused(client, client.get(callback))


def test_a_callback_from_another_browsers_sign_in_is_refused(sso, provider, owners, client):
    # Someone sends their own sign-in's callback link to a victim (login CSRF), or two sign-ins cross:
    # the state belongs to the session that started the sign-in, so the victim's browser stays signed out.
    provider.identity = {"sub": "attacker", "orgs": ["skd"]}
    attackers_callback = start_sign_in(Client(), provider)
    victim = client
    victim.get(reverse("login"))
    assert_refused(victim, victim.get(attackers_callback))


def test_a_cancelled_sign_in_at_the_provider_is_refused(sso, provider, owners, client):
    callback = urlsplit(start_sign_in(client, provider))
    state = parse_qs(callback.query)["state"][0]
    assert_refused(client, client.get(callback.path, {"error": "access_denied", "state": state}))


# --- Signing out ----------------------------------------------------------------------------------------


def test_sign_out_after_single_sign_on_offers_the_providers_sign_out(sso, provider, owners, client):
    provider.identity = {"sub": "kari-1", "orgs": ["skd"]}
    sign_in(client, provider)
    response = client.post(reverse("logout"))

    assert response.status_code == 200
    assert signed_in_user(client) is None
    assert "no-store" in response["Cache-Control"]
    link = re.search(r'href="(http://127\.0\.0\.1:\d+/logout\?[^"]+)"', response.content.decode())
    query = parse_qs(urlsplit(html.unescape(link.group(1))).query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
    assert requests.get(html.unescape(link.group(1)), timeout=5).json() == {"signed_out": True, "id_token_hint": True}
    assert client.get(reverse("migration_app:service_list"))["Location"].startswith(reverse("login"))


def test_sign_out_of_a_password_session_is_unchanged(sso, owners, client, editor):
    client.force_login(editor, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert signed_in_user(client) is None
