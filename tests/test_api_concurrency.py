"""Concurrent edits: ETags, If-Match (428 when missing, 412 when stale, with the current representation),
and two clients racing on one service: exactly one wins, nothing is silently overwritten."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from migration_app.models import Dependency, PlatformCapability, Service, StatusChange
from migration_app.services.catalog import service_update
from migration_app.services.dependencies import dependency_add
from tests.conftest import require_service
from tests.factories import API, api_test_setup, client_for, make_world

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _api_setup(settings):
    api_test_setup(settings)


@pytest.fixture
def world(owner, other_owner):
    return make_world(owner, other_owner)


def service_url(world) -> str:
    return f"{API}/services/{world.service.pk}/"


# --- 428: no version named --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "services/{service}/", {"notes": "x"}),
        ("put", "services/{service}/", {"owner": "skd", "name_nb": "X", "service_type": "FormTask"}),
        ("post", "services/{service}/transition/", {"status": "analysis"}),
        ("patch", "services/by-key/3906/2/", {"notes": "x"}),
        ("patch", "dependencies/{dependency}/", {"note": "x"}),
        ("delete", "dependencies/{dependency}/", None),
        ("patch", "capabilities/{capability}/", {"name_nb": "x"}),
        ("delete", "capabilities/{capability}/", None),
    ],
)
def test_write_without_if_match_is_428_and_changes_nothing(world, lead, method, path, body):
    url = f"{API}/" + path.format(
        service=world.service.pk, dependency=world.dependency.pk, capability=world.capability.pk
    )
    before = (Service.objects.get(pk=world.service.pk).version, Dependency.objects.count())
    response = getattr(client_for(lead), method)(url, body, format="json")
    assert response.status_code == 428
    assert "If-Match" in response.json()["detail"]
    assert (Service.objects.get(pk=world.service.pk).version, Dependency.objects.count()) == before
    assert PlatformCapability.objects.get(pk=world.capability.pk).name_nb != "x"


def test_if_match_star_is_not_accepted(world, lead):
    response = client_for(lead).patch(service_url(world), {"notes": "x"}, format="json", HTTP_IF_MATCH="*")
    assert response.status_code == 428


# --- 412: a stale version ----------------------------------------------------------------------------------


def test_stale_if_match_is_412_with_the_current_representation(world, lead):
    version = world.service.version
    service_update(service=world.service, data={"notes": "someone else's note"})
    response = client_for(lead).patch(
        service_url(world), {"notes": "mine"}, format="json", HTTP_IF_MATCH=f'"{version}"'
    )
    assert response.status_code == 412
    body = response.json()
    assert body["current"]["notes"] == "someone else's note"
    assert body["current"]["version"] == version + 1
    assert response["ETag"] == f'"{version + 1}"'
    assert Service.objects.get(pk=world.service.pk).notes == "someone else's note"


def test_stale_transition_is_412_and_writes_no_history(world, editor):
    stale = f'"{world.service.version}"'
    service_update(service=world.service, data={"notes": "changed"})
    response = client_for(editor).post(
        f"{API}/services/{world.service.pk}/transition/", {"status": "analysis"}, format="json", HTTP_IF_MATCH=stale
    )
    assert response.status_code == 412
    assert response.json()["current"]["status"] == "not_started"
    assert not StatusChange.objects.filter(service=world.service).exists()


def test_version_in_the_body_instead_of_if_match(world, editor):
    client = client_for(editor)
    ok = client.patch(service_url(world), {"notes": "a", "version": world.service.version}, format="json")
    assert ok.status_code == 200
    stale = client.patch(service_url(world), {"notes": "b", "version": world.service.version}, format="json")
    assert stale.status_code == 412
    assert stale.json()["current"]["notes"] == "a"


@pytest.mark.parametrize("header", ['W/"{v}"', "{v}", '"999", "{v}"'])
def test_if_match_forms(world, editor, header):
    """A weak tag, a bare number and a list containing the current tag are all read as that version."""
    response = client_for(editor).patch(
        service_url(world), {"notes": "x"}, format="json", HTTP_IF_MATCH=header.format(v=world.service.version)
    )
    assert response.status_code == 200


def test_etag_from_a_read_is_what_a_write_needs(world, editor):
    client = client_for(editor)
    tag = client.get(service_url(world))["ETag"]
    first = client.patch(service_url(world), {"notes": "1"}, format="json", HTTP_IF_MATCH=tag)
    assert first.status_code == 200
    # The write's own ETag is the next If-Match; the old one is now stale.
    assert client.patch(service_url(world), {"notes": "2"}, format="json", HTTP_IF_MATCH=tag).status_code == 412
    second = client.patch(service_url(world), {"notes": "2"}, format="json", HTTP_IF_MATCH=first["ETag"])
    assert second.status_code == 200


def test_dependency_changes_bump_the_service_version(world, editor):
    """Adding or removing an edge changes the service's readiness, so a form opened before is stale."""
    client = client_for(editor)
    tag = client.get(service_url(world))["ETag"]
    created = client.post(
        f"{API}/dependencies/", {"service": world.service.pk, "depends_on_service": world.spare.pk}, format="json"
    )
    assert created.status_code == 201
    assert client.patch(service_url(world), {"notes": "x"}, format="json", HTTP_IF_MATCH=tag).status_code == 412


def test_stale_dependency_delete_is_412_and_keeps_the_edge(world, editor):
    client = client_for(editor)
    tag = client.get(f"{API}/dependencies/{world.dependency.pk}/")["ETag"]
    changed = client.patch(
        f"{API}/dependencies/{world.dependency.pk}/", {"note": "new"}, format="json", HTTP_IF_MATCH=tag
    )
    assert changed.status_code == 200
    response = client.delete(f"{API}/dependencies/{world.dependency.pk}/", HTTP_IF_MATCH=tag)
    assert response.status_code == 412
    assert response.json()["current"]["note"] == "new"
    assert Dependency.objects.filter(pk=world.dependency.pk).exists()
    assert client.delete(f"{API}/dependencies/{world.dependency.pk}/", HTTP_IF_MATCH=changed["ETag"]).status_code == 204


def test_making_an_edge_hard_is_checked_for_cycles(world, lead):
    back = dependency_add(service=world.upstream, depends_on_service=world.service, strength="soft")
    response = client_for(lead).patch(
        f"{API}/dependencies/{world.dependency.pk}/", {"strength": "hard"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200  # service → upstream hard; upstream → service is soft: no cycle
    response = client_for(lead).patch(
        f"{API}/dependencies/{back.pk}/", {"strength": "hard"}, format="json", HTTP_IF_MATCH=f'"{back.version}"'
    )
    assert response.status_code == 400
    assert "cycle" in str(response.json())
    back.refresh_from_db()
    assert back.strength == "soft"


def test_stale_capability_update_is_412(world, lead):
    client = client_for(lead)
    tag = client.get(f"{API}/capabilities/{world.capability.pk}/")["ETag"]
    assert (
        client.patch(
            f"{API}/capabilities/{world.capability.pk}/", {"status": "delivered"}, format="json", HTTP_IF_MATCH=tag
        ).status_code
        == 200
    )
    response = client.patch(
        f"{API}/capabilities/{world.capability.pk}/", {"planned_date": "2027-01-01"}, format="json", HTTP_IF_MATCH=tag
    )
    assert response.status_code == 412
    assert response.json()["current"]["status"] == "delivered"
    assert response.json()["current"]["delivered_date"] is not None


# --- Two clients racing ---------------------------------------------------------------------------------------


def test_two_clients_with_the_same_version_exactly_one_wins(world, editor, lead):
    """Both read version v and write: the second write is refused with the first one's result."""
    alice, bob = client_for(editor), client_for(lead)
    tag_alice = alice.get(service_url(world))["ETag"]
    tag_bob = bob.get(service_url(world))["ETag"]
    assert tag_alice == tag_bob
    first = alice.patch(service_url(world), {"notes": "Alice"}, format="json", HTTP_IF_MATCH=tag_alice)
    second = bob.patch(service_url(world), {"notes": "Bob", "yearly_volume": 1}, format="json", HTTP_IF_MATCH=tag_bob)
    assert (first.status_code, second.status_code) == (200, 412)
    assert second.json()["current"]["notes"] == "Alice"
    stored = Service.objects.get(pk=world.service.pk)
    assert (stored.notes, stored.yearly_volume) == ("Alice", 500_000)


def test_the_database_compare_and_set_holds_when_the_early_check_passes(world, lead, monkeypatch):
    """Another write lands after the view compared If-Match but before it saved: the UPDATE ... WHERE
    version = n finds nothing, and the client gets 412, not a silent overwrite."""
    from migration_app.api import views

    real = views.expected_version

    def check_then_someone_else_writes(request, current):
        version = real(request, current)
        service_update(service=Service.objects.get(pk=world.service.pk), data={"notes": "in between"})
        return version

    monkeypatch.setattr(views, "expected_version", check_then_someone_else_writes)
    response = client_for(lead).patch(
        service_url(world), {"notes": "late"}, format="json", HTTP_IF_MATCH=f'"{world.service.version}"'
    )
    assert response.status_code == 412
    assert response.json()["current"]["notes"] == "in between"
    assert Service.objects.get(pk=world.service.pk).notes == "in between"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("operation", ["patch", "transition"])
def test_threaded_race_on_postgresql(owner, other_owner, editor, lead, monkeypatch, operation):
    """Two threads, two connections, the same version: one 200, one 412, one change stored."""
    require_service("PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL to a postgres:// URL")
    # The race is about the row, not the recompute each commit would queue.
    monkeypatch.setattr("migration_app.services.recompute.portfolio_recompute_request", lambda: None)
    world = make_world(owner, other_owner)
    tag = f'"{world.service.version}"'
    clients = [client_for(editor), client_for(lead)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def write(index: int) -> None:
        try:
            client = clients[index]
            barrier.wait(timeout=10)
            if operation == "patch":
                response = client.patch(
                    service_url(world), {"notes": f"writer {index}"}, format="json", HTTP_IF_MATCH=tag
                )
            else:
                response = client.post(
                    f"{API}/services/{world.service.pk}/transition/",
                    {"status": "analysis", "comment": f"writer {index}"},
                    format="json",
                    HTTP_IF_MATCH=tag,
                )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200, 412]
    stored = Service.objects.get(pk=world.service.pk)
    assert stored.version == world.service.version + 1
    if operation == "transition":
        assert StatusChange.objects.filter(service=world.service).count() == 1
    else:
        assert stored.notes in ("writer 0", "writer 1")


def test_an_edge_removed_by_someone_else_mid_request_is_404(world, editor, monkeypatch):
    from migration_app.api import views

    real = views.expected_version

    def check_then_someone_else_deletes(request, current):
        version = real(request, current)
        Dependency.objects.filter(pk=world.dependency.pk).delete()
        return version

    monkeypatch.setattr(views, "expected_version", check_then_someone_else_deletes)
    response = client_for(editor).delete(
        f"{API}/dependencies/{world.dependency.pk}/", HTTP_IF_MATCH=f'"{world.dependency.version}"'
    )
    assert response.status_code == 404
