"""Helpers shared by the REST API tests (tests/test_api_*.py): clients per role and a small world.

Plain functions rather than fixtures, so each test module states the fixtures it uses; this module
holds no tests of its own.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from migration_app import services
from migration_app.choices import CapabilityStatus, DependencyStrength, MigrationStatus, ServiceType
from migration_app.models import Dependency, Milestone, PlatformCapability, Service, ServiceOwner
from tests.factories import CapabilityFactory, MembershipFactory, ServiceFactory, UserFactory

API = "/api/v1"


def client_for(user: Any | None, *, session: bool = False) -> APIClient:
    """An API client: anonymous for None, else with the user's token (or a session, like a browser).

    Messages come in English (the tracker's default language is bokmål).
    """
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is None:
        return client
    if session:
        client.force_login(user)
        return client
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT_LANGUAGE="en")
    return client


def api_test_setup(settings: Any) -> None:
    """For every API test (called from each module's autouse fixture):

    * throttle counters live in the cache and user ids repeat between tests: start afresh;
    * the matrix makes five users per test, and Django's real password hasher costs 0.2 s a user.
    """
    cache.clear()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def other_editor_for(owner: ServiceOwner) -> Any:
    """An editor of ``owner`` (used with conftest's other_owner: "editor of another organisation")."""
    return MembershipFactory(user=UserFactory(username="other-editor"), owner=owner, role="editor").user


@dataclass
class World:
    """Objects every endpoint can be pointed at: ``service`` (owner's, needs ``capability`` and
    ``upstream``), ``upstream`` (other_owner's), an edge ``dependency``, the deadline ``milestone``."""

    owner: ServiceOwner
    other_owner: ServiceOwner
    service: Service
    upstream: Service
    spare: Service
    capability: PlatformCapability
    dependency: Dependency
    milestone: Milestone


def make_world(owner: ServiceOwner, other_owner: ServiceOwner) -> World:
    capability = CapabilityFactory(key="payment", status=CapabilityStatus.IN_PROGRESS)
    service = ServiceFactory(
        service_code="3906",
        edition_code=2,
        owner=owner,
        name_nb="Mva-melding",
        target="AltinnApp",
        target_date=datetime.date(2026, 3, 1),
        yearly_volume=500_000,
    )
    upstream = ServiceFactory(service_code="5000", owner=other_owner, yearly_volume=1000)
    spare = ServiceFactory(service_code="3907", owner=owner, service_type=ServiceType.CORRESPONDENCE)
    services.dependency_add(service=service, depends_on_capability=capability)
    dependency = services.dependency_add(
        service=service, depends_on_service=upstream, strength=DependencyStrength.SOFT, note="shares a form"
    )
    # Migration 0002 seeds the programme's milestones (a transactional test's flush removes them).
    milestone = Milestone.objects.filter(is_deadline=True).first() or Milestone.objects.create(
        key="altinn2-submissions-close", name_nb="Siste innsending", date=datetime.date(2026, 5, 31), is_deadline=True
    )
    services.service_change_status(service=spare, to_status=MigrationStatus.ANALYSIS)
    services.portfolio_recompute(today=datetime.date(2026, 1, 15))
    for obj in (service, upstream, spare, dependency):
        obj.refresh_from_db()
    return World(owner, other_owner, service, upstream, spare, capability, dependency, milestone)


def etag_of(obj: Any) -> str:
    obj.refresh_from_db()
    return f'"{obj.version}"'
