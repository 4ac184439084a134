"""The pages: sign-in, the catalog (filters, search, sorting, paging, htmx), a service, the programme."""

from __future__ import annotations

import datetime
from urllib.parse import unquote

import pytest
from django.urls import reverse

from migration_app.choices import CapabilityStatus, DependencyStrength, MigrationStatus, ServiceType
from migration_app.models import Milestone, Service
from migration_app.services.catalog import service_change_status
from migration_app.services.dependencies import dependency_add
from migration_app.services.recompute import portfolio_recompute
from tests.factories import CapabilityFactory, ServiceFactory, ServiceOwnerFactory, UserFactory

LIST_URL = "/services/"


@pytest.fixture
def member_client(client, viewer):
    """A signed-in member of an organisation with read access (every signed-in user may read)."""
    client.force_login(viewer)
    return client


@pytest.fixture
def english_client(member_client):
    member_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return member_client


def listed(response) -> list[str]:
    return [s.natural_key_label for s in response.context["rows"]]


# --- Signing in ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", LIST_URL, "/services/1/", "/services/3906/1/", "/programme/"])
def test_pages_send_anonymous_visitors_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_root_sends_a_member_of_one_organisation_to_its_page(member_client):
    response = member_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/organisations/skd/"


def test_login_page_signs_in_and_lands_on_the_home_page(client, db):
    UserFactory(username="kari")
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'name="password"' in page.content
    response = client.post("/accounts/login/", {"username": "kari", "password": "correct horse battery staple"})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_wrong_password_is_refused_with_a_message(client, db):
    UserFactory(username="kari")
    response = client.post("/accounts/login/", {"username": "kari", "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert b'role="alert"' in response.content


def test_logout_is_a_post_and_returns_to_login(member_client):
    assert member_client.get("/accounts/logout/").status_code == 405
    response = member_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert member_client.get(LIST_URL).status_code == 302


def test_header_shows_user_navigation_logout_and_language_switch(member_client, viewer):
    content = member_client.get(LIST_URL).content.decode()
    assert 'class="ds-skip-link" href="#main"' in content
    assert '<main id="main"' in content
    assert viewer.get_username() in content
    assert 'action="/accounts/logout/" method="post"' in content
    assert 'action="/i18n/setlang/"' in content
    assert 'href="/programme/"' in content


def test_html_lang_follows_the_active_language(member_client):
    assert b'<html lang="nb"' in member_client.get(LIST_URL).content
    assert b'<html lang="en"' in member_client.get(LIST_URL, HTTP_ACCEPT_LANGUAGE="en").content


def test_language_switch_sets_the_language(member_client):
    response = member_client.post("/i18n/setlang/", {"language": "en", "next": LIST_URL})
    assert response.status_code == 302
    assert b'<html lang="en"' in member_client.get(LIST_URL).content


def test_design_system_and_htmx_are_served_from_node_modules(member_client):
    content = unquote(member_client.get(LIST_URL).content.decode())  # "@" is quoted as %40 in URLs
    for asset in (
        "@digdir/designsystemet-css/dist/src/index.css",
        "@digdir/designsystemet-theme/brand/altinn.css",
        "htmx.org/dist/htmx.min.js",
    ):
        assert asset in content
    from django.contrib.staticfiles import finders

    assert finders.find("@digdir/designsystemet-css/dist/src/index.css")
    assert finders.find("@digdir/designsystemet-theme/brand/altinn.css")
    assert finders.find("htmx.org/dist/htmx.min.js")


# --- The catalog -----------------------------------------------------------------------------------


def test_catalog_lists_services_with_their_columns(member_client, owner):
    ServiceFactory(
        service_code="3906",
        edition_code=2,
        name_nb="Skattemelding for formuesskatt",
        owner=owner,
        yearly_volume=1234567,
        target_date=datetime.date(2026, 3, 1),
    )
    response = member_client.get(LIST_URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert "3906/2" in content
    assert "Skattemelding for formuesskatt" in content
    assert "Skatteetaten" in content
    assert "2026-03-01" in content  # the <time datetime> of the target date
    assert "Ikke beregnet ennå" in content or "Not computed yet" in content  # no recompute has run yet
    assert listed(response) == ["3906/2"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"owner": "skd"}, ["1000/1", "1001/1"]),
        ({"owner": "brg"}, ["2000/1"]),
        ({"type": ServiceType.CORRESPONDENCE}, ["1001/1"]),
        ({"status": MigrationStatus.ANALYSIS}, ["2000/1"]),
        ({"owner": "skd", "status": MigrationStatus.NOT_STARTED}, ["1000/1", "1001/1"]),
        ({"status": [MigrationStatus.ANALYSIS, MigrationStatus.NOT_STARTED]}, ["1000/1", "1001/1", "2000/1"]),
        ({"q": "moms"}, ["1000/1"]),  # name, case-insensitive
        ({"q": "VAT"}, ["1000/1"]),  # English name
        ({"q": "200"}, ["2000/1"]),  # service code
        ({"q": "utgave 2025"}, ["1001/1"]),  # edition name
        ({"q": "2000/1"}, ["2000/1"]),  # Altinn II key
        ({"owner": "", "type": "", "status": "", "q": ""}, ["1000/1", "1001/1", "2000/1"]),  # "All"
    ],
)
def test_catalog_filters(member_client, owner, other_owner, query, expected):
    # Every searched text is fixed here: the factory's numbered names ("Form 1200") would match "200"
    # depending on how many services earlier tests made.
    ServiceFactory(service_code="1000", name_nb="Mva-melding (moms)", name_en="VAT return", owner=owner)
    ServiceFactory(
        service_code="1001",
        name_nb="Varsel om skatt",
        name_en="Tax notice",
        edition_name="Utgave 2025",
        owner=owner,
        service_type=ServiceType.CORRESPONDENCE,
    )
    moving = ServiceFactory(service_code="2000", name_nb="Årsregnskap", name_en="Annual accounts", owner=other_owner)
    service_change_status(service=moving, to_status=MigrationStatus.ANALYSIS)
    response = member_client.get(LIST_URL, query)
    assert response.status_code == 200
    assert listed(response) == expected


def test_unknown_filter_value_shows_an_error_and_no_rows(member_client, owner):
    ServiceFactory(owner=owner)
    response = member_client.get(LIST_URL, {"owner": "nosuchorg"})
    assert response.status_code == 200
    assert response.context["form"].errors["owner"]
    assert listed(response) == []


def test_filter_form_works_without_javascript_and_with_htmx(member_client, owner):
    content = member_client.get(LIST_URL).content.decode()
    assert 'method="get" action="/services/"' in content
    assert 'hx-get="/services/"' in content
    assert 'hx-push-url="true"' in content
    assert 'hx-target="#service-results"' in content


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("volume", ["1002/1", "1000/1", "1001/1"]),
        ("-volume", ["1001/1", "1000/1", "1002/1"]),
        ("code", ["1000/1", "1001/1", "1002/1"]),
        ("-code", ["1002/1", "1001/1", "1000/1"]),
        ("name", ["1001/1", "1002/1", "1000/1"]),
        ("owner", ["1002/1", "1000/1", "1001/1"]),
        # Lifecycle order, not the alphabet: not started < analysis < development.
        ("status", ["1000/1", "1002/1", "1001/1"]),
        # Services without a target date come last in both directions.
        ("target_date", ["1001/1", "1000/1", "1002/1"]),
        ("-target_date", ["1000/1", "1001/1", "1002/1"]),
        ("nonsense", ["1000/1", "1001/1", "1002/1"]),  # not whitelisted: default order
        ("-yearly_volume", ["1000/1", "1001/1", "1002/1"]),  # a column name is not a sort key
    ],
)
def test_catalog_sorting(member_client, owner, other_owner, sort, expected):
    ServiceFactory(
        service_code="1000", name_nb="Cecilie", owner=owner, yearly_volume=500, target_date=datetime.date(2026, 5, 1)
    )
    developing = ServiceFactory(
        service_code="1001", name_nb="Anne", owner=owner, yearly_volume=900, target_date=datetime.date(2026, 1, 1)
    )
    analysing = ServiceFactory(service_code="1002", name_nb="Berit", owner=other_owner, yearly_volume=100)
    service_change_status(service=developing, to_status=MigrationStatus.ANALYSIS)
    service_change_status(service=developing, to_status=MigrationStatus.DEVELOPMENT)
    service_change_status(service=analysing, to_status=MigrationStatus.ANALYSIS)
    response = member_client.get(LIST_URL, {"sort": sort})
    assert listed(response) == expected


def test_sort_headers_toggle_and_keep_filters(member_client, owner):
    ServiceFactory(owner=owner)
    response = member_client.get(LIST_URL, {"owner": "skd", "sort": "volume", "page": "1"})
    content = response.content.decode()
    # The active column says so to assistive technology, and a click reverses it; filters stay, page resets.
    assert 'aria-sort="ascending"' in content
    assert 'href="/services/?owner=skd&amp;sort=-volume"' in content
    assert 'href="/services/?owner=skd&amp;sort=name"' in content
    # Changing a filter keeps the chosen sort: the hidden field belongs to the filter form.
    assert '<input type="hidden" name="sort" value="volume" form="service-filter">' in content


def test_name_follows_the_language_with_bokmal_fallback(english_client, owner):
    ServiceFactory(service_code="1000", name_nb="Mva-melding", name_en="VAT return", owner=owner)
    ServiceFactory(service_code="1001", name_nb="Bare bokmål", name_en="", owner=owner)
    content = english_client.get(LIST_URL).content.decode()
    assert "VAT return" in content
    assert "Mva-melding" not in content
    assert "Bare bokmål" in content
    assert "Norwegian Tax Administration" in content  # the owner's English name
    response = english_client.get(LIST_URL, {"sort": "name"})
    assert listed(response) == ["1001/1", "1000/1"]  # "Bare bokmål" < "VAT return"


def test_htmx_request_gets_only_the_table(member_client, owner):
    ServiceFactory(name_nb="Lakseskatt", owner=owner)
    response = member_client.get(LIST_URL, {"q": "laks"}, HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert '<table class="ds-table"' in content
    assert "Lakseskatt" in content
    assert "HX-Request" in response["Vary"]
    assert response.templates[0].name == "migration_app/partials/service_table.html"


def test_htmx_history_restore_gets_the_whole_page(member_client, owner):
    response = member_client.get(LIST_URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert b"<html" in response.content


def test_pagination_fifty_per_page(member_client, owner):
    ServiceFactory.create_batch(60, owner=owner)
    first = member_client.get(LIST_URL)
    assert len(first.context["rows"]) == 50
    assert first.context["page"].paginator.num_pages == 2
    assert b'class="ds-pagination' in first.content
    second = member_client.get(LIST_URL, {"page": 2})
    assert len(second.context["rows"]) == 10
    assert not set(listed(first)) & set(listed(second))
    # Out-of-range and nonsense pages fall back to a real page instead of failing.
    assert member_client.get(LIST_URL, {"page": 99}).context["page"].number == 2
    assert member_client.get(LIST_URL, {"page": "x"}).context["page"].number == 1


@pytest.mark.parametrize(("per_page", "expected"), [("10", 10), ("200", 200), ("5000", 200), ("0", 1), ("x", 50)])
def test_page_size_is_capped(member_client, per_page, expected):
    response = member_client.get(LIST_URL, {"per_page": per_page})
    assert response.context["page"].paginator.per_page == expected


def test_catalog_query_count_is_constant(member_client, django_assert_num_queries, owner, other_owner):
    def create(n: int) -> None:
        for i in range(n):
            ServiceFactory(owner=owner if i % 2 else other_owner)

    for n in (5, 50):
        create(n)
        # 1 session, 2 user, 3 count for the paginator, 4 the page of rows with owners joined,
        # 5 the owners offered in the filter, 6 the capabilities offered in the filter.
        with django_assert_num_queries(6):
            response = member_client.get(LIST_URL, {"sort": "-volume"})
        assert response.status_code == 200
        # 1 session, 2 user, 3 the owner codes checked by the filter, 4 count, 5 rows, 6 the owners offered,
        # 7 the capabilities offered.
        with django_assert_num_queries(7):
            member_client.get(LIST_URL, {"owner": "skd", "status": MigrationStatus.NOT_STARTED, "q": "Skjema"})
        # htmx: 1 session, 2 user, 3 count, 4 rows (no filter form in the fragment).
        with django_assert_num_queries(4):
            member_client.get(LIST_URL, {"sort": "name"}, HTTP_HX_REQUEST="true")


# --- One service -----------------------------------------------------------------------------------


@pytest.fixture
def web(owner, other_owner):
    """tax needs register (a service of another owner) and the payment capability; portal needs tax."""
    register = ServiceFactory(service_code="2000", name_nb="Enhetsregisteret oppslag", owner=other_owner)
    tax = ServiceFactory(service_code="1000", edition_code=3, name_nb="Skattemelding", owner=owner)
    portal = ServiceFactory(service_code="3000", name_nb="Portalinnsyn", owner=owner)
    payment = CapabilityFactory(
        key="payment", name_nb="Betaling", status=CapabilityStatus.IN_PROGRESS, planned_date=datetime.date(2024, 6, 30)
    )
    dependency_add(service=tax, depends_on_service=register, note="Reads the register")
    dependency_add(service=tax, depends_on_capability=payment, strength=DependencyStrength.SOFT)
    dependency_add(service=portal, depends_on_service=tax)
    return {"register": register, "tax": tax, "portal": portal, "payment": payment}


def test_detail_shows_fields_dependencies_both_ways_and_history(member_client, web, editor):
    tax = web["tax"]
    service_change_status(service=tax, to_status=MigrationStatus.ANALYSIS, user=editor, comment="Kick-off")
    service_change_status(service=tax, to_status=MigrationStatus.DEVELOPMENT, user=editor)
    service_change_status(service=tax, to_status=MigrationStatus.ANALYSIS, user=editor, comment="Design must be redone")
    response = member_client.get(f"/services/{tax.pk}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Skattemelding" in content
    assert "Skatteetaten (skd)" in content
    # What it needs: the other service with its owner and status, the capability with roadmap status and date.
    assert "2000/1 Enhetsregisteret oppslag" in content
    assert "Brønnøysundregistrene" in content
    assert "Reads the register" in content
    assert "Betaling" in content
    assert "30.06.2024" in content
    # Who depends on it.
    assert "3000/1 Portalinnsyn" in content
    # History, newest first, with who and the comments.
    history = response.context["history"]
    assert [(c.from_status, c.to_status) for c in history] == [
        (MigrationStatus.DEVELOPMENT, MigrationStatus.ANALYSIS),
        (MigrationStatus.ANALYSIS, MigrationStatus.DEVELOPMENT),
        (MigrationStatus.NOT_STARTED, MigrationStatus.ANALYSIS),
    ]
    assert "Design must be redone" in content
    assert "Kick-off" in content
    assert "editor" in content


def test_detail_query_count_is_constant(member_client, django_assert_num_queries, web, owner, lead):
    tax = web["tax"]
    for n in (1, 8):
        for _ in range(n):
            needed = ServiceFactory(owner=owner)
            dependency_add(service=tax, depends_on_service=needed)
            dependency_add(service=tax, depends_on_capability=CapabilityFactory())
            dependency_add(service=ServiceFactory(owner=owner), depends_on_service=tax)
        for status in (MigrationStatus.ANALYSIS, MigrationStatus.NOT_STARTED):
            service_change_status(service=tax, to_status=status, user=lead, comment="again")
        portfolio_recompute()
        # 1 session, 2 user, 3 the service with its owner, 4 what it needs (services with owners, and
        # capabilities), 5 who depends on it (with owners), 6 the status history with who changed it,
        # readiness: 7 the stored row, 8 the services its blockers name (with owners), 9 the
        # capabilities they name, 10 the freshness row, 11 is the user a lead, 12 the user's memberships
        # (may they edit: a viewer here, so no edit controls and no capability list for the add form).
        with django_assert_num_queries(12):
            response = member_client.get(f"/services/{tax.pk}/")
        assert response.status_code == 200


def test_lookup_by_altinn2_key_redirects_to_the_service(member_client, web):
    response = member_client.get("/services/1000/3/")
    assert response.status_code == 302
    assert response["Location"] == f"/services/{web['tax'].pk}/"


def test_lookup_by_key_with_letters_and_colon(member_client, owner):
    scheme = ServiceFactory(service_code="AppId:64", edition_code=1, owner=owner)
    response = member_client.get("/services/AppId:64/1/", follow=True)
    assert response.status_code == 200
    assert response.context["service"] == scheme


@pytest.mark.parametrize("url", ["/services/999999/", "/services/1000/99/", "/services/nope/1/"])
def test_unknown_service_is_404(member_client, web, url):
    assert member_client.get(url).status_code == 404


def test_staff_see_links_to_change_status_and_edit(client, web):
    staff = UserFactory(username="staff", is_staff=True)
    client.force_login(staff)
    content = client.get(f"/services/{web['tax'].pk}/").content.decode()
    assert f"/admin/migration_app/service/{web['tax'].pk}/change/" in content


# --- The programme ---------------------------------------------------------------------------------


def test_programme_lists_the_milestones(member_client, django_assert_num_queries):
    Milestone.objects.create(key="kickoff", name_nb="Oppstart", name_en="Kick-off", date=datetime.date(2023, 1, 9))
    # 1 session, 2 user, 3 milestones, 4 stored results (none yet), 5 the freshness row, 6 the overall
    # snapshots for the burn-up, 7 this week's status changes.
    with django_assert_num_queries(7):
        response = member_client.get("/programme/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "Oppstart" in content
    # The seeded milestones (data, not constants), with the deadline marked.
    assert "Altinn II slås av" in content
    assert "2026-05-31" in content
    assert response.context["milestones"][0].key == "kickoff"


def test_programme_in_english(english_client):
    content = english_client.get("/programme/").content.decode()
    assert "Altinn II shut down" in content


def test_other_owners_services_are_visible_to_any_member(member_client, other_owner):
    # Reading the catalog is open to every signed-in user; only edits are limited to one's organisation.
    ServiceFactory(service_code="7777", owner=other_owner)
    assert listed(member_client.get(LIST_URL)) == ["7777/1"]


def test_detail_for_every_status_renders(member_client, owner):
    for status in MigrationStatus.values:
        service = ServiceFactory(owner=owner)
        Service.objects.filter(pk=service.pk).update(status=status)
        assert member_client.get(f"/services/{service.pk}/").status_code == 200
    assert ServiceOwnerFactory(code="empty")  # an owner without services does not break the filter list
    assert member_client.get(LIST_URL).status_code == 200


def test_catalog_and_detail_show_readiness_and_explained_blockers(member_client, owner, other_owner):
    """B waits for payment; A needs B: A's page names payment, its date, and the path through B."""
    payment = CapabilityFactory(key="payment", name_nb="Betaling", planned_date=datetime.date(2027, 3, 1))
    b = ServiceFactory(
        owner=other_owner, service_code="7001", target="AltinnApp", target_date=datetime.date(2026, 12, 1)
    )
    a = ServiceFactory(owner=owner, service_code="7002", target="AltinnApp", target_date=datetime.date(2026, 12, 1))
    dependency_add(service=b, depends_on_capability=payment)
    dependency_add(service=a, depends_on_service=b)
    portfolio_recompute()

    listing = member_client.get(LIST_URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Blocked" in listing or "Blokkert" in listing

    page = member_client.get(f"/services/{a.pk}/").content.decode()
    assert "Betaling" in page
    assert "2027" in page
    assert f'href="/services/{b.pk}/"' in page  # the path "B → payment" links to B


def test_programme_shows_progress_leverage_and_forecast(member_client, owner, django_assert_num_queries):
    payment = CapabilityFactory(key="payment", name_nb="Betaling")
    for _ in range(3):
        dependency_add(service=ServiceFactory(owner=owner, yearly_volume=100), depends_on_capability=payment)
    ServiceFactory(owner=owner, status=MigrationStatus.IN_PRODUCTION, yearly_volume=700)
    portfolio_recompute()
    # 1 session, 2 user, 3 milestones, 4 stored results, 5 owners named in progress, 6 capabilities
    # named in leverage, 7 services named in leverage (none here, so skipped), 7 the freshness row,
    # 8 the overall snapshots for the burn-up, 9 this week's status changes.
    with django_assert_num_queries(9):
        response = member_client.get("/programme/")
    overview = response.context["overview"]
    assert overview.overall.done_count == 1 and overview.overall.total_count == 4
    assert overview.leverage[0].capability == payment
    assert overview.leverage[0].transitive_count == 3
    assert overview.forecast is not None
    assert "Betaling" in response.content.decode()
