"""Builders shared by the tests: factory_boy factories for the catalog (valid by default; override what a
test is about), the REST API tests' clients and small world, and the weekly reports' constructed week.

Plain functions rather than fixtures, so each test module states the fixtures it uses; fixtures live in
tests/conftest.py.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from migration_app.choices import (
    PROJECT_LEADS_GROUP,
    Altinn3Target,
    CapabilityStatus,
    DependencyStrength,
    MembershipRole,
    MigrationStatus,
    ServiceType,
)
from migration_app.choices import MigrationStatus as S
from migration_app.models import (
    Dependency,
    Membership,
    Milestone,
    PlatformCapability,
    ReportPreference,
    Service,
    ServiceOwner,
)
from migration_app.reports.weeks import ReportWeek
from migration_app.services.catalog import service_change_status
from migration_app.services.dependencies import dependency_add
from migration_app.services.recompute import portfolio_recompute
from migration_app.services.snapshots import progress_snapshot_backfill


class ServiceOwnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceOwner
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"org{n}")
    name_nb = factory.LazyAttribute(lambda o: f"Etat {o.code}")
    name_en = factory.LazyAttribute(lambda o: f"Agency {o.code}")
    orgnr = ""


class CapabilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlatformCapability
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"capability-{n}")
    name_nb = factory.LazyAttribute(lambda o: f"Kapabilitet {o.key}")
    name_en = factory.LazyAttribute(lambda o: f"Capability {o.key}")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    service_code = factory.Sequence(lambda n: str(4000 + n))
    edition_code = 1
    name_nb = factory.Sequence(lambda n: f"Skjema {n}")
    name_en = factory.Sequence(lambda n: f"Form {n}")
    owner = factory.SubFactory(ServiceOwnerFactory)
    service_type = ServiceType.FORM_TASK
    yearly_volume = 1000


class DependencyFactory(factory.django.DjangoModelFactory):
    """Creates the edge row directly; tests of the rules call services.dependency_add instead."""

    class Meta:
        model = Dependency

    service = factory.SubFactory(ServiceFactory)
    depends_on_service = None
    depends_on_capability = None
    strength = DependencyStrength.HARD


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.no")
    password = factory.django.Password("correct horse battery staple")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    owner = factory.SubFactory(ServiceOwnerFactory)
    role = MembershipRole.EDITOR


def make_lead(username: str = "lead") -> object:
    user = UserFactory(username=username)
    user.groups.add(Group.objects.get_or_create(name=PROJECT_LEADS_GROUP)[0])
    return user


# --- The REST API tests (tests/test_api_*.py): clients per role and a small world ---------------------

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
    dependency_add(service=service, depends_on_capability=capability)
    dependency = dependency_add(
        service=service, depends_on_service=upstream, strength=DependencyStrength.SOFT, note="shares a form"
    )
    # Migration 0002 seeds the programme's milestones (a transactional test's flush removes them).
    milestone = Milestone.objects.filter(is_deadline=True).first() or Milestone.objects.create(
        key="altinn2-submissions-close", name_nb="Siste innsending", date=datetime.date(2026, 5, 31), is_deadline=True
    )
    service_change_status(service=spare, to_status=MigrationStatus.ANALYSIS)
    portfolio_recompute(today=datetime.date(2026, 1, 15))
    for obj in (service, upstream, spare, dependency):
        obj.refresh_from_db()
    return World(owner, other_owner, service, upstream, spare, capability, dependency, milestone)


def etag_of(obj: Any) -> str:
    obj.refresh_from_db()
    return f'"{obj.version}"'


# --- The weekly reports' constructed week (tests/test_reports.py, test_emails.py, ...) ---------------
#
# ISO week 48 of 2026 (Monday 23 to Sunday 29 November), reported on Monday 30 November at 07:00 Oslo time.

# Hashing seven passwords properly would take most of each test's time.
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]

OSLO = ZoneInfo("Europe/Oslo")
WEEK = ReportWeek(2026, 48)
MONDAY_MORNING = datetime.datetime(2026, 11, 30, 7, 0, tzinfo=OSLO)
SITE = "https://tracker.example.no"


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime.datetime:
    """A moment of November 2026 (or ``month``) in Oslo."""
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=OSLO)


@dataclass
class Week:
    """The constructed week's people and services, by the letter used in the tests."""

    owners: dict[str, object]
    users: dict[str, object]
    services: dict[str, Service]


def _service(owner, code: str, name_en: str, name_nb: str, status: str, *, volume: int, target_date, **extra):
    # Every private field carries a canary; none of it may ever reach an e-mail.
    return ServiceFactory(
        owner=owner,
        service_code=code,
        edition_code=1,
        name_en=name_en,
        name_nb=name_nb,
        status=status,
        target=Altinn3Target.ALTINN_APP,
        target_date=target_date,
        yearly_volume=volume,
        notes=f"CANARY-NOTES-{code}",
        contact_name=f"CANARY-CONTACT-{code}",
        contact_email=f"canary-{code}@example.no",
        edition_name=f"CANARY-EDITION-{code}",
        **extra,
    )


def build_week(*, snapshots: bool = True) -> Week:
    """Three organisations, two capabilities, ten services and a week of changes (call with time frozen
    at MONDAY_MORNING or later).

    skd (Skatteetaten), the organisation whose report the tests read:
      A 3906 Tax return: development → testing on Tue 24 by Kari; brg's Y waits for it (whom we block).
      B 4001 Sub-form user: waits for sub-forms, delivered Wed 25 → unblocked this week.
      C 4002 Payment user: waits for payment (planned 1 October, passed); target 1 November → overdue.
      D 4003 Waits for brg: a hard edge to brg's X added Wed 25 → became blocked this week.
      E 4004 Due soon: target 10 December → due in 10 days.
      F 4005 Moved this week: testing → in production on Thu 26 by the lead → done this week.
      G 4006 Moved last week: testing → in production on Wed 18 (week 47) by Kari.
    brg: X 5001 (blocks skd's D), Y 5002 (waits for skd's A), Z 5003 (unrelated; changed by Siri).
    nav: N 6001 (unrelated).
    """
    # Migration 0002 seeds this deadline; a transactional test elsewhere may have flushed it.
    Milestone.objects.get_or_create(
        key="altinn2-submissions-close",
        defaults={
            "name_nb": "Siste dag for innsending i Altinn II",
            "date": datetime.date(2026, 5, 31),
            "is_deadline": True,
        },
    )
    skd = ServiceOwnerFactory(code="skd", name_nb="Skatteetaten", name_en="Norwegian Tax Administration")
    brg = ServiceOwnerFactory(code="brg", name_nb="Brønnøysundregistrene", name_en="Brønnøysund Register Centre")
    nav = ServiceOwnerFactory(code="nav", name_nb="Arbeids- og velferdsetaten", name_en="Labour and Welfare")
    kari = UserFactory(username="kari", first_name="Kari", last_name="Nordmann", email="kari@skd.example")
    ola = UserFactory(username="ola", first_name="Ola", last_name="Viewer", email="ola@skd.example")
    siri = UserFactory(username="siri", first_name="Siri", last_name="Brgperson", email="siri@brg.example")
    per = UserFactory(username="per", first_name="Per", last_name="Hagen", email="per@nav.example")
    nomail = UserFactory(username="nomail", email="")
    optout = UserFactory(username="optout", email="optout@skd.example")
    lead = make_lead("ingrid")
    lead.first_name, lead.last_name, lead.email = "Ingrid", "Lund", "ingrid@digdir.example"
    lead.save()
    MembershipFactory(user=kari, owner=skd, role="editor")
    MembershipFactory(user=ola, owner=skd, role="viewer")
    MembershipFactory(user=siri, owner=brg, role="editor")
    MembershipFactory(user=per, owner=nav, role="editor")
    MembershipFactory(user=nomail, owner=skd, role="viewer")
    MembershipFactory(user=optout, owner=skd, role="viewer")
    ReportPreference.objects.create(user=ola, language="en")
    ReportPreference.objects.create(user=optout, receive_weekly=False)

    payment = CapabilityFactory(
        key="payment", name_nb="Betaling", name_en="Payment", status=CapabilityStatus.IN_PROGRESS,
        planned_date=datetime.date(2026, 10, 1),
    )  # fmt: skip
    subforms = CapabilityFactory(
        key="sub-forms", name_nb="Underskjema", name_en="Sub-forms", status=CapabilityStatus.DELIVERED,
        planned_date=datetime.date(2026, 11, 15), delivered_date=datetime.date(2026, 11, 25),
    )  # fmt: skip
    later = datetime.date(2027, 3, 1)
    s = {
        "A": _service(skd, "3906", "Tax return", "Skattemelding", S.DEVELOPMENT, volume=1_234_567, target_date=later),
        "B": _service(
            skd, "4001", "Sub-form user", "Bruker av underskjema", S.ANALYSIS, volume=2000, target_date=later
        ),
        "C": _service(
            skd,
            "4002",
            "Payment user",
            "Betalingsbruker",
            S.DEVELOPMENT,
            volume=3000,
            target_date=datetime.date(2026, 11, 1),
        ),
        "D": _service(skd, "4003", "Waits for brg", "Venter på brg", S.ANALYSIS, volume=4000, target_date=later),
        "E": _service(
            skd, "4004", "Due soon", "Snart frist", S.TESTING, volume=5000, target_date=datetime.date(2026, 12, 10)
        ),
        "F": _service(skd, "4005", "Moved this week", "Flyttet denne uka", S.TESTING, volume=6000, target_date=later),
        "G": _service(skd, "4006", "Moved last week", "Flyttet forrige uke", S.TESTING, volume=7000, target_date=later),
        "X": _service(
            brg, "5001", "Register lookup", "Registeroppslag", S.ANALYSIS, volume=7_654_321, target_date=later
        ),
        "Y": _service(
            brg, "5002", "Company form", "Selskapsskjema", S.DEVELOPMENT, volume=7_654_322, target_date=later
        ),
        "Z": _service(brg, "5003", "Unrelated brg", "Urelatert brg", S.ANALYSIS, volume=7_654_323, target_date=later),
        "N": _service(nav, "6001", "Unrelated nav", "Urelatert nav", S.ANALYSIS, volume=7_654_324, target_date=later),
    }
    DependencyFactory(service=s["B"], depends_on_capability=subforms)
    DependencyFactory(service=s["C"], depends_on_capability=payment)
    DependencyFactory(service=s["Y"], depends_on_service=s["A"])
    added_this_week = DependencyFactory(service=s["D"], depends_on_service=s["X"])
    # The catalog existed long before the week; only D's edge is new.
    Service.objects.update(created_at=at(1, month=10))
    Dependency.objects.update(created_at=at(1, month=10))
    Dependency.objects.filter(pk=added_this_week.pk).update(created_at=at(25, 9))

    service_change_status(service=s["G"], to_status=S.IN_PRODUCTION, user=kari, at=at(18, 13))
    service_change_status(service=s["A"], to_status=S.TESTING, user=kari, at=at(24, 10, 15))
    service_change_status(service=s["Z"], to_status=S.DEVELOPMENT, user=siri, at=at(25, 11))
    service_change_status(service=s["F"], to_status=S.IN_PRODUCTION, user=lead, at=at(26, 14))
    if snapshots:
        progress_snapshot_backfill(first=datetime.date(2026, 11, 15), last=datetime.date(2026, 11, 29))
    for obj in s.values():
        obj.refresh_from_db()
    return Week(
        owners={"skd": skd, "brg": brg, "nav": nav},
        users={"kari": kari, "ola": ola, "siri": siri, "per": per, "lead": lead, "nomail": nomail, "optout": optout},
        services=s,
    )
