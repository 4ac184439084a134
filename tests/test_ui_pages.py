"""The editing UI and the pages added for issue 5: edits with conflict handling, status changes,
dependencies with htmx, my organisation, capabilities, the dashboard, the dependency diagram, the CSV
export, password reset and the remembered language."""

from __future__ import annotations

import csv
import datetime
import io
import re

import pytest
from django.core import mail
from django.utils import timezone

from migration_app.choices import CapabilityStatus, DependencyStrength, MigrationStatus
from migration_app.models import Dependency, ReportPreference, Service, StatusChange
from migration_app.services.catalog import service_change_status, service_update
from migration_app.services.dependencies import dependency_add
from migration_app.services.recompute import portfolio_recompute
from migration_app.services.snapshots import progress_snapshot_take
from tests.factories import CapabilityFactory, MembershipFactory, ServiceFactory, ServiceOwnerFactory, UserFactory


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English, so the assertions read the messages as written in the code."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def tax(owner):
    return ServiceFactory(service_code="1000", name_nb="Skattemelding", name_en="", owner=owner, contact_name="Kari")


@pytest.fixture
def foreign(other_owner):
    return ServiceFactory(service_code="2000", name_nb="Enhetsregisteret", name_en="", owner=other_owner)


def edit_data(service: Service, **changes) -> dict:
    data = {
        "name_nb": service.name_nb,
        "name_en": service.name_en,
        "edition_name": service.edition_name,
        "service_type": service.service_type,
        "yearly_volume": service.yearly_volume,
        "criticality": service.criticality,
        "target": service.target,
        "altinn3_reference": service.altinn3_reference,
        "contact_name": service.contact_name,
        "contact_email": service.contact_email,
        "notes": service.notes,
        "expected_version": service.version,
    }
    # What the browser sends back: each field's value as rendered, next to the (possibly edited) value.
    data.update({f"initial-{name}": value for name, value in list(data.items()) if name != "expected_version"})
    data.update(changes)
    return data


# --- Who sees which controls, and the server's refusals -------------------------------------------


def test_editor_sees_edit_controls_on_own_service(client, editor, tax):
    client.force_login(editor)
    content = client.get(f"/services/{tax.pk}/").content.decode()
    assert f'href="/services/{tax.pk}/edit/"' in content
    assert f'action="/services/{tax.pk}/status/"' in content
    assert f'hx-post="/services/{tax.pk}/dependencies/add/"' in content


@pytest.mark.parametrize("who", ["viewer", "other_editor"])
def test_controls_hidden_and_refused_for_viewer_and_other_org(client, who, viewer, tax, foreign, other_owner):
    user = viewer if who == "viewer" else MembershipFactory(user=UserFactory(username="brg-ed"), owner=other_owner).user
    client.force_login(user)
    content = client.get(f"/services/{tax.pk}/").content.decode()
    assert "/edit/" not in content
    assert "/status/" not in content
    assert "dependencies/add" not in content
    assert client.get(f"/services/{tax.pk}/edit/").status_code == 403
    assert client.post(f"/services/{tax.pk}/edit/", edit_data(tax, name_nb="Hacked")).status_code == 403
    assert client.post(f"/services/{tax.pk}/status/", {"to_status": "analysis"}).status_code == 403
    assert client.post(f"/services/{tax.pk}/dependencies/add/", {"depends_on": "2000/1"}).status_code == 403
    dependency = dependency_add(service=tax, depends_on_service=foreign)
    assert client.post(f"/services/{tax.pk}/dependencies/{dependency.pk}/remove/").status_code == 403
    tax.refresh_from_db()
    assert tax.name_nb == "Skattemelding" and tax.status == MigrationStatus.NOT_STARTED
    assert Dependency.objects.filter(pk=dependency.pk).exists()


def test_lead_edits_any_organisation(client, lead, foreign):
    client.force_login(lead)
    response = client.post(f"/services/{foreign.pk}/edit/", edit_data(foreign, yearly_volume=42))
    assert response.status_code == 302
    foreign.refresh_from_db()
    assert foreign.yearly_volume == 42


# --- Editing fields, and the stale form ---------------------------------------------------------------


def test_edit_saves_through_the_service_and_bumps_the_version(client, editor, tax):
    client.force_login(editor)
    page = client.get(f"/services/{tax.pk}/edit/")
    assert page.status_code == 200
    assert f'name="expected_version" value="{tax.version}"' in page.content.decode()
    response = client.post(
        f"/services/{tax.pk}/edit/", edit_data(tax, yearly_volume=123456, target_date="2026-03-01"), follow=True
    )
    assert response.redirect_chain[-1][0] == f"/services/{tax.pk}/"
    assert "Your changes were saved." in response.content.decode()
    tax.refresh_from_db()
    assert tax.yearly_volume == 123456 and tax.target_date == datetime.date(2026, 3, 1) and tax.version == 2


def test_edit_validation_errors_are_shown(client, editor, tax):
    client.force_login(editor)
    response = client.post(f"/services/{tax.pk}/edit/", edit_data(tax, contact_email="not-an-address"))
    assert response.status_code == 422
    assert "contact_email" in response.context["form"].errors
    assert 'class="ds-validation-message"' in response.content.decode()


def test_stale_edit_shows_what_changed_and_never_overwrites(client, editor, lead, tax):
    client.force_login(editor)
    seen = edit_data(tax, contact_name="Ola", yearly_volume=5000)  # the form as rendered, then edited
    # Meanwhile the lead changes the contact and the notes.
    service_update(
        service=Service.objects.get(pk=tax.pk), data={"contact_name": "Per", "notes": "Lead's note"}, user=lead
    )
    response = client.post(f"/services/{tax.pk}/edit/", seen)
    assert response.status_code == 409
    content = response.content.decode()
    assert content.count('id="conflict"') == 1
    assert "Someone else saved this service while you were editing" in content
    rows = {row["label"].lower(): row for row in response.context["conflicts"]}
    assert rows["responsible contact"]["mine"] == "Ola" and rows["responsible contact"]["stored"] == "Per"
    assert rows["responsible contact"]["both"]
    assert rows["yearly volume"]["mine"] in ("5,000", "5000") and not rows["yearly volume"]["theirs"]
    assert rows["notes"]["mine"] is None and rows["notes"]["stored"] == "Lead's note"
    tax.refresh_from_db()
    assert (tax.contact_name, tax.yearly_volume, tax.notes) == ("Per", 1000, "Lead's note")  # nothing overwritten
    # The rebuilt form: the stored version, the user's changes on top, the lead's note kept.
    form = response.context["form"]
    assert form.data["expected_version"] == str(tax.version)
    assert form.data["contact_name"] == "Ola" and form.data["notes"] == "Lead's note"
    again = client.post(f"/services/{tax.pk}/edit/", form.data)
    assert again.status_code == 302
    tax.refresh_from_db()
    assert (tax.contact_name, tax.yearly_volume, tax.notes) == ("Ola", 5000, "Lead's note")


def test_stale_edit_after_a_status_change_keeps_the_users_values(client, editor, tax):
    client.force_login(editor)
    seen = edit_data(tax, yearly_volume=777)
    service_change_status(service=tax, to_status="analysis", user=editor)
    response = client.post(f"/services/{tax.pk}/edit/", seen)
    assert response.status_code == 409
    assert response.context["conflicts"][0]["label"].lower() == "yearly volume"
    assert client.post(f"/services/{tax.pk}/edit/", response.context["form"].data).status_code == 302
    tax.refresh_from_db()
    assert tax.yearly_volume == 777 and tax.status == "analysis"


# --- Status changes ---------------------------------------------------------------------------------


def test_status_form_offers_only_legal_moves(client, editor, tax):
    client.force_login(editor)
    form = client.get(f"/services/{tax.pk}/").context["status_form"]
    offered = [value for value, _label in form.fields["to_status"].widget.choices if value]
    assert offered == ["analysis", "decommissioned", "reimplemented_elsewhere"]


def test_status_change_with_comment_is_saved_in_history(client, editor, tax):
    client.force_login(editor)
    response = client.post(
        f"/services/{tax.pk}/status/",
        {"to_status": "analysis", "comment": "Kick-off", "expected_version": tax.version},
        follow=True,
    )
    assert response.status_code == 200
    tax.refresh_from_db()
    assert tax.status == MigrationStatus.ANALYSIS
    change = StatusChange.objects.get(service=tax)
    assert change.comment == "Kick-off" and change.changed_by == editor
    assert "The status was changed." in response.content.decode()


def test_refused_status_changes_show_the_services_reason(client, editor, tax):
    client.force_login(editor)
    skip = client.post(f"/services/{tax.pk}/status/", {"to_status": "testing", "expected_version": tax.version})
    assert skip.status_code == 422
    assert "forward moves go one step at a time" in skip.content.decode()
    service_change_status(service=tax, to_status="analysis", user=editor)
    back = client.post(f"/services/{tax.pk}/status/", {"to_status": "not_started", "expected_version": 2})
    assert back.status_code == 422
    assert "needs a comment explaining why" in back.content.decode()
    stale = client.post(f"/services/{tax.pk}/status/", {"to_status": "development", "expected_version": 1})
    assert stale.status_code == 422
    assert "changed by someone else" in stale.content.decode()
    tax.refresh_from_db()
    assert tax.status == MigrationStatus.ANALYSIS


# --- Dependencies with htmx ---------------------------------------------------------------------------


def test_add_and_remove_dependency_with_htmx(client, editor, tax, foreign):
    client.force_login(editor)
    payment = CapabilityFactory(key="payment", name_nb="Betaling", name_en="")
    added = client.post(
        f"/services/{tax.pk}/dependencies/add/", {"depends_on": "2000/1", "strength": "hard"}, HTTP_HX_REQUEST="true"
    )
    assert added.status_code == 200
    content = added.content.decode()
    assert content.lstrip().startswith('<section id="needs"')
    assert "2000/1 Enhetsregisteret" in content
    client.post(
        f"/services/{tax.pk}/dependencies/add/", {"capability": payment.pk, "strength": "soft"}, HTTP_HX_REQUEST="true"
    )
    assert tax.dependencies.count() == 2
    edge = tax.dependencies.get(depends_on_service=foreign)
    removed = client.post(f"/services/{tax.pk}/dependencies/{edge.pk}/remove/", HTTP_HX_REQUEST="true")
    assert removed.status_code == 200
    assert "Enhetsregisteret" not in removed.content.decode()
    assert list(tax.dependencies.values_list("depends_on_capability__key", flat=True)) == ["payment"]


def test_cycle_is_refused_with_the_services_explanation(client, editor, owner, tax):
    client.force_login(editor)
    portal = ServiceFactory(service_code="3000", owner=owner)
    dependency_add(service=portal, depends_on_service=tax)
    response = client.post(
        f"/services/{tax.pk}/dependencies/add/", {"depends_on": "3000/1", "strength": "hard"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "This hard dependency would create a cycle: 1000/1 → 3000/1 → 1000/1." in content
    assert not tax.dependencies.exists()
    # Without htmx the page is re-rendered with the same message.
    plain = client.post(f"/services/{tax.pk}/dependencies/add/", {"depends_on": "3000/1", "strength": "hard"})
    assert plain.status_code == 422
    assert "would create a cycle" in plain.content.decode()


def test_unknown_service_key_is_explained(client, editor, tax):
    client.force_login(editor)
    response = client.post(f"/services/{tax.pk}/dependencies/add/", {"depends_on": "9999/9"}, HTTP_HX_REQUEST="true")
    assert "No service 9999/9." in response.content.decode()


# --- My organisation ----------------------------------------------------------------------------------


def _organisation(owner, other_owner, n: int) -> None:
    payment = CapabilityFactory(key="payment", name_nb="Betaling", name_en="", planned_date=datetime.date(2026, 9, 1))
    register = ServiceFactory(owner=other_owner, name_nb="Register")
    today = timezone.localdate()
    for i in range(n):
        ours = ServiceFactory(owner=owner, target_date=today + datetime.timedelta(days=(i % 3 - 1) * 20))
        dependency_add(service=ours, depends_on_capability=payment)
        dependency_add(service=ours, depends_on_service=register)
        dependency_add(service=ServiceFactory(owner=other_owner), depends_on_service=ours)
        service_change_status(service=ours, to_status="analysis")
    portfolio_recompute()


def test_owner_page_shows_groups_progress_blockers_and_due(client, viewer, owner, other_owner):
    _organisation(owner, other_owner, 3)
    client.force_login(viewer)
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/organisations/skd/"
    overview = response.context["overview"]
    assert [g.status for g in overview.groups] == ["analysis"]
    assert overview.total_count == 3
    waiting = {
        (w.capability.key if w.capability else w.service.name_nb): len(w.our_services) for w in overview.blocked_by
    }
    assert waiting == {"payment": 3, "Register": 3}
    assert len(overview.blocking) == 3
    assert len(overview.overdue) == 1 and len(overview.due_soon) == 2
    assert len(overview.recent_changes) == 3
    content = response.content.decode()
    for text in ("What blocks us", "Whom we block", "Overdue and due soon", "Recent changes", "Betaling"):
        assert text in content


def test_owner_page_query_count_is_constant(client, viewer, owner, other_owner, django_assert_num_queries):
    client.force_login(viewer)
    for n in (2, 12):
        _organisation(owner, other_owner, n)
        # 1 session, 2 user, 3 the owner, 4 its services with readiness, 5 capabilities and 6 other
        # services named in blockers, 7 whom we block, 8 recent changes, 9 freshness, 10 lead?,
        # 11 memberships (may the user edit).
        with django_assert_num_queries(11):
            assert client.get("/organisations/skd/").status_code == 200
        Service.objects.all().delete()


def test_lead_gets_a_chooser(client, lead, owner, tax):
    client.force_login(lead)
    response = client.get("/")
    assert response.status_code == 200
    assert "/organisations/skd/" in response.content.decode()


# --- Capabilities, dashboard, diagram -------------------------------------------------------------------


def test_capabilities_page_counts_waiting_services(client, viewer, owner, django_assert_num_queries):
    client.force_login(viewer)
    payment = CapabilityFactory(key="payment", name_nb="Betaling", name_en="", status=CapabilityStatus.IN_PROGRESS)
    for n in (2, 9):
        for _ in range(n):
            dependency_add(service=ServiceFactory(owner=owner, yearly_volume=10), depends_on_capability=payment)
        dependency_add(
            service=ServiceFactory(owner=owner, status=MigrationStatus.IN_PRODUCTION), depends_on_capability=payment
        )
        portfolio_recompute()
        # 1 session, 2 user, 3 capabilities with waiting counts, 4 leverage result, 5 its capabilities,
        # 6 its services (none here: skipped), 6 freshness.
        with django_assert_num_queries(6):
            response = client.get("/capabilities/")
    row = response.context["capabilities"][0]
    assert row.waiting_count == 11 and row.waiting_volume == 110
    assert response.context["leverage"][0].capability == payment


def test_dashboard_burnup_owner_sort_and_week(client, viewer, owner, other_owner, editor):
    client.force_login(viewer)
    s1 = ServiceFactory(owner=owner)
    ServiceFactory(owner=other_owner, status=MigrationStatus.IN_PRODUCTION)
    service_change_status(service=s1, to_status="analysis", user=editor)
    progress_snapshot_take()
    portfolio_recompute()
    response = client.get("/programme/", {"owners": "-owner"})
    assert response.status_code == 200
    content = response.content.decode()
    burnup = response.context["burnup"]
    assert burnup["labels"][0] == timezone.localdate().isoformat()
    assert burnup["deadline"] == "2026-05-31"
    assert burnup["done_count"][0] == 1 and burnup["total_count"][0] == 2
    assert 'id="burnup-data" type="application/json"' in content
    assert "<script>" not in content  # data by json_script, code in static files
    assert "The burn-up as a table" in content
    names = [r.owner.code for r in response.context["overview"].owners]
    assert names == ["skd", "brg"]  # Skatteetaten, Brønnøysund: descending by name
    assert [c.service for c in response.context["week_changes"]] == [s1]


def test_dependency_diagram(client, viewer, owner, django_assert_num_queries):
    client.force_login(viewer)
    a, b, c = (ServiceFactory(owner=owner, service_code=code) for code in ("10", "20", "30"))
    payment = CapabilityFactory(key="payment", name_nb="Betaling", name_en="")
    dependency_add(service=a, depends_on_service=b)
    dependency_add(service=b, depends_on_capability=payment)
    dependency_add(service=c, depends_on_service=a, strength=DependencyStrength.SOFT)
    # 1 session, 2 user, 3 the service, 4 every edge as ids, 5 services named, 6 capabilities named.
    with django_assert_num_queries(6):
        response = client.get(f"/services/{a.pk}/dependencies/")
    upstream, downstream = response.context["upstream"], response.context["downstream"]
    assert upstream[0].service == b and upstream[0].children[0].capability == payment
    assert downstream[0].service == c and downstream[0].strength == "soft"
    assert "Betaling" in response.content.decode()


# --- Catalog filters and the CSV export -------------------------------------------------------------


def test_catalog_filters_readiness_capability_overdue(client, viewer, owner):
    client.force_login(viewer)
    payment = CapabilityFactory(key="payment", name_nb="Betaling", name_en="")
    blocked = ServiceFactory(owner=owner, service_code="1")
    dependency_add(service=blocked, depends_on_capability=payment)
    late = ServiceFactory(owner=owner, service_code="2", target_date=datetime.date(2020, 1, 1))
    ServiceFactory(owner=owner, service_code="3", target_date=datetime.date(2020, 1, 1), status="in_production")
    portfolio_recompute()

    def codes(**query):
        return [s.service_code for s in client.get("/services/", query).context["rows"]]

    assert codes(readiness="blocked") == ["1"]
    assert codes(capability="payment") == ["1"]
    assert codes(overdue="yes") == ["2"]
    page = client.get("/services/").content.decode()
    assert 'name="readiness"' in page and 'name="capability"' in page and 'name="overdue"' in page
    assert late.pk


def test_csv_export_follows_the_filter_and_defuses_formulas(client, viewer, owner, other_owner):
    client.force_login(viewer)
    ServiceFactory(owner=owner, service_code="1", name_nb='=HYPERLINK("http://evil")', name_en="")
    ServiceFactory(owner=other_owner, service_code="2", name_nb="Other")
    response = client.get("/services/export.csv", {"owner": "skd"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["service_code"] for row in rows] == ["1"]
    assert rows[0]["name_nb"] == '\'=HYPERLINK("http://evil")'
    listing = client.get("/services/", {"owner": "skd"}).content.decode()
    assert "/services/export.csv?owner=skd" in listing


# --- Password reset and the remembered language ------------------------------------------------------


def test_password_reset_by_email(client, db):
    UserFactory(username="kari", email="kari@example.no")
    assert 'href="/accounts/password-reset/"' in client.get("/accounts/login/").content.decode()
    response = client.post("/accounts/password-reset/", {"email": "kari@example.no"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a new long passphrase 7", "new_password2": "a new long passphrase 7"},
    )
    assert done.status_code == 302
    # Through the sign-in form: django-axes, which guards every sign-in, needs the request.
    signed_in = client.post("/accounts/login/", {"username": "kari", "password": "a new long passphrase 7"})
    assert signed_in.status_code == 302 and client.session.get("_auth_user_id")


def test_language_is_remembered_per_user(client, viewer):
    client.force_login(viewer)
    client.post("/i18n/setlang/", {"language": "en", "next": "/services/"})
    assert ReportPreference.objects.get(user=viewer).language == "en"
    client.logout()
    client.cookies.clear()
    response = client.post("/accounts/login/", {"username": "viewer", "password": "correct horse battery staple"})
    assert response.cookies["django_language"].value == "en"
    page = client.get("/services/")
    assert '<html lang="en"' in page.content.decode()


def test_edit_page_and_chooser_query_counts_are_constant(client, editor, lead, owner, django_assert_num_queries):
    service = ServiceFactory(owner=owner)
    client.force_login(editor)
    for n in (1, 20):
        for _ in range(n):
            dependency_add(service=service, depends_on_service=ServiceFactory(owner=owner))
        # 1 session, 2 user, 3 the service with its owner, 4 is the user a lead, 5 the user's memberships.
        with django_assert_num_queries(5):
            assert client.get(f"/services/{service.pk}/edit/").status_code == 200
    client.force_login(lead)
    for n in (1, 20):
        for i in range(n):
            ServiceFactory(owner=ServiceOwnerFactory(code=f"q{n}x{i}"))
        # 1 session, 2 user, 3 memberships (none: no need to ask whether a lead), 4 owners with counts.
        with django_assert_num_queries(4):
            assert client.get("/").status_code == 200
