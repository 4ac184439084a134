"""Writes through services: compare-and-set edits and the dependency graph's rules."""

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections

from migration_app.choices import DependencyStrength
from migration_app.models import Dependency, Service
from migration_app.services.catalog import service_update
from migration_app.services.checks import StaleVersionError
from migration_app.services.dependencies import DependencyCycleError, dependency_add, dependency_remove
from tests.conftest import require_service
from tests.factories import CapabilityFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def test_update_bumps_version_and_saves_fields(editor, owner):
    service = ServiceFactory(owner=owner)
    service_update(service=service, data={"notes": "Venter på betaling", "yearly_volume": 5}, user=editor)
    service.refresh_from_db()
    assert (service.notes, service.yearly_volume, service.version) == ("Venter på betaling", 5, 2)


def test_stale_edit_is_refused_and_the_first_edit_survives(owner):
    service = ServiceFactory(owner=owner)
    first, second = Service.objects.get(pk=service.pk), Service.objects.get(pk=service.pk)
    service_update(service=first, data={"notes": "first"}, expected_version=1)
    with pytest.raises(StaleVersionError) as excinfo:
        service_update(service=second, data={"notes": "second"}, expected_version=1)
    assert (excinfo.value.expected, excinfo.value.current) == (1, 2)
    assert Service.objects.get(pk=service.pk).notes == "first"


def test_invalid_field_value_names_the_field(owner):
    service = ServiceFactory(owner=owner)
    with pytest.raises(ValidationError) as excinfo:
        service_update(service=service, data={"contact_email": "not-an-address"})
    assert "contact_email" in excinfo.value.message_dict
    assert Service.objects.get(pk=service.pk).version == 1


def test_status_and_version_cannot_be_edited_as_fields(owner):
    service = ServiceFactory(owner=owner)
    with pytest.raises(ValidationError):
        service_update(service=service, data={"status": "in_production"})


def test_editor_cannot_edit_or_move_services_to_another_organisation(editor, owner, other_owner):
    foreign = ServiceFactory(owner=other_owner)
    with pytest.raises(PermissionDenied):
        service_update(service=foreign, data={"notes": "x"}, user=editor)
    own = ServiceFactory(owner=owner)
    with pytest.raises(PermissionDenied):
        service_update(service=own, data={"owner": other_owner}, user=editor)
    assert Service.objects.get(pk=own.pk).owner == owner


def test_a_service_cannot_depend_on_itself():
    service = ServiceFactory()
    with pytest.raises(ValidationError) as excinfo:
        dependency_add(service=service, depends_on_service=service)
    assert "depends_on_service" in excinfo.value.message_dict


def test_edge_closing_a_cycle_is_refused_naming_the_cycle():
    a, b, c = ServiceFactory(service_code="A1"), ServiceFactory(service_code="B2"), ServiceFactory(service_code="C3")
    dependency_add(service=a, depends_on_service=b)
    dependency_add(service=b, depends_on_service=c)
    with pytest.raises(DependencyCycleError) as excinfo:
        dependency_add(service=c, depends_on_service=a)
    assert [s.service_code for s in excinfo.value.cycle] == ["C3", "A1", "B2", "C3"]
    assert "C3/1 → A1/1 → B2/1 → C3/1" in excinfo.value.messages[0]
    assert Dependency.objects.count() == 2


def test_soft_edges_may_point_back_and_do_not_count_for_cycles():
    a, b = ServiceFactory(), ServiceFactory()
    dependency_add(service=a, depends_on_service=b)
    dependency_add(service=b, depends_on_service=a, strength=DependencyStrength.SOFT)
    # A soft edge in the other direction does not let a hard one through later.
    c = ServiceFactory()
    dependency_add(service=b, depends_on_service=c, strength=DependencyStrength.SOFT)
    dependency_add(service=c, depends_on_service=a)
    assert Dependency.objects.count() == 4


def test_duplicate_edges_are_refused():
    a, b = ServiceFactory(), ServiceFactory()
    payment = CapabilityFactory(key="payment")
    dependency_add(service=a, depends_on_service=b)
    dependency_add(service=a, depends_on_capability=payment)
    with pytest.raises(ValidationError):
        dependency_add(service=a, depends_on_service=b, strength=DependencyStrength.SOFT)
    with pytest.raises(ValidationError):
        dependency_add(service=a, depends_on_capability=payment)


def test_adding_and_removing_an_edge_bumps_the_dependent_version(editor, owner):
    a = ServiceFactory(owner=owner)
    edge = dependency_add(service=a, depends_on_capability=CapabilityFactory(), user=editor)
    assert Service.objects.get(pk=a.pk).version == 2
    dependency_remove(dependency=edge, user=editor)
    assert Service.objects.get(pk=a.pk).version == 3
    assert not Dependency.objects.exists()


def test_viewer_cannot_add_dependencies(viewer, owner):
    with pytest.raises(PermissionDenied):
        dependency_add(service=ServiceFactory(owner=owner), depends_on_capability=CapabilityFactory(), user=viewer)


@pytest.mark.django_db(transaction=True)
def test_concurrent_edits_on_postgresql_exactly_one_wins():
    """Two real connections race on one version: one update lands, the other is told it is stale."""
    require_service("PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL")
    service = ServiceFactory()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def edit(note: str) -> None:
        try:
            stale = Service.objects.get(pk=service.pk)
            barrier.wait()
            service_update(service=stale, data={"notes": note}, expected_version=1)
            outcomes.append("saved")
        except StaleVersionError:
            outcomes.append("stale")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=edit, args=(n,)) for n in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["saved", "stale"]
    assert Service.objects.get(pk=service.pk).version == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_opposite_edges_on_postgresql_never_form_a_cycle():
    """A → B and B → A added at the same moment: the graph lock lets exactly one through."""
    require_service("PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL")
    a, b = ServiceFactory(), ServiceFactory()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def add(source: Service, target: Service) -> None:
        try:
            barrier.wait()
            dependency_add(service=source, depends_on_service=target)
            outcomes.append("added")
        except DependencyCycleError:
            outcomes.append("cycle")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=pair) for pair in ((a, b), (b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["added", "cycle"]
    assert Dependency.objects.count() == 1
