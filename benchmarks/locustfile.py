"""The load test's traffic: service owners browsing and editing, project leads pulling the API.

Run by tests/stack/load.py (``load_run``) as a headless locust subprocess against a running stack; it
reads the accounts that function created (owners with their services and a signed-in session, leads
with API tokens) from the JSON file named by ``LOAD_ACCOUNTS`` and, on exit, writes how many answers
each request got per status code to ``LOAD_OUTCOMES``. ``benchmarks/stack_load.py`` is the way to run
it by hand; with the files of an earlier run, locust's web UI works too::

    LOAD_ACCOUNTS=var/bench/stack_load/accounts.json .venv/bin/locust -f benchmarks/locustfile.py --host URL

**What counts as a failure** (locust's failure count; the test asserts there are none):

* no answer: a refused or reset connection or a timeout;
* any 5xx;
* any status the request does not expect. Expected are 200 for pages and API reads (after following
  redirects, e.g. ``/`` to the owner's own organisation); for a save of the edit form 200 (saved, back on
  the service page) or 409 (someone saved in between: the conflict page); for a status change 200 or
  422 (the move was refused, e.g. because someone else changed the status first);
* a page that is not what was asked for: a signed-in owner sent to the login form, ``/`` landing on
  another organisation than the owner's, an API answer that is not JSON;
* a failed sign-in (counted under "sign in").

Conflicts and refusals are normal outcomes of concurrent editing, not errors; the outcome file shows
how many there were.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from locust import HttpUser, between, events, task
from locust.exception import StopUser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.stack.browser import LOGIN_PATH, SignInError, page_form, page_forms, sign_in

if not os.environ.get("LOAD_ACCOUNTS"):
    raise SystemExit("Set LOAD_ACCOUNTS to the accounts file load_run() writes (see tests/stack/load.py).")
ACCOUNTS = json.loads(Path(os.environ["LOAD_ACCOUNTS"]).read_text())
# Seconds a person pauses between two clicks, "min,max".
THINK = tuple(float(part) for part in os.environ.get("LOAD_THINK", "0.5,2").split(","))
API_PAGE_SIZE = 100  # the API's default page size (docs/api.md)
SORT_KEYS = ("code", "name", "owner", "status", "volume", "target_date")
STATUSES = ("not_started", "analysis", "development", "testing", "in_production")

# Each new simulated user takes the next account, so concurrent users are different people where possible.
_owner_accounts = itertools.cycle(ACCOUNTS["owners"])
# Every so many owners sign in through the form as they arrive; the others carry on with the session
# their account signed in with before the run, like people with the tracker open all day. Signing in
# costs ~0.8 s of CPU (the password hash), so in a short run a sign-in per user would be most of the load.
FORM_SIGN_IN_EVERY = int(os.environ.get("LOAD_FORM_SIGN_IN_EVERY", "4"))
_owner_arrivals = itertools.count()
_lead_accounts = itertools.cycle(ACCOUNTS["leads"] or [None])
outcomes: Counter[tuple[str, int]] = Counter()


@events.request.add_listener
def _count_outcome(request_type: str, name: str, response=None, **_kwargs) -> None:
    status = getattr(response, "status_code", 0) or 0
    outcomes[(f"{request_type} {name}", status)] += 1


@events.quitting.add_listener
def _write_outcomes(**_kwargs) -> None:
    path = os.environ.get("LOAD_OUTCOMES")
    if path:
        rows = [{"request": request, "status": status, "count": count} for (request, status), count in outcomes.items()]
        Path(path).write_text(json.dumps(sorted(rows, key=lambda row: (row["request"], row["status"])), indent=1))


def failure_reason(response, expected: tuple[int, ...]) -> str | None:
    """Why this answer is a failure (see the module docstring), or None when it is an expected outcome."""
    status = response.status_code
    if not status:
        return f"no answer: {response.error!r}"
    if status >= 500:
        return f"server error {status}"
    if status not in expected:
        return f"unexpected status {status} (expected {'/'.join(map(str, expected))})"
    if urlsplit(response.url).path == LOGIN_PATH:
        return "signed out: sent to the login form"
    return None


def saved_and_back_on(pk: int):
    """A save answered 200 must be the redirect back to the service page; a conflict or refusal stays put."""

    def check(response) -> str | None:
        landed = urlsplit(response.url).path
        if response.status_code == 200 and (not response.history or landed != f"/services/{pk}/"):
            return f"a save answered 200 at {landed} without going back to the service page"
        return None

    return check


class TrackerUser(HttpUser):
    """What both kinds of visitor share: a request whose outcome is checked against what it expects."""

    abstract = True
    wait_time = between(*THINK)

    def call(self, method: str, path: str, *, name: str, expect: tuple[int, ...] = (200,), check=None, **kwargs):
        """One request, marked failed per ``failure_reason`` or ``check(response)`` (a reason, or None)."""
        with self.client.request(method, path, name=name, catch_response=True, **kwargs) as response:
            reason = failure_reason(response, expect) or (check(response) if check else None)
            if reason:
                response.failure(reason)
            else:
                response.success()
        return response


class ServiceOwnerUser(TrackerUser):
    """An editor of one organisation: lands on its page, searches the catalog, reads services and their
    dependencies, and now and then saves a field or moves a service on through the real forms."""

    weight = 3

    def on_start(self) -> None:
        account = next(_owner_accounts)
        self.username = account["username"]
        self.owner_code = account["owner_code"]
        self.own_services = account["service_ids"] or ACCOUNTS["service_ids"]
        self.client.headers["Accept-Language"] = random.choice(("nb", "nb", "en"))
        if account.get("cookies") and next(_owner_arrivals) % FORM_SIGN_IN_EVERY:
            self.client.cookies.update(account["cookies"])
            return
        started = time.perf_counter()
        try:
            sign_in(self.client, self.host, self.username, ACCOUNTS["password"], name="sign in")
        except SignInError as exc:
            events.request.fire(
                request_type="LOGIN",
                name="sign in",
                response_time=(time.perf_counter() - started) * 1000,
                response_length=0,
                exception=exc,
                context={},
            )
            raise StopUser() from exc

    def any_service(self) -> int:
        return random.choice(self.own_services if random.random() < 0.6 else ACCOUNTS["service_ids"])

    @task(3)
    def home(self) -> None:
        own_page = f"/organisations/{self.owner_code}/"

        def lands_on_own_organisation(response) -> str | None:
            landed = urlsplit(response.url).path
            return None if landed == own_page else f"/ led {self.username} to {landed}, not {own_page}"

        self.call("GET", "/", name="/ (own organisation)", check=lands_on_own_organisation)

    @task(5)
    def catalog(self) -> None:
        params: dict[str, str] = {}
        if random.random() < 0.5:
            params["owner"] = self.owner_code
        if random.random() < 0.3:
            params["q"] = random.choice(ACCOUNTS["search_words"])
        if random.random() < 0.2:
            params["status"] = random.choice(STATUSES)
        if random.random() < 0.5:
            params["sort"] = random.choice(("", "-")) + random.choice(SORT_KEYS)
        if random.random() < 0.4:
            params["page"] = str(random.randint(2, 4))
        # The catalog's controls swap just the table (htmx) after the first full page.
        htmx = random.random() < 0.4
        self.call(
            "GET",
            "/services/",
            name="/services/ (table only)" if htmx else "/services/",
            params=params,
            headers={"HX-Request": "true"} if htmx else None,
        )

    @task(4)
    def service_detail(self) -> None:
        self.call("GET", f"/services/{self.any_service()}/", name="/services/[id]/")

    @task(2)
    def dependencies(self) -> None:
        self.call("GET", f"/services/{self.any_service()}/dependencies/", name="/services/[id]/dependencies/")

    @task(1)
    def capabilities(self) -> None:
        self.call("GET", "/capabilities/", name="/capabilities/")

    @task(1)
    def programme(self) -> None:
        self.call("GET", "/programme/", name="/programme/")

    @task(1)
    def edit_notes(self) -> None:
        """Open the edit form of one of our services, change the notes, save (version and CSRF included)."""
        pk = random.choice(self.own_services)
        page = self.call("GET", f"/services/{pk}/edit/", name="/services/[id]/edit/")
        if not page.ok:
            return
        form = page_form(page.text, css_class="tracker-edit-form")
        note = f"Belastningstest {time.strftime('%H:%M:%S')}: {random.choice(ACCOUNTS['search_words'])}"
        self.call(
            "POST",
            f"/services/{pk}/edit/",
            name="/services/[id]/edit/",
            expect=(200, 409),
            check=saved_and_back_on(pk),
            data=form.data(notes=note),
            headers={"Referer": page.url},
        )

    @task(1)
    def change_status(self) -> None:
        """Open one of our services and move it to one of the statuses its form offers, with a comment."""
        pk = random.choice(self.own_services)
        page = self.call("GET", f"/services/{pk}/", name="/services/[id]/")
        if not page.ok:
            return
        forms = [form for form in page_forms(page.text) if form.action.endswith(f"/services/{pk}/status/")]
        targets = [value for value in forms[0].options.get("to_status", []) if value] if forms else []
        if not targets:
            return  # a retired service offers no moves
        self.call(
            "POST",
            f"/services/{pk}/status/",
            name="/services/[id]/status/",
            expect=(200, 422),
            check=saved_and_back_on(pk),
            data=forms[0].data(to_status=random.choice(targets), comment="Belastningstest"),
            headers={"Referer": page.url},
        )


def _json(response) -> str | None:
    try:
        response.json()
    except ValueError:
        return f"not JSON: {response.headers.get('Content-Type')}"
    return None


class ProjectLeadUser(TrackerUser):
    """A lead's script or dashboard: pages through the catalog and reads the engine's results by token."""

    weight = 1

    def on_start(self) -> None:
        account = next(_lead_accounts)
        if account is None:
            raise StopUser()
        self.client.headers["Authorization"] = f"Token {account['token']}"
        self.client.headers["Accept"] = "application/json"
        self.pages = max(1, -(-len(ACCOUNTS["service_ids"]) // API_PAGE_SIZE))

    def api(self, path: str, name: str, **kwargs) -> None:
        self.call("GET", path, name=name, check=_json, **kwargs)

    @task(4)
    def services_page(self) -> None:
        self.api(f"/api/v1/services/?page={random.randint(1, self.pages)}", name="/api/v1/services/?page=N")

    @task(2)
    def owner_services(self) -> None:
        code = random.choice(ACCOUNTS["owner_codes"])
        self.api(f"/api/v1/services/?owner={code}&sort=-volume", name="/api/v1/services/?owner=X&sort=-volume")

    @task(2)
    def readiness(self) -> None:
        pk = random.choice(ACCOUNTS["service_ids"])
        self.api(f"/api/v1/services/{pk}/readiness/", name="/api/v1/services/[id]/readiness/")

    @task(1)
    def progress(self) -> None:
        self.api("/api/v1/progress/", name="/api/v1/progress/")

    @task(1)
    def leverage(self) -> None:
        self.api("/api/v1/leverage/?kind=capability", name="/api/v1/leverage/")

    @task(1)
    def waves(self) -> None:
        self.api("/api/v1/waves/", name="/api/v1/waves/")

    @task(1)
    def forecast(self) -> None:
        self.api("/api/v1/forecast/", name="/api/v1/forecast/")

    @task(1)
    def history(self) -> None:
        self.api("/api/v1/history/", name="/api/v1/history/")
