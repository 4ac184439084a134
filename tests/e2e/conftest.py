"""Browser tests: Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

Chromium comes from the system (/usr/bin/chromium), never from ``playwright install``. Without it the
tests skip locally and fail in CI (REQUIRE_SERVICES=1). When a test fails, every open page and the main
pages are saved as screenshots under ``test-artifacts/`` (the CI output folder).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import require_service

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run in a thread with
# a running loop unless told that this is deliberate. The tests call the ORM between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "correct horse battery staple"
MAIN_PAGES = {"home": "/", "services": "/services/", "capabilities": "/capabilities/", "programme": "/programme/"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator:
    require_service("Chromium", CHROMIUM.exists(), str(CHROMIUM))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(request, browser, live_server) -> Iterator[Callable]:
    """``open_page(user=None)``: a page in a fresh browser context, signed in as ``user`` when given
    (by a session cookie: the sign-in form itself is exercised by the owner's test)."""
    from django.conf import settings
    from django.test import Client

    contexts = []

    def make(user=None, language: str = "en"):
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale=language
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME]
            context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
        return context.new_page()

    yield make
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / ".gitignore").write_text("*\n")
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for n, context in enumerate(contexts):
            for m, page in enumerate(context.pages):
                # A failed screenshot must not hide the test's own failure.
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(ARTIFACTS / f"{name}-context{n}-page{m}.png"), full_page=True)
        if contexts:
            page = contexts[0].new_page()
            for key, path in MAIN_PAGES.items():
                with contextlib.suppress(Exception):
                    page.goto(path)
                    page.screenshot(path=str(ARTIFACTS / f"{name}-main-{key}.png"), full_page=True)
    for context in contexts:
        context.close()


def axe_violations(page) -> list[dict]:
    """Run axe-core (from node_modules) on the page: the serious and critical WCAG 2.1 A/AA violations."""
    # Evaluated through DevTools rather than added as a <script> element: the Content-Security-Policy
    # (script-src 'self') refuses inline scripts, and axe is not served by the site.
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            resultTypes: ["violations"],
        })"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
