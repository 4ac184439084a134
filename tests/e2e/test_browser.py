"""What users do in a real browser: an owner sees a blocked service become ready, a viewer cannot edit,
two editors of one service end with one conflict message and no lost data, the language switch works,
and axe-core finds no serious or critical accessibility violation on any page."""

from __future__ import annotations

import datetime
import re
import time

import pytest
from django.conf import settings
from playwright.sync_api import expect

from migration_app.choices import Altinn3Target, MembershipRole, MigrationStatus
from migration_app.models import Service
from migration_app.services.dependencies import dependency_add
from migration_app.services.recompute import portfolio_recompute
from migration_app.services.snapshots import progress_snapshot_take
from tests.e2e.conftest import PASSWORD, axe_violations
from tests.factories import (
    CapabilityFactory,
    MembershipFactory,
    ServiceFactory,
    ServiceOwnerFactory,
    UserFactory,
    make_lead,
)

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def world():
    """skd's tax return waits for brg's register lookup (another owner's service, in testing)."""
    skd = ServiceOwnerFactory(code="skd", name_nb="Skatteetaten", name_en="Norwegian Tax Administration")
    brg = ServiceOwnerFactory(code="brg", name_nb="Brønnøysundregistrene", name_en="Brønnøysund Register Centre")
    plan = {"target": Altinn3Target.ALTINN_APP, "target_date": datetime.date.today() + datetime.timedelta(days=90)}
    register = ServiceFactory(
        service_code="2000",
        name_nb="Enhetsregisteret oppslag",
        name_en="Register lookup",
        owner=brg,
        status=MigrationStatus.TESTING,
        **plan,
    )
    tax = ServiceFactory(
        service_code="1000",
        name_nb="Skattemelding",
        name_en="Tax return",
        owner=skd,
        status=MigrationStatus.DEVELOPMENT,
        contact_name="Kari",
        **plan,
    )
    for n in range(3):
        ServiceFactory(service_code=f"30{n}", owner=skd, **plan)
    dependency_add(service=tax, depends_on_service=register)
    CapabilityFactory(key="payment", name_nb="Betaling", name_en="Payment")
    owner_user = MembershipFactory(user=UserFactory(username="eier"), owner=skd, role=MembershipRole.EDITOR).user
    brg_user = MembershipFactory(user=UserFactory(username="eier-brg"), owner=brg, role=MembershipRole.EDITOR).user
    viewer = MembershipFactory(user=UserFactory(username="leser"), owner=skd, role=MembershipRole.VIEWER).user
    progress_snapshot_take()
    portfolio_recompute()
    return {
        "tax": tax,
        "register": register,
        "owner": owner_user,
        "brg": brg_user,
        "viewer": viewer,
        "lead": make_lead(),
    }


def _recompute_and_wait(page, url: str, text: str, timeout: float = 15) -> None:
    """In-process (no REDIS_URL) the recompute ran after the commit; with a broker and no worker in this
    test, the test runs it itself. Then reload until the page shows ``text``."""
    if settings.REDIS_URL:
        portfolio_recompute()
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        if page.get_by_text(text, exact=True).count() or time.monotonic() > deadline:
            break
        time.sleep(0.3)


def test_owner_sees_a_blocked_service_become_ready(open_page, world):
    register = world["register"]
    page = open_page()
    # Sign in with the form, and land on the organisation's page.
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("eier")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/organisations/skd/$"))
    expect(page.get_by_role("heading", name="What blocks us")).to_be_visible()

    # Filter the catalog to blocked services: htmx swaps the table and the URL stays shareable.
    page.get_by_role("link", name="Services", exact=True).click()
    page.get_by_label("Readiness").select_option("blocked")
    expect(page).to_have_url(re.compile(r"readiness=blocked"))
    rows = page.locator("#service-results tbody tr")
    expect(rows).to_have_count(1)
    page.get_by_role("link", name="Tax return").click()
    # Why it is blocked: the other owner's service, linked.
    blockers = page.locator(".tracker-blockers")
    expect(blockers).to_contain_text("Waiting for")
    expect(blockers.get_by_role("link", name="2000/1 Enhetsregisteret oppslag")).to_be_visible()
    tax_url = page.url

    # In another session, the register's owner marks it as in production.
    other = open_page(world["brg"])
    other.goto(f"/services/{register.pk}/")
    other.get_by_label("New status").select_option(MigrationStatus.IN_PRODUCTION)
    other.get_by_role("button", name="Save status").click()
    expect(other.get_by_text("The status was changed.")).to_be_visible()

    _recompute_and_wait(page, tax_url, "Ready")
    expect(page.locator("#readiness-heading + p .ds-tag").first).to_have_text("Ready")
    expect(page.locator(".tracker-blockers")).to_have_count(0)


def test_viewer_cannot_edit(open_page, world):
    tax = world["tax"]
    page = open_page(world["viewer"])
    page.goto(f"/services/{tax.pk}/")
    expect(page.get_by_role("heading", name="Tax return")).to_be_visible()
    expect(page.get_by_role("link", name="Edit details")).to_have_count(0)
    expect(page.get_by_role("button", name="Save status")).to_have_count(0)
    expect(page.get_by_role("button", name="Add dependency")).to_have_count(0)
    response = page.goto(f"/services/{tax.pk}/edit/")
    assert response.status == 403


def test_two_editors_one_conflict_no_lost_data(open_page, world):
    tax = world["tax"]
    first, second = open_page(world["owner"]), open_page(world["lead"])
    for page in (first, second):
        page.goto(f"/services/{tax.pk}/edit/")
    first.get_by_label("Responsible contact").fill("Ola")
    first.get_by_role("button", name="Save").click()
    expect(first.get_by_text("Your changes were saved.")).to_be_visible()

    second.get_by_label("Yearly volume").fill("4242")
    second.get_by_role("button", name="Save").click()
    conflict = second.locator("#conflict")
    expect(conflict).to_have_count(1)
    expect(conflict).to_contain_text("Someone else saved this service while you were editing")
    expect(conflict).to_contain_text("Ola")
    tax.refresh_from_db()
    assert (tax.contact_name, tax.yearly_volume) == ("Ola", 1000)  # the second save did not overwrite

    second.get_by_role("button", name="Save my changes again").click()
    expect(second.get_by_text("Your changes were saved.")).to_be_visible()
    tax.refresh_from_db()
    assert (tax.contact_name, tax.yearly_volume) == ("Ola", 4242)  # both edits kept
    assert second.locator("#conflict").count() == 0


def test_language_switch(open_page, world):
    page = open_page(world["owner"], language="nb")
    page.goto("/services/")
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    expect(page.get_by_role("heading", name="Tjenester", exact=True)).to_be_visible()
    page.get_by_label("Språk").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Services", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/services/$"))
    # Remembered for the user: a new browser signed in as the same user gets English.
    from migration_app.models import ReportPreference

    assert ReportPreference.objects.get(user=world["owner"]).language == "en"


def test_keyboard_adds_a_dependency_with_htmx(open_page, world):
    tax = world["tax"]
    page = open_page(world["owner"])
    page.goto(f"/services/{tax.pk}/")
    page.get_by_label("or a platform capability").select_option(label="Betaling")
    page.get_by_role("button", name="Add dependency").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#needs")).to_contain_text("Payment")
    assert Service.objects.get(pk=tax.pk).dependencies.count() == 2
    # Another organisation's service offers no editing controls to this owner.
    register = world["register"]
    page.goto(f"/services/{register.pk}/")
    assert page.get_by_label("Another service").count() == 0  # the owner of skd cannot edit brg's service


def _tab_to(page, locator, *, max_tabs: int = 120) -> None:
    """Press Tab until ``locator`` has focus: proves it is in the keyboard's tab order, reachable
    without a mouse, and leaves the focus there for the keys that follow."""
    handle = locator.element_handle()
    for _ in range(max_tabs):
        page.keyboard.press("Tab")
        if page.evaluate("(el) => el === document.activeElement", handle):
            return
    raise AssertionError(f"{locator} is not reachable with Tab")


def test_keyboard_only_search_status_change_and_edit(open_page, world):
    """Every step by keyboard alone: search the catalog, open a service, change its status with a
    comment, then edit a field and save."""
    tax = world["tax"]
    page = open_page(world["owner"])
    page.goto("/services/")
    _tab_to(page, page.get_by_label("Search"))
    page.keyboard.type("Skattemelding")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"q=Skattemelding"))
    expect(page.locator("#service-results tbody tr")).to_have_count(1)
    _tab_to(page, page.get_by_role("link", name="Tax return"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/services/{tax.pk}/$"))

    # Status: a closed <select> changes with the arrow keys; the comment is typed; Enter submits.
    _tab_to(page, page.get_by_label("New status"))
    page.keyboard.press("ArrowDown")
    chosen = page.get_by_label("New status").input_value()
    _tab_to(page, page.get_by_label("Comment"))
    page.keyboard.type("Ready for acceptance test")
    _tab_to(page, page.get_by_role("button", name="Save status"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("The status was changed.")).to_be_visible()
    tax.refresh_from_db()
    assert tax.status == chosen != MigrationStatus.DEVELOPMENT

    # Edit a field and save, by keyboard.
    _tab_to(page, page.get_by_role("link", name="Edit details"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/services/{tax.pk}/edit/$"))
    _tab_to(page, page.get_by_label("Responsible contact"))
    page.keyboard.press("Control+A")
    page.keyboard.type("Per Tastatur")
    _tab_to(page, page.get_by_role("button", name="Save", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Your changes were saved.")).to_be_visible()
    tax.refresh_from_db()
    assert tax.contact_name == "Per Tastatur"


def test_axe_finds_no_serious_violations(open_page, world, capsys):
    tax = world["tax"]
    pages = {
        "login": (None, "/accounts/login/"),
        "password reset": (None, "/accounts/password-reset/"),
        "my organisation": (world["owner"], "/organisations/skd/"),
        "organisation chooser": (world["lead"], "/"),
        "services": (world["owner"], "/services/?readiness=blocked"),
        "service detail (editor)": (world["owner"], f"/services/{tax.pk}/"),
        "service detail (viewer)": (world["viewer"], f"/services/{tax.pk}/"),
        "edit": (world["owner"], f"/services/{tax.pk}/edit/"),
        "dependencies": (world["owner"], f"/services/{tax.pk}/dependencies/"),
        "capabilities": (world["owner"], "/capabilities/"),
        "programme": (world["lead"], "/programme/"),
    }
    found = {}
    pages_by_user = {}
    for name, (user, url) in pages.items():
        key = user.pk if user else None
        if key not in pages_by_user:
            pages_by_user[key] = open_page(user)
        page = pages_by_user[key]
        page.goto(url)
        page.wait_for_load_state("load")
        found[name] = axe_violations(page)
    with capsys.disabled():
        print("\naxe-core (WCAG 2.1 A/AA), serious or critical violations per page:")
        for name, violations in found.items():
            print(f"  {name}: {len(violations)}" + "".join(f"\n    {v}" for v in violations))
    assert found == {name: [] for name in pages}
