"""Services over the API: representation, filters, search, sort, paging, by-key, create, update,
transitions, readiness and history, and the list's constant query count."""

from __future__ import annotations

import datetime

import pytest
from django.db.models import F

from migration_app.choices import DependencyStrength, MigrationStatus, ServiceType
from migration_app.models import PortfolioState, Service, StatusChange
from migration_app.services.catalog import service_change_status
from migration_app.services.dependencies import dependency_add
from migration_app.services.recompute import portfolio_recompute
from tests.factories import (
    API,
    CapabilityFactory,
    ServiceFactory,
    ServiceOwnerFactory,
    api_test_setup,
    client_for,
    etag_of,
    make_world,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _api_setup(settings):
    api_test_setup(settings)


@pytest.fixture
def world(owner, other_owner):
    return make_world(owner, other_owner)


def codes(response) -> list[str]:
    return [f"{row['service_code']}/{row['edition_code']}" for row in response.json()["results"]]


# --- Representation --------------------------------------------------------------------------------------


def test_service_representation_embeds_readiness_and_carries_its_version(world, viewer):
    response = client_for(viewer).get(f"{API}/services/{world.service.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert response["ETag"] == f'"{body["version"]}"'
    assert body["owner"] == "skd"
    assert body["owner_id"] == world.owner.pk
    assert body["status"] == "not_started"
    assert body["target_date"] == "2026-03-01"
    assert body["created_at"].endswith("Z")
    readiness = body["readiness"]
    assert readiness["state"] == "blocked"
    assert [b["kind"] for b in readiness["blockers"]] == ["capability"]
    assert readiness["blockers"][0]["capability_key"] == "payment"
    assert {p["label"] for p in readiness["parts"]} == {"lifecycle progress", "planning complete", "dependencies met"}
    assert readiness["capability_blocker_count"] == 1


def test_a_service_keeps_its_documented_key_order(world, viewer):
    # Scripts and spreadsheets that show a service as it comes see the same columns in the same order as
    # before the fields were taken from models.SERVICE_EDITABLE_FIELDS (docs/api.md).
    body = client_for(viewer).get(f"{API}/services/{world.service.pk}/").json()
    assert list(body) == [
        "id", "service_code", "edition_code", "owner", "owner_id", "name_nb", "name_en", "edition_name",
        "service_type", "valid_from", "valid_to", "yearly_volume", "criticality", "target", "altinn3_reference",
        "status", "status_changed_at", "planned_start", "target_date", "actual_start", "actual_done",
        "contact_name", "contact_email", "notes", "version", "created_at", "updated_at", "readiness",
    ]  # fmt: skip


def test_a_service_reads_the_same_in_the_list_and_alone(world, viewer):
    """The list builds rows from plain values, a single service from the model: same result."""
    client = client_for(viewer)
    listed = {row["id"]: row for row in client.get(f"{API}/services/").json()["results"]}
    assert len(listed) == 3
    for pk, row in listed.items():
        assert client.get(f"{API}/services/{pk}/").json() == row


def test_a_service_without_stored_readiness_shows_null(owner, viewer):
    service = ServiceFactory(owner=owner)
    assert client_for(viewer).get(f"{API}/services/{service.pk}/").json()["readiness"] is None


def test_service_by_altinn2_key(world, viewer):
    odd = ServiceFactory(service_code="AppId:64", edition_code=1, owner=world.owner)
    client = client_for(viewer)
    assert client.get(f"{API}/services/by-key/3906/2/").json()["id"] == world.service.pk
    assert client.get(f"{API}/services/by-key/AppId:64/1/").json()["id"] == odd.pk
    assert client.get(f"{API}/services/by-key/3906/3/").status_code == 404


# --- Filtering, search, sort, paging --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"owner": "skd"}, ["3906/2", "3907/1"]),
        ({"owner": ["skd", "brg"]}, ["3906/2", "3907/1", "5000/1"]),
        ({"type": ServiceType.CORRESPONDENCE}, ["3907/1"]),
        ({"status": MigrationStatus.ANALYSIS}, ["3907/1"]),
        ({"readiness": "blocked"}, ["3906/2"]),
        ({"readiness": ["not_assessed", "blocked"]}, ["3906/2", "3907/1", "5000/1"]),
        ({"capability": "payment"}, ["3906/2"]),
        ({"target_date_from": "2026-02-01", "target_date_to": "2026-03-01"}, ["3906/2"]),
        ({"target_date_to": "2026-02-28"}, []),
        ({"volume_min": 1000, "volume_max": 1000}, ["3907/1", "5000/1"]),
        ({"volume_min": 1001}, ["3906/2"]),
        ({"q": "mva"}, ["3906/2"]),
        ({"q": "3906/2"}, ["3906/2"]),
        ({"q": "500"}, ["5000/1"]),
    ],
)
def test_filters(world, viewer, query, expected):
    response = client_for(viewer).get(f"{API}/services/", query)
    assert response.status_code == 200
    assert codes(response) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"owner": "nosuchorg"}, "owner"),
        ({"status": "flying"}, "status"),
        ({"readiness": "maybe"}, "readiness"),
        ({"capability": "teleport"}, "capability"),
        ({"target_date_from": "31.02.2026"}, "target_date_from"),
        ({"volume_min": "1.5"}, "volume_min"),
        ({"volume_max": "-1"}, "volume_max"),
    ],
)
def test_invalid_filter_values_are_400_naming_the_filter(world, viewer, query, field):
    response = client_for(viewer).get(f"{API}/services/", query)
    assert response.status_code == 400
    assert field in response.json()


def test_sort_and_stable_tiebreak(world, viewer):
    client = client_for(viewer)
    assert codes(client.get(f"{API}/services/", {"sort": "-volume"})) == ["3906/2", "3907/1", "5000/1"]
    assert codes(client.get(f"{API}/services/", {"sort": "owner"})) == ["5000/1", "3906/2", "3907/1"]
    # An unknown sort key is ignored (the catalog's order), as on the page.
    assert codes(client.get(f"{API}/services/", {"sort": "nonsense"})) == ["3906/2", "3907/1", "5000/1"]


def test_pagination_and_page_size_cap(world, viewer):
    client = client_for(viewer)
    page = client.get(f"{API}/services/", {"page_size": 2}).json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert "page=2" in page["next"]
    second = client.get(page["next"]).json()
    assert [r["id"] for r in second["results"]] not in [[r["id"] for r in page["results"]]]
    assert client.get(f"{API}/services/", {"page": 99}).status_code == 404
    # Above the maximum the page is capped at 1,000 rather than refused.
    assert client.get(f"{API}/services/", {"page_size": 5000}).status_code == 200


# --- Creating and changing -------------------------------------------------------------------------------


def test_create_service(world, editor):
    response = client_for(editor).post(
        f"{API}/services/",
        {
            "service_code": "4321",
            "edition_code": 7,
            "owner": "skd",
            "name_nb": "Søknad om fritak",
            "service_type": "FormTask",
            "yearly_volume": 1200,
            "target_date": "2026-04-01",
            "status": "in_production",  # read-only: status moves only through transitions
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "not_started"
    assert body["version"] == 1
    assert response["ETag"] == '"1"'
    assert Service.objects.get(service_code="4321", edition_code=7).yearly_volume == 1200


def test_create_refuses_an_existing_key_and_missing_fields(world, lead):
    client = client_for(lead)
    duplicate = client.post(
        f"{API}/services/",
        {"service_code": "3906", "edition_code": 2, "owner": "skd", "name_nb": "X", "service_type": "FormTask"},
        format="json",
    )
    assert duplicate.status_code == 400
    assert "already exists" in str(duplicate.json())
    missing = client.post(f"{API}/services/", {"service_code": "1"}, format="json")
    assert missing.status_code == 400
    assert {"edition_code", "owner", "name_nb", "service_type"} <= set(missing.json())


def test_patch_changes_fields_bumps_version_and_keeps_status(world, editor):
    before = world.service.version
    response = client_for(editor).patch(
        f"{API}/services/{world.service.pk}/",
        {"notes": "Venter på betaling", "yearly_volume": 510_000, "status": "altinn2_closed", "service_code": "1"},
        format="json",
        HTTP_IF_MATCH=f'"{before}"',
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == before + 1
    assert response["ETag"] == f'"{before + 1}"'
    assert body["notes"] == "Venter på betaling"
    assert body["status"] == "not_started"
    assert body["service_code"] == "3906"


def test_validation_messages_come_from_the_model(world, editor):
    response = client_for(editor).patch(
        f"{API}/services/{world.service.pk}/",
        {"valid_from": "2026-02-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"},
        format="json",
        HTTP_IF_MATCH=etag_of(world.service),
    )
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_services_are_not_deleted(world, lead):
    assert client_for(lead).delete(f"{API}/services/{world.service.pk}/").status_code == 405
    assert Service.objects.filter(pk=world.service.pk).exists()


# --- Transitions ------------------------------------------------------------------------------------------


def test_transition_writes_history(world, editor):
    response = client_for(editor).post(
        f"{API}/services/{world.service.pk}/transition/",
        {"status": "analysis", "comment": "Kartlegging startet"},
        format="json",
        HTTP_IF_MATCH=etag_of(world.service),
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "analysis"
    change = StatusChange.objects.get(service=world.service)
    assert (change.from_status, change.to_status, change.changed_by, change.comment) == (
        "not_started",
        "analysis",
        editor,
        "Kartlegging startet",
    )


def test_illegal_transition_is_400_naming_both_states(world, editor):
    response = client_for(editor).post(
        f"{API}/services/{world.service.pk}/transition/",
        {"status": "testing"},
        format="json",
        HTTP_IF_MATCH=etag_of(world.service),
    )
    assert response.status_code == 400
    message = response.json()["status"][0]
    assert "Not started" in message
    assert "Testing (TT02)" in message
    assert not StatusChange.objects.filter(service=world.service).exists()


def test_moving_back_needs_a_comment(world, editor):
    client = client_for(editor)
    url = f"{API}/services/{world.spare.pk}/transition/"
    response = client.post(url, {"status": "not_started"}, format="json", HTTP_IF_MATCH=etag_of(world.spare))
    assert response.status_code == 400
    assert "comment" in response.json()
    response = client.post(
        url, {"status": "not_started", "comment": "Feil registrert"}, format="json", HTTP_IF_MATCH=etag_of(world.spare)
    )
    assert response.status_code == 200


def test_unknown_status_is_400(world, editor):
    response = client_for(editor).post(
        f"{API}/services/{world.service.pk}/transition/",
        {"status": "teleported"},
        format="json",
        HTTP_IF_MATCH=etag_of(world.service),
    )
    assert response.status_code == 400
    assert "status" in response.json()


# --- Readiness and history of one service -----------------------------------------------------------------


def test_readiness_endpoint_says_how_fresh_it_is(world, viewer):
    client = client_for(viewer)
    body = client.get(f"{API}/services/{world.service.pk}/readiness/").json()
    assert body["service_id"] == world.service.pk
    assert body["readiness"]["state"] == "blocked"
    assert body["fresh"] is True
    assert body["computed_at"].endswith("Z")
    # A committed change bumps the revision (tasks._enqueue_recompute_if_idle); until the queued
    # recompute has run, the stored verdict is shown as not fresh.
    PortfolioState.objects.singleton().update(revision=F("revision") + 1)
    assert client.get(f"{API}/services/{world.service.pk}/readiness/").json()["fresh"] is False
    assert client.get(f"{API}/services/999999/readiness/").status_code == 404


def test_service_history_newest_first_with_date_range(world, viewer):
    service = ServiceFactory(owner=world.owner)
    for to_status, day in [(MigrationStatus.ANALYSIS, 2), (MigrationStatus.DEVELOPMENT, 3)]:
        at = datetime.datetime(2026, 2, day, 9, tzinfo=datetime.UTC)
        service_change_status(service=service, to_status=to_status, at=at)
    client = client_for(viewer)
    body = client.get(f"{API}/services/{service.pk}/history/").json()
    assert [(r["from_status"], r["to_status"]) for r in body["results"]] == [
        ("analysis", "development"),
        ("not_started", "analysis"),
    ]
    ranged = client.get(f"{API}/services/{service.pk}/history/", {"from": "2026-02-03", "to": "2026-02-03"})
    assert [r["to_status"] for r in ranged.json()["results"]] == ["development"]
    assert client.get(f"{API}/services/999999/history/").status_code == 404


# --- Speed: a constant number of queries ---------------------------------------------------------------------


def _catalog(n: int) -> None:
    """n services over two owners, half needing a capability, with stored readiness."""
    skd, brg = ServiceOwnerFactory(code="skd"), ServiceOwnerFactory(code="brg")
    payment = CapabilityFactory(key="payment")
    existing = Service.objects.count()
    Service.objects.bulk_create(
        Service(
            service_code=str(10_000 + existing + i),
            edition_code=1,
            name_nb=f"Skjema {i}",
            owner=skd if i % 2 else brg,
            service_type=ServiceType.FORM_TASK,
            yearly_volume=i,
            target="AltinnApp",
        )
        for i in range(n)
    )
    for service in Service.objects.filter(owner=skd)[: n // 2]:
        dependency_add(service=service, depends_on_capability=payment, strength=DependencyStrength.HARD)
    portfolio_recompute()


@pytest.mark.parametrize("n", [10, 1000])
def test_list_costs_a_constant_number_of_queries(viewer, django_assert_num_queries, n):
    _catalog(n)
    client = client_for(viewer)
    # 1 the token with its user, 2 the page's count, 3 the page of services with owner and readiness.
    with django_assert_num_queries(3):
        response = client.get(f"{API}/services/", {"page_size": 1000})
    assert len(response.json()["results"]) == n
    # Filters that need other tables are joins or EXISTS in the same statements, plus the look-up
    # validating each named owner and capability: 1 token, 2 owners named, 3 capability named,
    # 4 count, 5 page.
    with django_assert_num_queries(5):
        response = client.get(
            f"{API}/services/",
            {"page_size": 1000, "owner": "skd", "capability": "payment", "readiness": "blocked", "sort": "-volume"},
        )
    assert response.json()["count"] == n // 2


def test_single_service_query_count(world, viewer, django_assert_num_queries):
    client = client_for(viewer)
    # 1 token and user, 2 the service with owner and readiness joined.
    with django_assert_num_queries(2):
        client.get(f"{API}/services/{world.service.pk}/")


def test_list_and_export_use_the_same_filtered_rows(world, viewer):
    client = client_for(viewer)
    listed = codes(client.get(f"{API}/services/", {"owner": "skd", "sort": "-volume"}))
    exported = client.get(f"{API}/services/export.csv", {"owner": "skd", "sort": "-volume"}).content.decode("utf-8-sig")
    rows = [line.split(",")[:2] for line in exported.strip().splitlines()[1:]]
    assert ["/".join(row) for row in rows] == listed


def test_browsable_api_renders_for_a_browser(world, editor):
    client = client_for(editor, session=True)
    response = client.get(f"{API}/services/{world.service.pk}/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Mva-melding" in response.content
    listed = client.get(f"{API}/services/", {"owner": "skd"}, HTTP_ACCEPT="text/html")
    assert listed.status_code == 200
    assert b"3907" in listed.content
