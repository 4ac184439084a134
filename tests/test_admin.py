"""The admin follows the same rules as the pages: status changes, service edits and dependency edges go
through services, and the status history cannot be edited.
"""

from __future__ import annotations

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.test import RequestFactory

from migration_app.choices import MigrationStatus
from migration_app.models import (
    Dependency,
    Membership,
    Milestone,
    PlatformCapability,
    Service,
    ServiceOwner,
    StatusChange,
)
from migration_app.services.catalog import service_change_status, service_update
from migration_app.services.checks import StaleVersionError
from migration_app.services.dependencies import dependency_add
from tests.factories import CapabilityFactory, MembershipFactory, ServiceFactory

MODELS = [ServiceOwner, Service, PlatformCapability, Dependency, StatusChange, Milestone, Membership]


@pytest.fixture
def en_admin(admin_client):
    """The superuser's client, in English so messages can be compared with the source strings."""
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return admin_client


@pytest.fixture
def service(owner):
    return ServiceFactory(service_code="3906", name_nb="Skattemelding", owner=owner)


def url(model: type, action: str, *args: object) -> str:
    from django.urls import reverse

    return reverse(f"admin:migration_app_{model._meta.model_name}_{action}", args=args)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def change_form_data(client, service: Service) -> dict[str, object]:
    """What the browser would post back from the service's change form, untouched."""
    form = client.get(url(Service, "change", service.pk)).context["adminform"].form
    data: dict[str, object] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, forms.MultiWidget):
            for i, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{i}"] = "" if part is None else part
        else:
            data[name] = "" if value is None else value
    return data


def fill_everything(owner) -> None:
    service = ServiceFactory(owner=owner)
    other = ServiceFactory(owner=owner)
    dependency_add(service=service, depends_on_service=other)
    dependency_add(service=service, depends_on_capability=CapabilityFactory())
    service_change_status(service=service, to_status=MigrationStatus.ANALYSIS, comment="go")
    MembershipFactory(owner=owner)


# --- Every model is there ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_every_model_is_registered(model):
    assert admin.site.is_registered(model)


@pytest.mark.parametrize("model", MODELS)
def test_changelist_loads(admin_client, owner, model):
    fill_everything(owner)
    response = admin_client.get(url(model, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize("model", [m for m in MODELS if m is not StatusChange])
def test_add_form_loads(admin_client, model):
    assert admin_client.get(url(model, "add")).status_code == 200


def test_search_by_code_and_name(admin_client, owner):
    ServiceFactory(service_code="BOABA", name_nb="Bokføring", owner=owner)
    ServiceFactory(service_code="3906", name_nb="Skattemelding", owner=owner)
    assert admin_client.get(url(Service, "changelist"), {"q": "boaba"}).context["cl"].result_count == 1
    assert admin_client.get(url(Service, "changelist"), {"q": "skattemeld"}).context["cl"].result_count == 1
    assert admin_client.get(url(ServiceOwner, "changelist"), {"q": "skd"}).context["cl"].result_count == 1


def test_service_changelist_query_count_is_constant(admin_client, django_assert_max_num_queries, owner, other_owner):
    counts = []
    for n in (5, 50):
        for i in range(n):
            ServiceFactory(owner=owner if i % 2 else other_owner)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url(Service, "changelist")).status_code == 200
        counts.append(len(queries))
    # Session, user, count, the page of rows with owners joined, and the owner filter's choices:
    # a fixed set, whatever the number of services.
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(counts[0]):
        admin_client.get(url(Dependency, "changelist"))


# --- Service status only through the lifecycle ---------------------------------------------------------


def test_status_is_read_only_on_the_change_form(admin_client, service):
    response = admin_client.get(url(Service, "change", service.pk))
    assert "status" not in response.context["adminform"].form.fields
    assert "version" not in response.context["adminform"].form.fields
    assert url(Service, "change_status", service.pk) in response.content.decode()


def test_posting_a_status_on_the_change_form_changes_nothing(admin_client, service):
    data = change_form_data(admin_client, service)
    data["status"] = MigrationStatus.IN_PRODUCTION
    response = admin_client.post(url(Service, "change", service.pk), data)
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.status == MigrationStatus.NOT_STARTED
    assert not StatusChange.objects.exists()


def test_change_status_goes_through_the_service(en_admin, admin_user, service):
    page = en_admin.get(url(Service, "change_status", service.pk))
    assert page.status_code == 200
    # Only the moves the lifecycle allows from "not started" are offered.
    offered = [value for value, _ in page.context["form"].fields["to_status"].widget.choices]
    assert offered == [
        "",
        MigrationStatus.ANALYSIS,
        MigrationStatus.DECOMMISSIONED,
        MigrationStatus.REIMPLEMENTED_ELSEWHERE,
    ]

    response = en_admin.post(
        url(Service, "change_status", service.pk),
        {"to_status": MigrationStatus.ANALYSIS, "comment": "Kick-off meeting held", "expected_version": 1},
    )
    assert response.status_code == 302
    assert response["Location"] == url(Service, "change", service.pk)
    service.refresh_from_db()
    assert service.status == MigrationStatus.ANALYSIS
    assert service.version == 2
    change = StatusChange.objects.get()
    assert (change.from_status, change.to_status) == (MigrationStatus.NOT_STARTED, MigrationStatus.ANALYSIS)
    assert change.changed_by == admin_user
    assert change.comment == "Kick-off meeting held"
    assert any("Status changed" in m for m in messages_of(response))
    assert LogEntry.objects.filter(object_id=str(service.pk)).exists()


def test_illegal_transition_is_refused_with_the_reason(en_admin, service):
    response = en_admin.post(
        url(Service, "change_status", service.pk), {"to_status": MigrationStatus.TESTING, "expected_version": 1}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["to_status"]
    assert "forward moves go one step at a time" in errors[0]
    service.refresh_from_db()
    assert (service.status, service.version) == (MigrationStatus.NOT_STARTED, 1)
    assert not StatusChange.objects.exists()


def test_moving_back_needs_a_comment(en_admin, service):
    service_change_status(service=service, to_status=MigrationStatus.ANALYSIS)
    response = en_admin.post(
        url(Service, "change_status", service.pk),
        {"to_status": MigrationStatus.NOT_STARTED, "comment": "  ", "expected_version": 2},
    )
    assert response.status_code == 200
    assert "needs a comment" in response.context["form"].errors["comment"][0]
    assert StatusChange.objects.count() == 1


def test_status_change_on_a_stale_page_is_refused(en_admin, service):
    page = en_admin.get(url(Service, "change_status", service.pk))
    seen = page.context["form"]["expected_version"].value()
    service_change_status(service=service, to_status=MigrationStatus.ANALYSIS)  # someone else
    response = en_admin.post(
        url(Service, "change_status", service.pk),
        {"to_status": MigrationStatus.DECOMMISSIONED, "comment": "", "expected_version": seen},
    )
    assert response.status_code == 200
    assert "changed by someone else" in response.context["form"].non_field_errors()[0]
    service.refresh_from_db()
    assert service.status == MigrationStatus.ANALYSIS


def test_final_status_offers_no_moves(en_admin, service):
    Service.objects.filter(pk=service.pk).update(status=MigrationStatus.ALTINN2_CLOSED)
    response = en_admin.get(url(Service, "change_status", service.pk))
    assert not response.context["form"].has_targets
    assert b"final status" in response.content


# --- Service edits through service_update -----------------------------------------------------------------


def test_edit_goes_through_service_update_and_bumps_the_version(admin_client, service, other_owner):
    data = change_form_data(admin_client, service)
    data.update(name_en="Tax return", yearly_volume=42, owner=other_owner.pk)
    response = admin_client.post(url(Service, "change", service.pk), data)
    assert response.status_code == 302
    service.refresh_from_db()
    assert (service.name_en, service.yearly_volume, service.owner) == ("Tax return", 42, other_owner)
    assert service.version == 2


def test_unchanged_form_does_not_bump_the_version(admin_client, service):
    admin_client.post(url(Service, "change", service.pk), change_form_data(admin_client, service))
    service.refresh_from_db()
    assert service.version == 1


def test_edit_of_a_stale_version_is_refused_and_keeps_the_input(en_admin, service):
    data = change_form_data(en_admin, service)  # the editor opens the form at version 1 ...
    service_update(service=service, data={"notes": "Someone else's note"})  # ... someone saves
    data["name_en"] = "My edit"
    response = en_admin.post(url(Service, "change", service.pk), data)
    assert response.status_code == 200
    assert "changed by someone else" in str(response.context["adminform"].form.non_field_errors())
    assert response.context["adminform"].form["name_en"].value() == "My edit"
    original_name = service.name_en
    service.refresh_from_db()
    assert (service.name_en, service.notes, service.version) == (original_name, "Someone else's note", 2)


def test_edit_losing_the_race_at_save_time_is_refused(en_admin, service, monkeypatch):
    # The form validated against version 1, but another save lands before the compare-and-set.
    def concurrent(**kwargs):
        raise StaleVersionError(expected=1, current=2)

    monkeypatch.setattr("migration_app.admin.service_update", concurrent)
    data = change_form_data(en_admin, service)
    data["name_en"] = "Lost edit"
    response = en_admin.post(url(Service, "change", service.pk), data)
    assert response.status_code == 302
    assert response["Location"] == url(Service, "change", service.pk)
    assert any("Not saved" in m for m in messages_of(response))
    assert not any("successfully" in m for m in messages_of(response))
    assert not LogEntry.objects.exists()


def test_natural_key_is_read_only_after_creation(admin_client, service):
    form = admin_client.get(url(Service, "change", service.pk)).context["adminform"].form
    assert "service_code" not in form.fields
    assert "edition_code" not in form.fields


def test_add_service_in_admin(admin_client, owner):
    response = admin_client.post(
        url(Service, "add"),
        {
            "service_code": "5555",
            "edition_code": 1,
            "name_nb": "Nytt skjema",
            "owner": owner.pk,
            "service_type": "FormTask",
            "yearly_volume": 10,
            "criticality": "medium",
            "target": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = Service.objects.get(service_code="5555")
    assert (created.status, created.version) == (MigrationStatus.NOT_STARTED, 1)


# --- History is read-only -------------------------------------------------------------------------------


def test_status_history_cannot_be_added_changed_or_deleted(admin_client, admin_user, service):
    service_change_status(service=service, to_status=MigrationStatus.ANALYSIS)
    change = StatusChange.objects.get()
    model_admin = admin.site._registry[StatusChange]
    request = RequestFactory().get("/")
    request.user = admin_user
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, change)
    assert not model_admin.has_delete_permission(request, change)
    assert model_admin.has_view_permission(request, change)

    assert admin_client.get(url(StatusChange, "add")).status_code == 403
    assert admin_client.get(url(StatusChange, "delete", change.pk)).status_code == 403
    view = admin_client.get(url(StatusChange, "change", change.pk))
    assert view.status_code == 200
    assert view.context["has_change_permission"] is False  # shown read-only, without a save button
    assert admin_client.post(url(StatusChange, "change", change.pk), {"comment": "rewritten"}).status_code == 403
    change.refresh_from_db()
    assert change.comment == ""


def test_service_with_history_cannot_be_deleted_in_admin(admin_client, service):
    service_change_status(service=service, to_status=MigrationStatus.ANALYSIS)
    assert admin_client.post(url(Service, "delete", service.pk), {"post": "yes"}).status_code == 403
    assert Service.objects.filter(pk=service.pk).exists()


# --- Dependencies through dependency_add / dependency_remove ------------------------------------------------


def test_dependency_added_in_admin_goes_through_the_service(admin_client, owner):
    a = ServiceFactory(owner=owner)
    b = ServiceFactory(owner=owner)
    response = admin_client.post(
        url(Dependency, "add"), {"service": a.pk, "depends_on_service": b.pk, "strength": "hard", "note": "x"}
    )
    assert response.status_code == 302
    edge = Dependency.objects.get()
    assert (edge.service, edge.depends_on_service, edge.note) == (a, b, "x")
    a.refresh_from_db()
    assert a.version == 2  # dependency_add bumps the dependent service's version
    assert LogEntry.objects.filter(object_id=str(edge.pk)).exists()


def test_dependency_closing_a_cycle_is_refused_with_the_message(en_admin, owner):
    a = ServiceFactory(service_code="1000", owner=owner)
    b = ServiceFactory(service_code="2000", owner=owner)
    c = ServiceFactory(service_code="3000", owner=owner)
    dependency_add(service=a, depends_on_service=b)
    dependency_add(service=b, depends_on_service=c)
    response = en_admin.post(url(Dependency, "add"), {"service": c.pk, "depends_on_service": a.pk, "strength": "hard"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert errors == ["This hard dependency would create a cycle: 3000/1 → 1000/1 → 2000/1 → 3000/1."]
    assert Dependency.objects.count() == 2
    c.refresh_from_db()
    assert c.version == 1  # the trial run was rolled back


def test_dependency_needs_exactly_one_target(en_admin, owner):
    a = ServiceFactory(owner=owner)
    response = en_admin.post(url(Dependency, "add"), {"service": a.pk, "strength": "hard"})
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "A dependency names exactly one service or one capability."
    ]
    assert not Dependency.objects.exists()


def test_duplicate_dependency_is_refused(en_admin, owner):
    a = ServiceFactory(owner=owner)
    capability = CapabilityFactory()
    dependency_add(service=a, depends_on_capability=capability)
    response = en_admin.post(
        url(Dependency, "add"), {"service": a.pk, "depends_on_capability": capability.pk, "strength": "soft"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["depends_on_capability"] == [
        "This dependency is already declared."
    ]


def test_dependencies_are_not_edited_in_place(admin_client, owner):
    a, b = ServiceFactory(owner=owner), ServiceFactory(owner=owner)
    edge = dependency_add(service=a, depends_on_service=b, strength="soft")
    response = admin_client.post(url(Dependency, "change", edge.pk), {"strength": "hard"})
    assert response.status_code == 403
    edge.refresh_from_db()
    assert edge.strength == "soft"


def test_dependency_deleted_in_admin_goes_through_the_service(admin_client, owner):
    a, b = ServiceFactory(owner=owner), ServiceFactory(owner=owner)
    edge = dependency_add(service=a, depends_on_service=b)
    response = admin_client.post(url(Dependency, "delete", edge.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Dependency.objects.exists()
    a.refresh_from_db()
    assert a.version == 3  # bumped by the add and again by the remove


def test_bulk_delete_of_dependencies_goes_through_the_service(admin_client, owner):
    a = ServiceFactory(owner=owner)
    edges = [dependency_add(service=a, depends_on_service=ServiceFactory(owner=owner)) for _ in range(3)]
    response = admin_client.post(
        url(Dependency, "changelist"),
        {"action": "delete_selected", "_selected_action": [e.pk for e in edges], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Dependency.objects.exists()
    a.refresh_from_db()
    assert a.version == 7  # three adds and three removes


def test_milestones_are_editable(admin_client):
    milestone = Milestone.objects.get(key="altinn2-shutdown")
    response = admin_client.post(
        url(Milestone, "change", milestone.pk),
        {
            "key": milestone.key,
            "name_nb": milestone.name_nb,
            "name_en": milestone.name_en,
            "date": "2026-06-26",
            "description": "Moved a week",
        },
    )
    assert response.status_code == 302
    milestone.refresh_from_db()
    assert str(milestone.date) == "2026-06-26"


@pytest.mark.parametrize("model_name", ["reportpreference", "weeklyreportdelivery"])
def test_report_preferences_and_the_delivery_ledger_are_in_the_admin(admin_client, model_name):
    response = admin_client.get(f"/admin/migration_app/{model_name}/")
    assert response.status_code == 200


def test_the_delivery_ledger_cannot_be_edited_in_the_admin(admin_client):
    from migration_app.models import WeeklyReportDelivery

    model_admin = admin.site._registry[WeeklyReportDelivery]
    request = admin_client.get("/admin/").wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
