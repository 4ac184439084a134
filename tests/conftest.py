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
