"""The permission matrix: every endpoint × method × {anonymous, viewer, editor of the owner, editor of
another owner, lead}, plus the layers behind it (queryset, serializer, service)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from migration_app.models import Dependency, Service, ServiceOwner
from migration_app.services.catalog import service_create
from migration_app.services.dependencies import dependency_add
from migration_app.services.roadmap import capability_update
from tests.factories import (
    API,
    MembershipFactory,
    ServiceOwnerFactory,
    World,
    api_test_setup,
    client_for,
    etag_of,
    make_world,
    other_editor_for,
)

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "viewer", "editor", "other_editor", "lead")

# Who gets what, by kind of operation. None means "the operation's success code".
READ = {"anonymous": 401, "viewer": None, "editor": None, "other_editor": None, "lead": None}
CATALOG_WRITE = {"anonymous": 401, "viewer": 403, "editor": None, "other_editor": 403, "lead": None}
LEAD_WRITE = {"anonymous": 401, "viewer": 403, "editor": 403, "other_editor": 403, "lead": None}
OWN = {"anonymous": 401, "viewer": None, "editor": None, "other_editor": None, "lead": None}
# Services are retired through the lifecycle: DELETE is refused to those who could write, 405 to them.
RETIRED = {"anonymous": 401, "viewer": 403, "editor": 405, "other_editor": 405, "lead": 405}

METADATA_ROW = {
    "ServiceOwnerCode": "SKD",
    "ServiceOwnerName": "Skatteetaten",
    "ServiceName": "Ny tjeneste",
    "ServiceCode": "7777",
    "ServiceEditionCode": 1,
    "ServiceType": "FormTask",
}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: Callable[[World], str]
    access: dict[str, int | None]
    success: int = 200
    body: Callable[[World], Any] | None = None
    if_match: Callable[[World], str] | None = None
    format: str = "json"


def _service_put(w: World) -> dict[str, Any]:
    return {"owner": "skd", "name_nb": "Mva-melding 2", "service_type": "FormTask", "yearly_volume": 600_000}


CASES = [
    # --- reads: everyone signed in ---
    Case("owners list", "get", lambda w: f"{API}/owners/", READ),
    Case("owner", "get", lambda w: f"{API}/owners/{w.owner.pk}/", READ),
    Case("services list", "get", lambda w: f"{API}/services/?owner=skd&readiness=blocked", READ),
    Case("service", "get", lambda w: f"{API}/services/{w.service.pk}/", READ),
    Case("service by key", "get", lambda w: f"{API}/services/by-key/3906/2/", READ),
    Case("service readiness", "get", lambda w: f"{API}/services/{w.service.pk}/readiness/", READ),
    Case("service history", "get", lambda w: f"{API}/services/{w.spare.pk}/history/", READ),
    Case("history", "get", lambda w: f"{API}/history/?owner=skd", READ),
    Case("capabilities list", "get", lambda w: f"{API}/capabilities/", READ),
    Case("capability", "get", lambda w: f"{API}/capabilities/{w.capability.pk}/", READ),
    Case("dependencies list", "get", lambda w: f"{API}/dependencies/?owner=skd", READ),
    Case("dependency", "get", lambda w: f"{API}/dependencies/{w.dependency.pk}/", READ),
    Case("milestones list", "get", lambda w: f"{API}/milestones/", READ),
    Case("milestone", "get", lambda w: f"{API}/milestones/{w.milestone.pk}/", READ),
    Case("leverage", "get", lambda w: f"{API}/leverage/", READ),
    Case("slip impact", "get", lambda w: f"{API}/slip-impact/?capability={w.capability.pk}", READ),
    Case("waves", "get", lambda w: f"{API}/waves/", READ),
    Case("progress", "get", lambda w: f"{API}/progress/", READ),
    Case("progress history", "get", lambda w: f"{API}/progress/history/?scope=overall", READ),
    Case("forecast", "get", lambda w: f"{API}/forecast/", READ),
    Case("export csv", "get", lambda w: f"{API}/services/export.csv?owner=skd", READ),
    Case("export xlsx", "get", lambda w: f"{API}/services/export.xlsx", READ),
    # --- the owner's services and dependencies: its editors and leads ---
    Case(
        "service create",
        "post",
        lambda w: f"{API}/services/",
        CATALOG_WRITE,
        201,
        body=lambda w: {
            "service_code": "9999",
            "edition_code": 1,
            "owner": "skd",
            "name_nb": "Ny",
            "service_type": "FormTask",
        },
    ),
    Case(
        "service put",
        "put",
        lambda w: f"{API}/services/{w.service.pk}/",
        CATALOG_WRITE,
        body=_service_put,
        if_match=lambda w: etag_of(w.service),
    ),
    Case(
        "service patch",
        "patch",
        lambda w: f"{API}/services/{w.service.pk}/",
        CATALOG_WRITE,
        body=lambda w: {"notes": "Venter på betaling"},
        if_match=lambda w: etag_of(w.service),
    ),
    Case(
        "service patch by key",
        "patch",
        lambda w: f"{API}/services/by-key/3906/2/",
        CATALOG_WRITE,
        body=lambda w: {"yearly_volume": 1},
        if_match=lambda w: etag_of(w.service),
    ),
    Case(
        "service transition",
        "post",
        lambda w: f"{API}/services/{w.service.pk}/transition/",
        CATALOG_WRITE,
        body=lambda w: {"status": "analysis", "comment": "Kartlegging startet"},
        if_match=lambda w: etag_of(w.service),
    ),
    Case(
        "service transition by key",
        "post",
        lambda w: f"{API}/services/by-key/3906/2/transition/",
        CATALOG_WRITE,
        body=lambda w: {"status": "decommissioned"},
        if_match=lambda w: etag_of(w.service),
    ),
    Case("service delete", "delete", lambda w: f"{API}/services/{w.service.pk}/", RETIRED, 405),
    Case(
        "dependency create",
        "post",
        lambda w: f"{API}/dependencies/",
        CATALOG_WRITE,
        201,
        body=lambda w: {"service": w.service.pk, "depends_on_service": w.spare.pk, "strength": "hard"},
    ),
    Case(
        "dependency put",
        "put",
        lambda w: f"{API}/dependencies/{w.dependency.pk}/",
        CATALOG_WRITE,
        body=lambda w: {"strength": "hard", "note": "Trenger skjemaet"},
        if_match=lambda w: etag_of(w.dependency),
    ),
    Case(
        "dependency patch",
        "patch",
        lambda w: f"{API}/dependencies/{w.dependency.pk}/",
        CATALOG_WRITE,
        body=lambda w: {"note": "Avklart"},
        if_match=lambda w: etag_of(w.dependency),
    ),
    Case(
        "dependency delete",
        "delete",
        lambda w: f"{API}/dependencies/{w.dependency.pk}/",
        CATALOG_WRITE,
        204,
        if_match=lambda w: etag_of(w.dependency),
    ),
    # --- reference data and the bulk import: leads only ---
    Case(
        "owner create",
        "post",
        lambda w: f"{API}/owners/",
        LEAD_WRITE,
        201,
        body=lambda w: {"code": "nyorg", "name_nb": "Ny etat"},
    ),
    Case(
        "owner put",
        "put",
        lambda w: f"{API}/owners/{w.other_owner.pk}/",
        LEAD_WRITE,
        body=lambda w: {"code": "brg", "name_nb": "Brønnøysundregistrene", "active": True},
    ),
    Case(
        "owner patch",
        "patch",
        lambda w: f"{API}/owners/{w.other_owner.pk}/",
        LEAD_WRITE,
        body=lambda w: {"name_en": "The Brønnøysund Register Centre"},
    ),
    Case(
        "owner delete",
        "delete",
        lambda w: f"{API}/owners/{ServiceOwnerFactory(code='tom').pk}/",
        LEAD_WRITE,
        204,
    ),
    Case(
        "capability create",
        "post",
        lambda w: f"{API}/capabilities/",
        LEAD_WRITE,
        201,
        body=lambda w: {"key": "signing", "name_nb": "Signering"},
    ),
    Case(
        "capability put",
        "put",
        lambda w: f"{API}/capabilities/{w.capability.pk}/",
        LEAD_WRITE,
        body=lambda w: {"key": "payment", "name_nb": "Betaling", "status": "delivered"},
        if_match=lambda w: etag_of(w.capability),
    ),
    Case(
        "capability patch",
        "patch",
        lambda w: f"{API}/capabilities/{w.capability.pk}/",
        LEAD_WRITE,
        body=lambda w: {"planned_date": "2026-04-01"},
        if_match=lambda w: etag_of(w.capability),
    ),
    Case(
        "capability delete",
        "delete",
        lambda w: f"{API}/capabilities/{w.capability.pk}/",
        LEAD_WRITE,
        204,
        if_match=lambda w: etag_of(w.capability),
    ),
    Case(
        "milestone create",
        "post",
        lambda w: f"{API}/milestones/",
        LEAD_WRITE,
        201,
        body=lambda w: {"key": "test-freeze", "name_nb": "Kodefrys", "date": "2026-04-15"},
    ),
    Case(
        "milestone put",
        "put",
        lambda w: f"{API}/milestones/{w.milestone.pk}/",
        LEAD_WRITE,
        body=lambda w: {
            "key": w.milestone.key,
            "name_nb": "Siste innsending",
            "date": "2026-05-31",
            "is_deadline": True,
        },
    ),
    Case(
        "milestone patch",
        "patch",
        lambda w: f"{API}/milestones/{w.milestone.pk}/",
        LEAD_WRITE,
        body=lambda w: {"date": "2026-06-20"},
    ),
    Case("milestone delete", "delete", lambda w: f"{API}/milestones/{w.milestone.pk}/", LEAD_WRITE, 204),
    Case(
        "bulk import",
        "post",
        lambda w: f"{API}/services/import/?dry_run=1",
        LEAD_WRITE,
        body=lambda w: [METADATA_ROW],
    ),
    # --- one's own token ---
    Case("token status", "get", lambda w: f"{API}/tokens/", OWN),
    Case("token create", "post", lambda w: f"{API}/tokens/", OWN, 201),
    Case("token revoke", "delete", lambda w: f"{API}/tokens/", OWN, 204),
]


@pytest.fixture(autouse=True)
def _api_setup(settings):
    api_test_setup(settings)


@pytest.fixture
def world(owner, other_owner) -> World:
    return make_world(owner, other_owner)


@pytest.fixture
def users(viewer, editor, other_owner, lead) -> dict[str, Any]:
    return {
        "anonymous": None,
        "viewer": viewer,
        "editor": editor,
        "other_editor": other_editor_for(other_owner),
        "lead": lead,
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_permission_matrix(case: Case, role: str, world: World, users: dict[str, Any]):
    client = client_for(users[role])
    headers = {"HTTP_IF_MATCH": case.if_match(world)} if case.if_match else {}
    body = case.body(world) if case.body else None
    response = getattr(client, case.method)(case.url(world), body, format=case.format, **headers)
    expected = case.access[role] or case.success
    assert response.status_code == expected, (role, response.status_code, response.content[:300])


def test_anonymous_gets_401_with_a_token_challenge(world):
    response = client_for(None).get(f"{API}/services/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


# --- The layers behind the matrix ----------------------------------------------------------------------


def test_editor_cannot_create_a_service_for_another_organisation(world, editor):
    response = client_for(editor).post(
        f"{API}/services/",
        {"service_code": "8888", "edition_code": 1, "owner": "brg", "name_nb": "X", "service_type": "FormTask"},
        format="json",
    )
    assert response.status_code == 403
    assert "your own organisation" in response.json()["detail"]
    assert not Service.objects.filter(service_code="8888").exists()


def test_editor_cannot_move_own_service_to_another_organisation(world, editor):
    response = client_for(editor).patch(
        f"{API}/services/{world.service.pk}/", {"owner": "brg"}, format="json", HTTP_IF_MATCH=etag_of(world.service)
    )
    assert response.status_code == 403
    world.service.refresh_from_db()
    assert world.service.owner == world.owner


def test_editor_of_both_organisations_may_move_a_service(world, editor):
    MembershipFactory(user=editor, owner=world.other_owner, role="editor")
    response = client_for(editor).patch(
        f"{API}/services/{world.service.pk}/", {"owner": "brg"}, format="json", HTTP_IF_MATCH=etag_of(world.service)
    )
    assert response.status_code == 200
    assert response.json()["owner"] == "brg"


def test_editor_may_depend_on_another_organisations_service_but_not_edit_its_edges(world, editor):
    client = client_for(editor)
    # Dependencies cross organisations: our service may need theirs...
    response = client.post(
        f"{API}/dependencies/", {"service": world.service.pk, "depends_on_service": world.spare.pk}, format="json"
    )
    assert response.status_code == 201
    # ...but an edge of their service is theirs to change.
    theirs = dependency_add(service=world.upstream, depends_on_capability=world.capability)
    response = client.delete(f"{API}/dependencies/{theirs.pk}/", HTTP_IF_MATCH=f'"{theirs.version}"')
    assert response.status_code == 403
    assert Dependency.objects.filter(pk=theirs.pk).exists()
    response = client.post(
        f"{API}/dependencies/", {"service": world.upstream.pk, "depends_on_service": world.spare.pk}, format="json"
    )
    assert response.status_code == 403


def test_writes_look_objects_up_in_the_writable_queryset(world, editor):
    """403 for someone else's service, 404 for none at all: existence is not hidden (everyone reads)."""
    client = client_for(editor)
    theirs = client.patch(f"{API}/services/{world.upstream.pk}/", {"notes": "x"}, format="json", HTTP_IF_MATCH='"1"')
    assert theirs.status_code == 403
    missing = client.patch(f"{API}/services/999999/", {"notes": "x"}, format="json", HTTP_IF_MATCH='"1"')
    assert missing.status_code == 404


def test_viewer_reads_everything_including_other_organisations(world, viewer):
    client = client_for(viewer)
    assert client.get(f"{API}/services/{world.upstream.pk}/").status_code == 200
    listed = client.get(f"{API}/services/").json()
    assert {row["owner"] for row in listed["results"]} == {"skd", "brg"}


def test_session_authentication_works_and_enforces_csrf(world, editor):
    client = client_for(editor, session=True)
    assert client.get(f"{API}/services/{world.service.pk}/").status_code == 200
    client.handler.enforce_csrf_checks = True
    response = client.patch(
        f"{API}/services/{world.service.pk}/", {"notes": "x"}, format="json", HTTP_IF_MATCH=etag_of(world.service)
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_the_service_layer_refuses_too(world, viewer):
    """Even a caller that skipped the API's checks is stopped by services."""
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        service_create(
            data={"service_code": "1", "edition_code": 1, "owner": world.owner, "name_nb": "X", "service_type": "Link"},
            user=viewer,
        )
    with pytest.raises(PermissionDenied):
        capability_update(capability=world.capability, data={"name_nb": "Y"}, user=viewer)


def test_owner_with_services_cannot_be_deleted(world, lead):
    response = client_for(lead).delete(f"{API}/owners/{world.owner.pk}/")
    assert response.status_code == 400
    assert "still owns 2 services" in response.json()["non_field_errors"][0]
    assert ServiceOwner.objects.filter(pk=world.owner.pk).exists()


def test_superuser_counts_as_lead(world):
    from tests.factories import UserFactory

    admin = UserFactory(username="admin", is_superuser=True)
    response = client_for(admin).post(f"{API}/services/import/?dry_run=1", [], format="json")
    assert response.status_code == 200
    assert response.json()["total_rows"] == 0
