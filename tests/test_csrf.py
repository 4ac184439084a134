"""CSRF: every form and every session-authenticated write needs the token; API calls with a token in the
Authorization header do not, because nothing ambient (a cookie) authenticates them.

The URL patterns are enumerated from the resolver, so a view added later is covered without editing this
file. Each pattern gets a concrete URL (ids from a small catalog) and every unsafe method is sent by a
signed-in superuser who is also a project lead (so no permission check answers first): without the token
it must be refused for CSRF with nothing written; with it, it must not be. A pattern that is exempt on
purpose is listed in CSRF_EXEMPT with the reason, and tested on its own.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token
from rest_framework.views import APIView

from migration_app import emails
from migration_app.choices import MigrationStatus
from migration_app.models import Dependency, ReportPreference
from migration_app.services.catalog import service_change_status
from migration_app.services.dependencies import dependency_add
from tests.factories import CapabilityFactory, MembershipFactory, ServiceFactory, make_lead

pytestmark = pytest.mark.django_db

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# Route → why it takes unsafe methods without a CSRF token. Everything else must refuse them.
CSRF_EXEMPT = {
    "reports/unsubscribe/<str:token>/": (
        "One-click unsubscribe (RFC 8058): the mail client POSTs with no session and no CSRF token. The signed "
        "token in the URL is the credential, and the only effect is to opt that token's own user out."
    ),
    "api/v1/^.*/$": "Unknown API URLs: 404 in JSON for every method, without authentication; nothing is written.",
}


def url_patterns() -> Iterator[tuple[str, Any]]:
    """(route, view) for every URL pattern, the route being the patterns' strings joined, as Django does."""

    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, Any]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    yield from walk(get_resolver().url_patterns, "")


ROUTES = [route for route, _view in url_patterns()]
# <int:pk>, <path:object_id>, <name> and a regex's (?P<name>...)
ROUTE_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


@dataclass
class Catalog:
    """One of everything a URL can name, and the user who signs in."""

    user: Any
    owner: Any
    service: Any
    capability: Any
    dependency: Any
    milestone: Any


@pytest.fixture
def catalog(owner, other_owner) -> Catalog:
    user = make_lead("csrf-lead")
    user.is_staff = user.is_superuser = True
    user.email = "lead@example.no"
    user.save()
    MembershipFactory(user=user, owner=owner)
    service = ServiceFactory(owner=owner, service_code="3906", edition_code=2)
    upstream = ServiceFactory(owner=other_owner)
    capability = CapabilityFactory()
    dependency = dependency_add(service=service, depends_on_service=upstream)
    dependency_add(service=service, depends_on_capability=capability)
    service_change_status(service=service, to_status=MigrationStatus.ANALYSIS, user=user, comment="start")
    from migration_app.models import Milestone

    milestone = Milestone.objects.create(key="csrf-day", name_nb="Dag", date=datetime.date(2026, 5, 31))
    ReportPreference.objects.create(user=user)
    Token.objects.create(user=user)
    return Catalog(user, owner, service, capability, dependency, milestone)


def concrete_url(route: str, catalog: Catalog) -> str:
    """The route with every parameter filled from the catalog. An unknown parameter fails the test that
    meets it: teach ``parameter_value`` about it, so the new view is checked too."""
    filled = ROUTE_PARAMETER.sub(lambda m: parameter_value(route, m, catalog), route)
    return "/" + filled.replace("^", "").replace("$", "").replace(".*", "nothing-here/").replace("//", "/")


def parameter_value(route: str, match: re.Match, catalog: Catalog) -> str:
    name = match.group(1) or match.group(2)
    # The path segment before the parameter says what it names: "owners/<pk>", "services/<pk>", ...
    segment = route[: match.start()].rstrip("/").rsplit("/", 1)[-1].lstrip("^")
    user, service = catalog.user, catalog.service
    if name == "pk":
        by_segment = {
            "owners": catalog.owner,
            "capabilities": catalog.capability,
            "dependencies": catalog.dependency,
            "milestones": catalog.milestone,
            "services": service,
        }
        return str(by_segment[segment].pk)
    if name == "object_id":
        if route.startswith("admin/r/"):
            return str(service.pk)
        app_label, model_name = route.split("/")[1:3]
        first = apps.get_model(app_label, model_name).objects.order_by("pk").values_list("pk", flat=True).first()
        return str(first or 1)
    if name == "token" and "unsubscribe" in route:
        return emails.unsubscribe_token(user.pk)
    values = {
        "dependency_pk": str(catalog.dependency.pk),
        "code": catalog.owner.code,
        "service_code": service.service_code,
        "edition_code": str(service.edition_code),
        "content_type_id": str(ContentType.objects.get_for_model(service).pk),
        "id": str(user.pk),
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "app_label": "migration_app",
        "url": "nothing-here/",
    }
    if name not in values:
        raise AssertionError(f"test_csrf.py cannot fill <{name}> in {route!r}: add it to parameter_value")
    return values[name]


def database_state() -> list:
    """Every row of every table a write could touch (sessions change by signing in, and are left out)."""
    return [
        (model._meta.label, list(model._default_manager.order_by("pk").values_list()))
        for model in apps.get_models()
        if model is not Session
    ]


def signed_in(user: Any) -> Client:
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def csrf_token(client: Client) -> str:
    """The token a page of the tracker would give this client's browser."""
    page = client.get(reverse("reports:preferences")).content.decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, "the preferences page has no CSRF token"
    return found.group(1)


def is_csrf_refusal(response) -> bool:
    """Django's CSRF failure page and DRF's "CSRF Failed" both say so; a permission 403 does not."""
    return response.status_code == 403 and b"CSRF" in response.content


# --- Every URL pattern --------------------------------------------------------------------------------


def test_every_route_can_be_filled(catalog):
    """The walk reaches the views it means to: each concrete URL resolves back to its own pattern."""
    assert len(ROUTES) > 100  # the admin, the pages, the reports and the API
    for route, view in url_patterns():
        match = resolve(concrete_url(route, catalog).split("?")[0])
        assert match.func == view, f"{route} resolved to {match.route}"


def methods_to_send(view: Any) -> tuple[str, ...]:
    """Django applies CSRF to every unsafe method alike (CsrfViewMiddleware), so one POST shows whether a page
    view is protected, and an exempt one shows by answering something else. DRF checks CSRF inside the
    view's authentication, which a view may set per action: an API view is sent all four methods."""
    view_class = getattr(view, "cls", None)
    return UNSAFE_METHODS if view_class is not None and issubclass(view_class, APIView) else ("POST",)


def area(route: str) -> str:
    return route.split("/", 1)[0] if route.startswith(("admin/", "api/")) else "pages"


@pytest.mark.parametrize("checked_area", ["pages", "api", "admin"])
def test_unsafe_methods_need_the_csrf_token(catalog, checked_area):
    """Every pattern of the area, every unsafe method: without the token refused (403) with nothing written;
    with the token not refused for CSRF, whatever the view then makes of an empty request.

    Most refusals say "CSRF"; a view that renders its errors as a page of its own (the API docs) does not,
    and there the token making the difference (403 without, something else with) shows it was CSRF.
    """
    routes = [(route, view) for route, view in url_patterns() if area(route) == checked_area]
    routes = [(route, view) for route, view in routes if route not in CSRF_EXEMPT]
    client = signed_in(catalog.user)
    token = csrf_token(client)
    problems: list[str] = []

    without_token = {}
    before = database_state()
    for route, view in routes:
        url = concrete_url(route, catalog)
        for method in methods_to_send(view):
            response = client.generic(method, url)
            without_token[route, method] = response
            if response.status_code != 403:
                problems.append(f"{method} {url} ({route}) without a CSRF token: {response.status_code}")
    assert database_state() == before, "a write without a CSRF token changed the database"

    for route, view in routes:
        url = concrete_url(route, catalog)
        for method in methods_to_send(view):
            response = client.generic(method, url, HTTP_X_CSRFTOKEN=token)
            if is_csrf_refusal(response):
                problems.append(f"{method} {url} ({route}) refused for CSRF with a valid token")
            elif response.status_code == 403 and not is_csrf_refusal(without_token[route, method]):
                problems.append(f"{method} {url} ({route}): 403 with and without the token, so not shown to be CSRF")
            if "_auth_user_id" not in client.session:  # a sign-out pattern ended the session
                client.force_login(catalog.user)
            if settings.CSRF_COOKIE_NAME in response.cookies:  # a sign-in rotated the token
                token = response.cookies[settings.CSRF_COOKIE_NAME].value
    assert not problems, "\n".join(problems)
    assert len(routes) >= {"pages": 20, "api": 25, "admin": 80}[checked_area]


def test_exempt_routes_exist():
    """An exemption for a route that is gone would silently exempt whatever takes its place."""
    assert set(CSRF_EXEMPT) <= set(ROUTES)


def test_one_click_unsubscribe_is_exempt_but_needs_a_valid_signed_token(catalog):
    client = Client(enforce_csrf_checks=True)
    forged = emails.unsubscribe_token(catalog.user.pk)[:-4] + "abcd"
    assert client.post(reverse("reports:unsubscribe", args=[forged])).status_code == 400
    assert ReportPreference.objects.get(user=catalog.user).receive_weekly is True
    valid = client.post(reverse("reports:unsubscribe", args=[emails.unsubscribe_token(catalog.user.pk)]))
    assert valid.status_code == 200
    assert ReportPreference.objects.get(user=catalog.user).receive_weekly is False


def test_unknown_api_urls_are_404_for_every_method(catalog):
    client = signed_in(catalog.user)
    for method in UNSAFE_METHODS:
        response = client.generic(method, "/api/v1/nothing-here/")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")


# --- Token-authenticated API writes are exempt by design -----------------------------------------------


def test_api_writes_with_a_token_need_no_csrf_token(catalog):
    """A script's Token header is not sent by a browser on its own, so a forged cross-site request cannot
    carry it: DRF checks CSRF only for session authentication."""
    token = Token.objects.get(user=catalog.user).key
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {token}")
    service = catalog.service
    response = client.patch(
        f"/api/v1/services/{service.pk}/",
        {"notes": "from a script"},
        content_type="application/json",
        HTTP_IF_MATCH=f'"{service.version}"',
    )
    assert response.status_code == 200, response.content
    created = client.post(
        "/api/v1/dependencies/",
        {"service": catalog.dependency.depends_on_service_id, "depends_on_capability": catalog.capability.pk},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content


def test_a_session_cookie_beside_a_token_header_does_not_lift_the_check(catalog):
    """The same write by a browser that is signed in (session cookie) and sends no token header: refused."""
    client = signed_in(catalog.user)
    service = catalog.service
    response = client.patch(
        f"/api/v1/services/{service.pk}/",
        {"notes": "forged"},
        content_type="application/json",
        HTTP_IF_MATCH=f'"{service.version}"',
    )
    assert is_csrf_refusal(response)
    service.refresh_from_db()
    assert service.notes == ""


def test_a_token_from_another_site_is_refused_over_https(catalog):
    """Over https Django also checks the Origin: a valid token replayed from another site is refused."""
    client = signed_in(catalog.user)
    token = csrf_token(client)
    response = client.post(
        reverse("migration_app:service_status", args=[catalog.service.pk]),
        {"to_status": MigrationStatus.DEVELOPMENT, "expected_version": catalog.service.version},
        HTTP_X_CSRFTOKEN=token,
        HTTP_ORIGIN="https://evil.example",
        secure=True,
    )
    assert is_csrf_refusal(response)
    catalog.service.refresh_from_db()
    assert catalog.service.status == MigrationStatus.ANALYSIS


# --- Sign-in, sign-out and the language switch ----------------------------------------------------------


def test_the_login_form_needs_the_token(catalog):
    client = Client(enforce_csrf_checks=True)
    credentials = {"username": catalog.user.username, "password": "correct horse battery staple"}
    refused = client.post(reverse("login"), credentials)
    assert is_csrf_refusal(refused)
    assert "_auth_user_id" not in client.session
    page = client.get(reverse("login")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    accepted = client.post(reverse("login"), {**credentials, "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert client.session["_auth_user_id"] == str(catalog.user.pk)


def test_logout_is_a_post_with_the_token(catalog):
    client = signed_in(catalog.user)
    home = reverse("migration_app:service_list")
    assert client.get(reverse("logout")).status_code == 405
    assert is_csrf_refusal(client.post(reverse("logout")))
    assert client.get(home).status_code == 200  # still signed in
    assert client.post(reverse("logout"), {"csrfmiddlewaretoken": csrf_token(client)}).status_code == 302
    assert client.get(home).status_code == 302  # to the login page


def test_the_language_switch_needs_the_token(catalog):
    client = signed_in(catalog.user)
    refused = client.post(reverse("set_language"), {"language": "nb", "next": "/"})
    assert is_csrf_refusal(refused)
    assert settings.LANGUAGE_COOKIE_NAME not in refused.cookies
    assert ReportPreference.objects.get(user=catalog.user).language == "nb"
    switched = client.post(
        reverse("set_language"), {"language": "en", "next": "/", "csrfmiddlewaretoken": csrf_token(client)}
    )
    assert switched.status_code == 302
    assert ReportPreference.objects.get(user=catalog.user).language == "en"


# --- Every form on the pages carries the token; htmx posts it with the form ------------------------------


class FormFinder(HTMLParser):
    """The page's forms that post, and their inputs; htmx attributes count as posting."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.open: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            posts = (attributes.get("method") or "get").lower() == "post" or any(
                f"hx-{verb}" in attributes for verb in ("post", "put", "patch", "delete")
            )
            form = {"attrs": attributes, "posts": posts, "inputs": {}}
            self.forms.append(form)
            self.open.append(form)
        elif tag == "input" and self.open:
            self.open[-1]["inputs"][attributes.get("name")] = attributes.get("value")
        elif any(f"hx-{verb}" in attributes for verb in ("post", "put", "patch", "delete")):
            # htmx outside a form would post without the form's hidden token: only with hx-headers.
            self.forms.append({"attrs": attributes, "posts": True, "inputs": {}, "bare": True})

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.open:
            self.open.pop()


def posting_forms(html: str) -> list[dict[str, Any]]:
    finder = FormFinder()
    finder.feed(html)
    return [form for form in finder.forms if form["posts"]]


def test_every_posting_form_on_the_pages_carries_the_token(catalog):
    client = signed_in(catalog.user)
    service, dependency = catalog.service, catalog.dependency
    pages = [
        reverse("migration_app:home"),
        reverse("migration_app:service_list"),
        reverse("migration_app:service_detail", args=[service.pk]),
        reverse("migration_app:service_edit", args=[service.pk]),
        reverse("migration_app:service_dependencies", args=[service.pk]),
        reverse("migration_app:owner_page", args=[catalog.owner.code]),
        reverse("migration_app:capabilities"),
        reverse("migration_app:programme"),
        reverse("reports:preferences"),
        reverse("reports:preview"),
        reverse("admin:migration_app_service_change", args=[service.pk]),
        reverse("admin:migration_app_service_change_status", args=[service.pk]),
        reverse("admin:migration_app_dependency_delete", args=[dependency.pk]),
    ]
    anonymous = Client(enforce_csrf_checks=True)
    anonymous_pages = [reverse("login"), reverse("password_reset")]
    seen = 0
    for browser, urls in ((client, pages), (anonymous, anonymous_pages)):
        for url in urls:
            response = browser.get(url)
            assert response.status_code == 200, url
            for form in posting_forms(response.content.decode()):
                seen += 1
                action = form["attrs"].get("hx-post") or form["attrs"].get("action") or url
                exempt = resolve(action.split("?")[0]).route in CSRF_EXEMPT
                has_token = bool(form["inputs"].get("csrfmiddlewaretoken")) or "X-CSRFToken" in (
                    form["attrs"].get("hx-headers") or ""
                )
                assert has_token or exempt, f"a form on {url} posts to {action} without a CSRF token"
    # Sign-out and the language switch on every page, status, dependencies, edit, admin, sign-in, ...
    assert seen >= 20


def test_htmx_posts_fail_without_the_token_and_work_with_it(catalog):
    client = signed_in(catalog.user)
    service = catalog.service
    add = reverse("migration_app:dependency_add", args=[service.pk])
    extra = ServiceFactory(owner=catalog.owner, service_code="7777", edition_code=1)
    data = {"depends_on": "7777/1", "strength": "soft", "note": ""}
    refused = client.post(add, data, HTTP_HX_REQUEST="true")
    assert is_csrf_refusal(refused)
    assert not Dependency.objects.filter(service=service, depends_on_service=extra).exists()

    # What htmx sends: the form's fields, the hidden token among them.
    detail = client.get(reverse("migration_app:service_detail", args=[service.pk])).content.decode()
    form = next(f for f in posting_forms(detail) if f["attrs"].get("hx-post") == add)
    accepted = client.post(
        add, {**data, "csrfmiddlewaretoken": form["inputs"]["csrfmiddlewaretoken"]}, HTTP_HX_REQUEST="true"
    )
    assert accepted.status_code == 200
    assert Dependency.objects.filter(service=service, depends_on_service=extra).exists()

    remove = reverse("migration_app:dependency_remove", args=[service.pk, catalog.dependency.pk])
    assert is_csrf_refusal(client.post(remove, HTTP_HX_REQUEST="true"))
    assert Dependency.objects.filter(pk=catalog.dependency.pk).exists()
