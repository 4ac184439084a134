"""The Content-Security-Policy in a real browser: every page reachable in the UI, for the users who reach
it, loads and works with no violation reported (no inline script or style, no eval, nothing from elsewhere).

Violations are caught three ways, because Chromium reports them differently by source: the
``securitypolicyviolation`` event in each document, the console message Chromium prints, and htmx's own
``htmx:evalDisallowedError`` (an attribute that would need eval, which the policy forbids).
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from migration_app.choices import Altinn3Target, MembershipRole, MigrationStatus
from migration_app.services.dependencies import dependency_add
from migration_app.services.recompute import portfolio_recompute
from migration_app.services.snapshots import progress_snapshot_take
from tests.e2e.conftest import PASSWORD
from tests.factories import (
    CapabilityFactory,
    MembershipFactory,
    ServiceFactory,
    ServiceOwnerFactory,
    UserFactory,
    make_lead,
)

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Runs in every document and frame before its own scripts (through DevTools, so the policy does not apply).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} in ${event.documentURI}`);
});
document.addEventListener("htmx:evalDisallowedError", (event) => {
  window.__violations.push(`htmx wanted eval on ${event.target.outerHTML.slice(0, 120)}`);
});
"""


@pytest.fixture
def world():
    skd = ServiceOwnerFactory(code="skd", name_nb="Skatteetaten", name_en="Norwegian Tax Administration")
    brg = ServiceOwnerFactory(code="brg", name_nb="Brønnøysundregistrene", name_en="Brønnøysund Register Centre")
    plan = {"target": Altinn3Target.ALTINN_APP, "target_date": datetime.date.today() + datetime.timedelta(days=60)}
    register = ServiceFactory(
        service_code="2000", name_en="Register lookup", owner=brg, status=MigrationStatus.TESTING, **plan
    )
    tax = ServiceFactory(
        service_code="1000", name_en="Tax return", owner=skd, status=MigrationStatus.DEVELOPMENT, **plan
    )
    dependency_add(service=tax, depends_on_service=register)
    CapabilityFactory(key="payment", name_nb="Betaling", name_en="Payment")
    owner_user = MembershipFactory(user=UserFactory(username="eier"), owner=skd, role=MembershipRole.EDITOR).user
    progress_snapshot_take()
    portfolio_recompute()
    admin = get_user_model().objects.create_superuser("admin", "admin@example.no", PASSWORD)
    return {"tax": tax, "owner": owner_user, "lead": make_lead(), "admin": admin}


def watched(open_page, user=None):
    """A page whose documents record violations, and a list the console messages about them land in."""
    page = open_page(user)
    page.context.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    page.on(
        "console",
        lambda message: console.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.on("pageerror", lambda error: console.append(f"page error: {error}"))
    return page, console


def violations(page) -> list[str]:
    found = []
    for frame in page.frames:
        found += frame.evaluate("() => window.__violations || []")
    return found


def test_no_page_violates_the_content_security_policy(open_page, world):
    tax = world["tax"]
    found: dict[str, list[str]] = {}

    def visit(page, console, name: str, url: str, ready=None) -> None:
        response = page.goto(url)
        assert response is not None and response.ok, f"{name}: {response and response.status}"
        assert "script-src 'self'" in response.headers["content-security-policy"], name
        page.wait_for_load_state("load")
        if ready is not None:
            ready(page)
        found[name] = violations(page) + console[:]
        console.clear()

    anonymous, console = watched(open_page)
    visit(anonymous, console, "sign-in", "/accounts/login/")
    visit(anonymous, console, "password reset", "/accounts/password-reset/")
    # Swagger UI from the sidecar, its start-up script from a URL: it renders the operations.
    visit(
        anonymous,
        console,
        "API docs",
        "/api/docs/",
        lambda p: expect(p.locator(".opblock").first).to_be_visible(timeout=30_000),
    )

    owner, console = watched(open_page)
    # Signing in through the form, then the pages an editor uses.
    owner.goto("/accounts/login/")
    owner.get_by_label("Username").fill("eier")
    owner.get_by_label("Password").fill(PASSWORD)
    owner.get_by_role("button", name="Log in").click()
    expect(owner.get_by_role("heading", name="What blocks us")).to_be_visible()
    found["sign-in, signed in"] = violations(owner) + console[:]
    console.clear()

    def catalog_filters_with_htmx(page) -> None:
        # A select applies at once through htmx (the trigger names its selects by CSS, not by eval).
        page.get_by_label("Readiness").select_option("blocked")
        expect(page).to_have_url(re.compile(r"readiness=blocked"))
        expect(page.locator("#service-results tbody tr")).to_have_count(1)

    visit(owner, console, "my organisation", "/")
    visit(owner, console, "catalog", "/services/", catalog_filters_with_htmx)
    visit(owner, console, "service detail", f"/services/{tax.pk}/")
    visit(owner, console, "edit", f"/services/{tax.pk}/edit/")
    visit(owner, console, "dependencies", f"/services/{tax.pk}/dependencies/")
    visit(owner, console, "capabilities", "/capabilities/")
    visit(owner, console, "report preferences", "/reports/preferences/")

    lead, console = watched(open_page, world["lead"])

    def charts_drawn(page) -> None:
        expect(page.locator("canvas").first).to_be_visible()
        page.wait_for_function("() => [...document.querySelectorAll('canvas')].every((c) => c.width > 0)")

    def email_framed(page) -> None:
        # The e-mail's HTML, with its inline styles, in the sandboxed frame (a refused style would be reported).
        frame = page.frame_locator("iframe.tracker-email-frame")
        expect(frame.locator("[style]").first).to_be_visible()

    visit(lead, console, "programme dashboard", "/programme/", charts_drawn)
    visit(lead, console, "report preview", "/reports/preview/", email_framed)

    admin, console = watched(open_page, world["admin"])
    visit(admin, console, "admin index", "/admin/")
    visit(admin, console, "admin services", "/admin/migration_app/service/")
    visit(admin, console, "admin service", f"/admin/migration_app/service/{tax.pk}/change/")
    visit(admin, console, "admin sign-in attempts", "/admin/axes/accessattempt/")

    assert len(found) == 17
    assert {name: reports for name, reports in found.items() if reports} == {}
