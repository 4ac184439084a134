"""The identity canary: many people signed in at once, and nobody ever sees anyone else.

In 2020 a change to ID-porten mixed concurrent logins so that people saw someone else's identity. This
scenario looks for exactly that on the running stack. Every person gets canaries nobody else has: a
unique last name (shown in every page's header), a service of their own organisation (a different one
for each person, shown only on that organisation's pages, which only they visit), and an API token
created at a unique instant (``GET /api/v1/tokens/`` shows it to its owner). Each person has a
``requests.Session`` on a thread of its own, signs in through the login form and loops over pages that
show their identity, while some of them sign out and in again and gunicorn's workers are reloaded and
killed. Every answer is scanned for every canary: one of someone else's is a leak, and a signed-in page
without the person's own is a failure too. A signed-out person must get the login redirect, never a page.

tests/stack/test_identity.py runs it for half a minute; benchmarks/stack_identity.py longer, with more people.
"""

from __future__ import annotations

import datetime
import html
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from tracker.stack import Stack

from .accounts import DEMO_PASSWORD, canary_users_create
from .browser import SignInError, is_login_page, is_login_redirect, sign_in, sign_out

# The canaries are built so that one pattern finds them all on any page: a person's last name is
# "Kanari<nnn>x<run>", their organisation's service "Tjenestekanari-<nnn>-<run>".
PERSON_CANARY = re.compile(r"Kanari\d{3}x[0-9a-z]{6}")
SERVICE_CANARY = re.compile(r"Tjenestekanari-\d{3}-[0-9a-z]{6}")
FIRST_NAMES = ("Kari", "Ola", "Ingrid", "Per", "Silje", "Anders", "Mona", "Lars", "Hanne", "Jonas")
TOKEN_EPOCH = datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC)
# Kept in the report: enough to diagnose, bounded if something goes badly wrong.
MAX_EXAMPLES = 50
# Everyone signs in before the clock starts. The password hash makes each sign-in cost ~0.8 s of CPU,
# so sixty at once queue for half a minute on two cores, longer on a busy machine.
SIGN_IN_SECONDS = 300
# Pages answer in well under a second; a minute means the server is stuck, which the report shows.
REQUEST_SECONDS = 60
# New workers import the whole application before they answer: seconds on idle cores, much longer
# on a machine that is busy with other work.
RESTART_SECONDS = 120
# How long everyone goes on after the last restart, so the report shows they are all served again.
AFTER_RESTARTS_SECONDS = 5


@dataclass(frozen=True)
class Person:
    """One canary user and what only they may see."""

    username: str
    first_name: str
    last_name: str
    owner_code: str
    owner_name: str
    service_id: int
    service_name: str
    token_created: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def own_page(self) -> str:
        return f"/organisations/{self.owner_code}/"

    @property
    def pages(self) -> tuple[tuple[str, str], ...]:
        """(kind, path) of the signed-in pages that show this person's organisation's data (its canary)."""
        return (
            ("/", "/"),
            ("service page", f"/services/{self.service_id}/"),
            # Most recently changed first: the person's service, made for the run, is on the first page
            # even of a large organisation's catalog.
            ("catalog of the organisation", f"/services/?owner={self.owner_code}&sort=-updated&per_page=200"),
            ("catalog search", f"/services/?q={self.service_name}"),
        )


def people_create(stack: Stack, count: int) -> list[Person]:
    """``count`` canary users, each an editor of a different organisation with a service of its own."""
    run = secrets.token_hex(3)
    specs = [
        {
            "username": f"kanari-{run}-{index:03d}",
            "first_name": FIRST_NAMES[index % len(FIRST_NAMES)],
            "last_name": f"Kanari{index:03d}x{run}",
            "service_code": f"KANARI-{run}-{index:03d}",
            "service_name": f"Tjenestekanari-{index:03d}-{run}",
            "token_created": (TOKEN_EPOCH + datetime.timedelta(minutes=index)).isoformat(),
        }
        for index in range(count)
    ]
    people = []
    for row in canary_users_create(stack, specs):
        people.append(
            Person(
                username=row["username"],
                first_name=row["first_name"],
                last_name=row["last_name"],
                owner_code=row["owner_code"],
                owner_name=row["owner_name"],
                service_id=row["service_id"],
                service_name=row["service_name"],
                token_created=row["token_created"],
            )
        )
    return people


@dataclass
class Restart:
    """One reload or kill of the web workers: the worker pids before and after, and how long it took
    until the new workers answered (they import the whole application first)."""

    kind: str
    before: list[int]
    after: list[int] = field(default_factory=list)
    victim: int | None = None
    seconds: float = 0.0

    @property
    def replaced(self) -> bool:
        gone = set(self.before) if self.kind == "reload" else {self.victim}
        return bool(self.after) and not gone & set(self.after)


@dataclass
class IdentityReport:
    """What the canary run saw. ``leaks`` must never happen; ``anomalies`` (a page without the person's
    own name, an unexpected status, a sign-in refused) should not either. Requests dropped by a killed
    worker and timeouts while new workers start are counted apart: they are availability, not identity."""

    people: int
    cyclers: int
    seconds: float
    responses: Counter = field(default_factory=Counter)
    # Responses checked per person (username), to show that everyone, not just the fast, was checked.
    per_person: Counter = field(default_factory=Counter)
    leaks: list[str] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    leak_count: int = 0
    anomaly_count: int = 0
    server_errors: int = 0
    dropped: int = 0
    timeouts: int = 0
    sign_ins: int = 0
    sign_outs: int = 0
    restarts: list[Restart] = field(default_factory=list)
    # Responses checked after the last restart had finished: the stack served everyone again.
    checked_after_restarts: int = 0
    restarts_done: bool = False
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, kind: str, response: requests.Response, person: Person) -> None:
        with self._lock:
            self.responses[kind] += 1
            self.per_person[person.username] += 1
            self.latencies_ms.append(response.elapsed.total_seconds() * 1000)
            if self.restarts_done:
                self.checked_after_restarts += 1

    def leak(self, text: str) -> None:
        with self._lock:
            self.leak_count += 1
            if len(self.leaks) < MAX_EXAMPLES:
                self.leaks.append(text)

    def anomaly(self, text: str) -> None:
        with self._lock:
            self.anomaly_count += 1
            if len(self.anomalies) < MAX_EXAMPLES:
                self.anomalies.append(text)

    def add(self, attribute: str) -> None:
        with self._lock:
            setattr(self, attribute, getattr(self, attribute) + 1)

    @property
    def checked(self) -> int:
        return sum(self.responses.values())

    def latency_ms(self, quantile: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] if ordered else 0.0

    def summary(self) -> str:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.responses.items()))
        restarts = ", ".join(
            f"{r.kind}{f' {r.victim}' if r.victim else ''} ({'replaced' if r.replaced else 'NOT replaced'}, "
            f"serving again after {r.seconds:.1f} s)"
            for r in self.restarts
        )
        lines = [
            f"Identity: {self.people} people ({self.cyclers} signing out and in) for {self.seconds:.0f} s: "
            f"{self.checked} responses checked ({self.checked / max(self.seconds, 1):.1f}/s, "
            f"p50 {self.latency_ms(0.5):.0f} ms, p99 {self.latency_ms(0.99):.0f} ms), "
            f"{self.leak_count} leaks, {self.anomaly_count} anomalies, {self.server_errors} answers 5xx",
            f"  per person {min(self.per_person.values(), default=0)} to {max(self.per_person.values(), default=0)} "
            "responses checked",
            f"  {self.sign_ins} sign-ins, {self.sign_outs} sign-outs; {self.dropped} requests dropped by a killed "
            f"worker, {self.timeouts} timed out; {self.checked_after_restarts} checked after the last restart",
            f"  responses: {kinds}",
            f"  worker restarts: {restarts or 'none'}",
        ]
        lines.extend(f"  LEAK {text}" for text in self.leaks)
        lines.extend(f"  ANOMALY {text}" for text in self.anomalies)
        return "\n".join(lines)

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if not item.name.startswith("_") and item.name != "latencies_ms"
        }
        data["restarts"] = [{**asdict(restart), "replaced": restart.replaced} for restart in self.restarts]
        data.update(checked=self.checked, p50_ms=self.latency_ms(0.5), p99_ms=self.latency_ms(0.99))
        path.write_text(json.dumps(data, indent=1))


class Visitor:
    """One person's browser: signs in, visits their pages, checks every answer against their canaries."""

    def __init__(self, person: Person, base_url: str, report: IdentityReport) -> None:
        self.person = person
        self.base_url = base_url
        self.report = report
        self.session = requests.Session()
        self.session.headers["Accept-Language"] = "nb"
        self.last_page = ""

    def _answer(self, send: Callable[[], requests.Response]) -> requests.Response | None:
        """``send()``'s answer, or None. A killed worker takes its requests in flight with it, and while new
        workers start, requests wait: a browser shows an error and the person tries again, so a dropped
        request is sent once more. Drops and timeouts are counted, not hidden."""
        for _attempt in range(2):
            try:
                return send()
            except requests.Timeout:
                self.report.add("timeouts")
                return None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                # Refused, reset, or cut off in the middle of the answer.
                self.report.add("dropped")
            except requests.RequestException as exc:
                self.report.anomaly(f"{self.person.username}: {exc!r}")
                return None
        return None

    def sign_in(self) -> bool:
        def send() -> requests.Response:
            return sign_in(self.session, self.base_url, self.person.username, DEMO_PASSWORD, timeout=SIGN_IN_SECONDS)

        try:
            landed = self._answer(send)
        except SignInError as exc:
            self.report.anomaly(f"{self.person.username}: sign-in failed: {exc}")
            return False
        if landed is None:
            return False
        self.report.add("sign_ins")
        self.inspect(landed, "sign-in landing", expect_service=True)
        return True

    def get(self, path: str, **kwargs) -> requests.Response | None:
        url = urljoin(self.base_url, path)
        return self._answer(lambda: self.session.get(url, timeout=REQUEST_SECONDS, **kwargs))

    def where(self, response: requests.Response) -> str:
        return f"{self.person.username} ({self.person.owner_code}) at {urlsplit(response.url).path}"

    def scan(self, response: requests.Response) -> None:
        """Someone else's canary anywhere in the answer is a leak."""
        for found in set(PERSON_CANARY.findall(response.text)) - {self.person.last_name}:
            self.report.leak(f"{self.where(response)}: someone else's name {found}")
        for found in set(SERVICE_CANARY.findall(response.text)) - {self.person.service_name}:
            self.report.leak(f"{self.where(response)}: another organisation's service {found}")

    def answered(self, response: requests.Response, kind: str) -> bool:
        """Count and scan any answer; False for a 5xx (counted), which is checked no further."""
        self.report.count(kind, response, self.person)
        self.scan(response)
        if response.status_code >= 500:
            self.report.add("server_errors")
            return False
        return True

    def inspect(self, response: requests.Response, kind: str, *, expect_service: bool) -> None:
        """A signed-in page: ours, with our name in the header, and (when it should) our organisation's data."""
        if not self.answered(response, kind):
            return
        if is_login_page(response):
            self.report.anomaly(f"{self.where(response)}: signed out without signing out")
            return
        if response.status_code != 200:
            self.report.anomaly(f"{self.where(response)}: status {response.status_code}")
            return
        self.last_page = response.text
        if self.person.full_name not in response.text:
            self.report.anomaly(f"{self.where(response)}: the page does not show who is signed in")
        if expect_service and self.person.service_name not in response.text:
            self.report.anomaly(f"{self.where(response)}: the organisation's own service is missing")
        if kind in ("/", "sign-in landing"):
            if urlsplit(response.url).path != self.person.own_page:
                self.report.leak(f"{self.where(response)}: / led to another organisation than {self.person.own_page}")
            elif html.escape(self.person.owner_name) not in response.text:
                self.report.anomaly(f"{self.where(response)}: the organisation's page does not show its name")

    def check_token(self, response: requests.Response) -> None:
        """The API by session: the token status must be this person's own (its unique creation time)."""
        if not self.answered(response, "API token status"):
            return
        if response.status_code != 200:
            self.report.anomaly(f"{self.where(response)}: status {response.status_code}")
            return
        try:
            created = response.json().get("created")
        except ValueError:
            self.report.anomaly(f"{self.where(response)}: not JSON: {response.headers.get('Content-Type')}")
            return
        if created is None or parse_utc(created) != parse_utc(self.person.token_created):
            self.report.leak(f"{self.where(response)}: token status of someone else (created {created})")

    def visit_pages(self) -> None:
        for kind, path in self.person.pages:
            response = self.get(path)
            if response is not None:
                self.inspect(response, kind, expect_service=True)
        response = self.get("/reports/preferences/")
        if response is not None:
            self.inspect(response, "report preferences", expect_service=False)
        response = self.get("/api/v1/tokens/", headers={"Accept": "application/json"})
        if response is not None:
            self.check_token(response)

    def sign_out_and_check(self) -> None:
        """Sign out, then ask for pages: the answer must be the login redirect (the API: 401/403), never
        anyone's page."""
        if not self.last_page:
            return
        page = self.last_page
        response = self._answer(lambda: sign_out(self.session, self.base_url, page, timeout=REQUEST_SECONDS))
        if response is None or not self.answered(response, "sign-out"):
            return
        self.report.add("sign_outs")
        self.last_page = ""
        for path in ("/", f"/services/{self.person.service_id}/"):
            response = self.get(path, allow_redirects=False)
            if response is not None and self.answered(response, "signed out") and not is_login_redirect(response):
                self.report.leak(f"{self.person.username} signed out got {response.status_code} for {path}")
        response = self.get("/api/v1/tokens/", headers={"Accept": "application/json"})
        if response is not None and self.answered(response, "signed out") and response.status_code not in (401, 403):
            self.report.leak(f"{self.person.username} signed out got {response.status_code} from the API")

    def run(self, everyone_in: threading.Barrier, clock: RunClock, *, cycle_every: int) -> None:
        """Sign in, wait for everyone else, then visit the pages until the clock runs out; with
        ``cycle_every`` > 0 sign out and in again every so many rounds."""
        try:
            signed_in = self.sign_in()
        finally:
            everyone_in.wait(timeout=SIGN_IN_SECONDS)
        rounds = 0
        while time.monotonic() < clock.stop_at:
            if not signed_in:
                signed_in = self.sign_in()
                continue
            self.visit_pages()
            rounds += 1
            # The first sign-out comes after the first round, so even a slow run has every cycler cycle.
            if cycle_every and rounds % cycle_every == 1 % cycle_every:
                self.sign_out_and_check()
                signed_in = self.sign_in()


def parse_utc(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class RunClock:
    """The timed part of the run: it starts once every person has signed in, and ends ``seconds`` later
    or, if the restarts take longer, a few seconds after the last one has finished."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = self.stop_at = float("inf")

    def begin(self) -> None:
        self.started = time.monotonic()
        self.stop_at = self.started + self.seconds

    def at_least_until(self, moment: float) -> None:
        self.stop_at = max(self.stop_at, moment)


def _serving(stack: Stack) -> bool:
    try:
        return requests.get(stack.base_url + "/healthz", timeout=REQUEST_SECONDS).status_code == 200
    except requests.RequestException:
        return False


def _restart_workers(stack: Stack, report: IdentityReport, clock: RunClock, times: int) -> None:
    """Alternately reload (SIGHUP: every worker replaced gracefully) and kill one worker (SIGKILL), spread
    evenly over the run; after each, wait until the master has its full set of new workers and they
    answer. The visitors go on for a while after the last one, to show everyone is served again."""
    workers = len(stack.web_worker_pids())
    for number in range(1, times + 1):
        time.sleep(max(0.0, clock.started + clock.seconds * number / (times + 1) - time.monotonic()))
        started = time.monotonic()
        if number % 2:
            restart = Restart("reload", before=stack.web_worker_pids())
            stack.reload_web()
        else:
            restart = Restart("kill", before=stack.web_worker_pids())
            restart.victim = stack.kill_web_worker()
        deadline = started + RESTART_SECONDS
        while time.monotonic() < deadline:
            restart.after = stack.web_worker_pids()
            if restart.replaced and len(restart.after) == workers and _serving(stack):
                break
            time.sleep(0.2)
        restart.seconds = time.monotonic() - started
        report.restarts.append(restart)
    report.restarts_done = True
    clock.at_least_until(time.monotonic() + AFTER_RESTARTS_SECONDS)


def identity_run(
    stack: Stack, *, people: int, seconds: float, cyclers: int, cycle_every: int = 3, restarts: int = 4
) -> IdentityReport:
    """``people`` canary users at once for ``seconds`` (after all have signed in); the first ``cyclers``
    sign out and in again every ``cycle_every`` rounds; the web workers are restarted ``restarts`` times,
    alternately by a graceful reload and by killing one."""
    persons = people_create(stack, people)
    report = IdentityReport(people=people, cyclers=cyclers, seconds=seconds)
    clock = RunClock(seconds)
    # The visitors, the restarter and this thread; the last to arrive starts the clock.
    everyone_in = threading.Barrier(people + 2, action=clock.begin)
    threads = [
        threading.Thread(
            target=Visitor(person, stack.base_url, report).run,
            args=(everyone_in, clock),
            kwargs={"cycle_every": cycle_every if index < cyclers else 0},
            name=f"canary-{person.username}",
            daemon=True,
        )
        for index, person in enumerate(persons)
    ]

    def restarter() -> None:
        everyone_in.wait(timeout=SIGN_IN_SECONDS)
        _restart_workers(stack, report, clock, restarts)

    restarting = threading.Thread(target=restarter, name="canary-restarter", daemon=True)
    for thread in [*threads, restarting]:
        thread.start()
    try:
        everyone_in.wait(timeout=SIGN_IN_SECONDS)
    except threading.BrokenBarrierError:
        raise TimeoutError(f"{people} people did not all get through sign-in within {SIGN_IN_SECONDS} s") from None
    restarting.join(timeout=seconds + restarts * RESTART_SECONDS)
    for thread in threads:
        thread.join(timeout=max(0.0, clock.stop_at - time.monotonic()) + SIGN_IN_SECONDS)
    report.seconds = time.monotonic() - clock.started
    return report
