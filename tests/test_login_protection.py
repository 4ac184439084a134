"""Sign-in protection: django-axes locks an account, and an address, after five failed sign-ins for
fifteen minutes; the session id changes at sign-in and dies at sign-out; weak passwords are refused.

Every sign-in here goes through the real form (or the admin's), from an address given as REMOTE_ADDR,
because that is what an attacker has to use.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"
WRONG = "incorrect horse"
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def kari(db):
    return UserFactory(username="kari")


@pytest.fixture
def ola(db):
    return UserFactory(username="ola")


def sign_in(username: str, password: str, address: str, client: Client | None = None, path: str = "/accounts/login/"):
    client = client or Client()
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(times: int, username: str, address: str) -> list[int]:
    return [sign_in(username, WRONG, address).status_code for _ in range(times)]


def signed_in(response) -> bool:
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


# --- Lockout ---------------------------------------------------------------------------------------


def test_five_failures_lock_the_account_from_every_address(kari):
    # Four wrong passwords are answered with the form again; the fifth locks.
    assert fail(5, "kari", "198.51.100.1") == [200, 200, 200, 200, 429]
    # The right password is refused too, from another address, on the site and in the admin.
    from_elsewhere = sign_in("kari", PASSWORD, "203.0.113.9")
    assert from_elsewhere.status_code == 429 and not from_elsewhere.wsgi_request.user.is_authenticated
    assert sign_in("kari", PASSWORD, "203.0.113.10", path="/admin/login/").status_code == 429


def test_five_failures_from_one_address_lock_that_address_for_every_account(kari, ola):
    for username in ("kari", "nobody", "admin", "root", "test"):
        sign_in(username, WRONG, "198.51.100.2")
    # ola never mistyped, but her right password from that address is refused...
    assert sign_in("ola", PASSWORD, "198.51.100.2").status_code == 429
    # ...while from her own address she signs in.
    assert signed_in(sign_in("ola", PASSWORD, "203.0.113.20"))


def test_the_lockout_page_says_how_long_to_wait_in_the_users_language(kari):
    fail(4, "kari", "198.51.100.3")
    page = Client().post(
        "/accounts/login/",
        {"username": "kari", "password": WRONG},
        REMOTE_ADDR="198.51.100.3",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert page.status_code == 429 and page["Retry-After"] == "900"
    text = page.content.decode()
    assert "Try again in 15 minutes" in text and 'href="/accounts/password-reset/"' in text
    norwegian = (
        Client()
        .post("/accounts/login/", {"username": "kari", "password": WRONG}, REMOTE_ADDR="198.51.100.3")
        .content.decode()
    )
    assert "Prøv igjen om 15 minutter" in norwegian


def test_an_unknown_username_is_locked_like_a_real_one(kari):
    """The lockout must not tell a guesser which usernames exist."""
    assert fail(5, "kari", "198.51.100.4")[-1] == fail(5, "no-such-user", "198.51.100.5")[-1] == 429


def test_the_lock_ends_after_the_cool_off(kari):
    with time_machine.travel(START, tick=False) as clock:
        fail(5, "kari", "198.51.100.6")
        clock.shift(datetime.timedelta(minutes=14))
        assert sign_in("kari", PASSWORD, "198.51.100.6").status_code == 429
        # Attempts during the lock do not extend it: fifteen minutes after the locking failure it is over.
        clock.shift(datetime.timedelta(minutes=1, seconds=1))
        assert signed_in(sign_in("kari", PASSWORD, "198.51.100.6"))


def test_a_successful_sign_in_clears_the_failures(kari):
    fail(4, "kari", "198.51.100.7")
    assert signed_in(sign_in("kari", PASSWORD, "198.51.100.7"))
    assert not AccessAttempt.objects.filter(username="kari").exists()
    # Four more mistakes are again only four.
    assert fail(4, "kari", "198.51.100.7") == [200] * 4
    assert signed_in(sign_in("kari", PASSWORD, "198.51.100.7"))


def test_a_made_up_forwarded_for_does_not_dodge_the_address_lock(kari, ola):
    """With NUM_PROXIES=0 (no proxy of ours in front) X-Forwarded-For is the client's own invention."""
    for n, username in enumerate(("a", "b", "c", "d", "e")):
        Client().post(
            "/accounts/login/",
            {"username": username, "password": WRONG},
            REMOTE_ADDR="198.51.100.8",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    assert sign_in("ola", PASSWORD, "198.51.100.8").status_code == 429


def test_behind_a_proxy_the_address_it_forwards_is_the_one_locked(settings, kari, ola):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.2"

    def through_proxy(username: str, password: str, client_address: str):
        # The client may send its own X-Forwarded-For; our proxy appends the address it saw.
        forwarded = f"192.0.2.77, {client_address}"
        return Client().post(
            "/accounts/login/",
            {"username": username, "password": password},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    for username in ("a", "b", "c", "d", "e"):
        through_proxy(username, WRONG, "198.51.100.9")
    assert AccessAttempt.objects.filter(ip_address="198.51.100.9").count() == 5
    assert through_proxy("ola", PASSWORD, "198.51.100.9").status_code == 429
    # Everyone else behind the same proxy is unaffected.
    assert signed_in(through_proxy("ola", PASSWORD, "198.51.100.10"))


def test_admins_see_attempts_and_sign_ins_in_the_admin(kari):
    fail(2, "kari", "198.51.100.11")
    admin = get_user_model().objects.create_superuser("boss", "boss@example.no", PASSWORD)
    client = Client()
    assert signed_in(sign_in("boss", PASSWORD, "203.0.113.30", client=client))
    attempts = client.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200 and "198.51.100.11" in attempts.content.decode()
    assert client.get("/admin/axes/accesslog/").status_code == 200
    assert AccessLog.objects.filter(username=admin.username, ip_address="203.0.113.30").exists()


# --- Session -------------------------------------------------------------------------------------------


def test_the_session_id_changes_at_sign_in(kari):
    """A session id planted before sign-in (session fixation) is worthless afterwards."""
    client = Client()
    client.get("/accounts/login/", REMOTE_ADDR="203.0.113.40")
    session = client.session
    session["planted"] = True
    session.save()
    before = session.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = before
    assert signed_in(sign_in("kari", PASSWORD, "203.0.113.40", client=client))
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()


def test_signing_out_kills_the_session(kari):
    client = Client()
    assert signed_in(sign_in("kari", PASSWORD, "203.0.113.41", client=client))
    stolen = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(session_key=stolen).exists()
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = stolen
    response = thief.get("/services/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_sign_in_lasts_a_working_day_and_ends_with_the_browser(kari):
    client = Client()
    with time_machine.travel(START, tick=False):
        response = sign_in("kari", PASSWORD, "203.0.113.42", client=client)
        cookie = response.cookies[settings.SESSION_COOKIE_NAME]
        # No Max-Age/Expires: the browser forgets it when closed.
        assert cookie["max-age"] == "" and cookie["expires"] == ""
        assert cookie["httponly"] and cookie["samesite"] == "Lax"
        row = Session.objects.get(session_key=cookie.value)
        assert row.expire_date == START + datetime.timedelta(hours=8)
    with time_machine.travel(START + datetime.timedelta(hours=8, seconds=1), tick=False):
        assert client.get("/services/").status_code == 302


# --- Password validators -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weak", "reason"),
    [
        ("kari@example.no", "the same as the e-mail address"),
        ("abc123", "too short"),
        ("password1", "too common"),
        ("4815162342", "entirely numeric"),
    ],
)
def test_the_password_reset_refuses_a_weak_password(kari, weak, reason):
    client = Client()
    link = f"/accounts/reset/{urlsafe_base64_encode(force_bytes(kari.pk))}/{default_token_generator.make_token(kari)}/"
    form = client.get(link, follow=True)
    assert form.status_code == 200 and form.context["validlink"]
    refused = client.post(form.redirect_chain[-1][0], {"new_password1": weak, "new_password2": weak})
    assert refused.status_code == 200, reason
    assert refused.context["form"].errors["new_password2"], reason
    kari.refresh_from_db()
    assert kari.check_password(PASSWORD), reason
