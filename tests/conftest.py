"""Shared fixtures. Tests that need a real server (PostgreSQL, Redis, a Celery worker, SMTP, Chromium)
use ``require_service``: it skips when the server is missing, unless REQUIRE_SERVICES=1 (set by CI),
in which case the test fails instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import os

import pytest

from tests.factories import MembershipFactory, ServiceOwnerFactory, UserFactory, make_lead

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def require_service(name: str, available: bool, why: str = "") -> None:
    """Skip (locally) or fail (REQUIRE_SERVICES=1) when a real server the test needs is missing."""
    if available:
        return
    message = f"{name} is not available{': ' + why if why else ''}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (REQUIRE_SERVICES=1)")
    pytest.skip(message)


def pytest_report_header(config):
    from django.conf import settings

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    broker = settings.CELERY_BROKER_URL.split("@")[-1]
    return [f"tracker: database={database} broker={broker} REQUIRE_SERVICES={int(REQUIRE_SERVICES)}"]


def redis_available() -> bool:
    from django.conf import settings

    if not settings.REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(autouse=True)
def fast_passwords_and_fresh_cache(settings):
    """A fast hasher (the real one costs ~0.2 s per user the factories make) and an empty cache,
    so throttle counters never carry over from one test to the next."""
    from django.core.cache import cache

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session", autouse=True)
def plain_http_test_requests():
    """The test client and the browser tests' live server speak plain http, which the production setting
    SECURE_SSL_REDIRECT would answer with a 301 each time. Only the redirect is switched off: secure
    cookies, HSTS and the rest keep their production values, and tests/test_security_settings.py
    switches the redirect back on to check it. Session-wide, because the live server's SecurityMiddleware
    reads the setting once, when it starts."""
    from django.test import override_settings

    with override_settings(SECURE_SSL_REDIRECT=False):
        yield


@pytest.fixture(autouse=True)
def english_outside_requests():
    """Commands, services and e-mails speak the default language (bokmål) unless told otherwise;
    tests assert on English messages, and the translation tests switch language explicitly."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(scope="module")
def module_db(django_db_setup, django_db_blocker):
    """One transaction around a whole test module, for rows that are slow to write and that every test of
    the module reads: write them in a module-scoped fixture that depends on this one.

    Rolled back when the module ends, so the other modules start from an empty database as usual. Each
    test still runs in its own savepoint inside it (pytest-django's rollback), so whatever a test changes
    is back as written for the next one. The database stays open for the whole module, and the writes get
    what the autouse fixtures above give each test: the fast hasher and English.
    """
    from django.db import transaction
    from django.test import override_settings
    from django.utils import translation

    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]),
        translation.override("en"),
        transaction.atomic(),
    ):
        yield
        transaction.set_rollback(True)


@pytest.fixture
def owner(db):
    return ServiceOwnerFactory(code="skd", name_nb="Skatteetaten", name_en="Norwegian Tax Administration")


@pytest.fixture
def other_owner(db):
    return ServiceOwnerFactory(code="brg", name_nb="Brønnøysundregistrene", name_en="Brønnøysund Register Centre")


@pytest.fixture
def editor(owner):
    return MembershipFactory(user=UserFactory(username="editor"), owner=owner, role="editor").user


@pytest.fixture
def viewer(owner):
    return MembershipFactory(user=UserFactory(username="viewer"), owner=owner, role="viewer").user


@pytest.fixture
def lead(db):
    return make_lead()
