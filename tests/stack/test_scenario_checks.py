"""The scenarios' own checks, without a stack: the canary scan must catch what it is there to catch, and
forms must be submitted as a browser would. A detector that cannot fire would make the identity
scenario pass whatever the stack did.
"""

from __future__ import annotations

import datetime

import requests

from .browser import is_login_redirect, page_form
from .identity import IdentityReport, Person, Visitor

BASE_URL = "http://tracker.test"


def person(index: int, code: str, name: str) -> Person:
    return Person(
        username=f"kanari-abc123-{index:03d}",
        first_name="Kari",
        last_name=f"Kanari{index:03d}xabc123",
        owner_code=code,
        owner_name=name,
        service_id=1000 + index,
        service_name=f"Tjenestekanari-{index:03d}-abc123",
        token_created=f"2001-01-01T00:{index:02d}:00+00:00",
    )


KARI = person(1, "skd", "Skatteetaten")
OLA = person(2, "nav", "Arbeids- og velferdsetaten")


def answer(path: str, body: str, status: int = 200, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.url = BASE_URL + path
    response._content = body.encode()
    response.headers.update(headers)
    response.elapsed = datetime.timedelta(milliseconds=5)
    return response


def own_page(who: Person, extra: str = "") -> str:
    return f"<header>{who.full_name}</header><h1>{who.owner_name}</h1><td>{who.service_name}</td>{extra}"


def inspected(*responses: tuple[str, requests.Response]) -> IdentityReport:
    report = IdentityReport(people=2, cyclers=0, seconds=1)
    visitor = Visitor(KARI, BASE_URL, report)
    for kind, response in responses:
        if kind == "API token status":
            visitor.check_token(response)
        else:
            visitor.inspect(response, kind, expect_service=True)
    return report


def test_a_page_with_only_the_persons_own_canaries_passes():
    report = inspected(
        ("/", answer("/organisations/skd/", own_page(KARI))),
        ("service page", answer("/services/1001/", own_page(KARI))),
        ("API token status", answer("/api/v1/tokens/", '{"has_token": true, "created": "2001-01-01T00:01:00Z"}')),
    )
    assert (report.leak_count, report.anomaly_count, report.checked) == (0, 0, 3)


def test_someone_elses_name_or_service_on_a_page_is_a_leak():
    report = inspected(
        ("service page", answer("/services/1001/", own_page(KARI, extra=OLA.full_name))),
        ("service page", answer("/services/1001/", own_page(KARI, extra=OLA.service_name))),
    )
    assert report.leak_count == 2
    assert OLA.last_name in report.leaks[0] and OLA.service_name in report.leaks[1]


def test_someone_elses_page_instead_of_ones_own_is_a_leak_and_misses_ones_own_name():
    report = inspected(("/", answer("/organisations/nav/", own_page(OLA))))
    # Ola's name and service, and the wrong organisation: three leaks; Kari's name and service missing.
    assert report.leak_count == 3
    assert report.anomaly_count == 2


def test_someone_elses_token_status_is_a_leak():
    report = inspected(
        ("API token status", answer("/api/v1/tokens/", '{"has_token": true, "created": "2001-01-01T00:02:00Z"}'))
    )
    assert report.leak_count == 1


def test_server_errors_and_unexpected_sign_outs_are_counted():
    report = inspected(
        ("service page", answer("/services/1001/", "Server Error", status=500)),
        ("service page", answer("/accounts/login/", "<form>Log in</form>")),
    )
    assert report.server_errors == 1
    assert report.anomaly_count == 1 and "signed out" in report.anomalies[0]


def test_only_a_302_to_the_login_form_counts_as_the_login_redirect():
    assert is_login_redirect(answer("/", "", status=302, Location="/accounts/login/?next=/"))
    assert not is_login_redirect(answer("/", "", status=302, Location="/organisations/skd/"))
    assert not is_login_redirect(answer("/", own_page(KARI)))


def test_a_form_is_read_as_a_browser_submits_it():
    html = """
    <form method="post" action="/accounts/logout/"><input type="hidden" name="csrfmiddlewaretoken" value="t0"></form>
    <form method="post" class="tracker-edit-form">
      <input type="hidden" name="csrfmiddlewaretoken" value="t1">
      <input type="hidden" name="expected_version" value="7">
      <input type="text" name="name_nb" value="Skattemelding &amp; vedlegg">
      <input type="hidden" name="initial-name_nb" value="Skattemelding &amp; vedlegg">
      <input type="checkbox" name="active" checked><input type="checkbox" name="archived">
      <input type="text" name="ignored" disabled value="x"><button type="submit" name="go">Save</button>
      <select name="criticality"><option value="low">Low</option><option value="high" selected>High</option></select>
      <select name="target"><option value="">---</option><option value="app">App</option></select>
      <textarea name="notes">
Line one
line two</textarea>
    </form>
    """
    form = page_form(html, css_class="tracker-edit-form")
    assert form.method == "post"
    assert form.data(notes="changed") == {
        "csrfmiddlewaretoken": "t1",
        "expected_version": "7",
        "name_nb": "Skattemelding & vedlegg",
        "initial-name_nb": "Skattemelding & vedlegg",
        "active": "on",
        "criticality": "high",
        "target": "",
        "notes": "changed",
    }
    assert form.data()["notes"] == "Line one\nline two"
    assert form.options["target"] == ["", "app"]
    assert page_form(html, action_contains="/logout/").data() == {"csrfmiddlewaretoken": "t0"}
