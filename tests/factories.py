"""factory_boy factories for the catalog. Valid by default; override what a test is about."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from migration_app.choices import PROJECT_LEADS_GROUP, DependencyStrength, MembershipRole, ServiceType
from migration_app.models import Dependency, Membership, PlatformCapability, Service, ServiceOwner


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
