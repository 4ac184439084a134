"""Editing services over HTTP as people and scripts do, and the ledger that proves no write was lost.

Two kinds of editor work on a running stack: an ``ApiEditor`` (a script with a token: GET for the ETag,
then PATCH or POST ``transition/`` with ``If-Match``) and a ``FormEditor`` (a person in a browser: the
edit page's form or the service page's status form, posted with the version they were rendered from).
Each write carries a token of its own, in the notes or in the status change's comment, and is recorded
as a ``Write`` with its answer: accepted (200, or the form's redirect), stale (412, the conflict page, or
the status form's "changed by someone else"), or anything else.

``ledger_check`` then compares the writes with what the database holds. Every write names the version
it was made against and the compare-and-set lets at most one write per version win, so the accepted
writes of a service must produce exactly the versions between its first and last: two winners on one
version is a lost update, a version nobody won is a write that applied while its client was told
otherwise. Replaying the winners in version order must give the stored status history, row by row,
and the stored notes; and every stale answer must be explained by another write's win on its version.
Writes with no answer (a server down mid-request) may or may not have applied, and are allowed to fill
a version only when the caller says the answer could have been lost.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import psycopg
import requests

from tracker.stack import Stack

from .accounts import DEMO_PASSWORD, stack_shell
from .browser import page_form, sign_in

# The lifecycle stretch the scenarios cycle through, forever and legally: forward one step at a time, and
# from testing back to analysis (a move back, which needs a comment; every write here has one).
CYCLE = ("not_started", "analysis", "development", "testing")
REQUEST_TIMEOUT = 15

ACCEPTED, STALE, UNEXPECTED, NO_ANSWER = "accepted", "stale", "unexpected", "no answer"


def cycle_target(status: str) -> str:
    """The next move in CYCLE from ``status``."""
    return "analysis" if status == "testing" else CYCLE[CYCLE.index(status) + 1]


def cycle_target_from_offered(offered: list[str]) -> str:
    """The same move, chosen from the status form's options: they are the legal moves
    (engine/lifecycle.py), and which ones are offered tells the current status."""
    if "in_production" in offered:  # only offered from testing
        return "analysis"
    for target in ("testing", "development", "analysis"):
        if target in offered:
            return target
    raise LookupError(f"none of the cycle's moves is offered: {offered}")


@dataclass
class Write:
    """One attempted write and its answer; times are ``time.monotonic()`` in this process."""

    client: str
    channel: str  # "api" or "form"
    kind: str  # "status" or "notes"
    service_id: int
    expected_version: int
    token: str
    to_status: str = ""
    outcome: str = ""
    http_status: int = 0
    detail: str = ""
    started: float = 0.0
    finished: float = 0.0

    @property
    def produces(self) -> int:
        """The version this write makes if it wins: the compare-and-set bumps the version it names."""
        return self.expected_version + 1


@dataclass
class ServiceState:
    """A service as stored: what the ledger compares the writes with."""

    version: int
    status: str
    notes: str


_tokens = itertools.count(1)
_tokens_lock = threading.Lock()


def new_token(run: str, client: str) -> str:
    with _tokens_lock:
        return f"{run}-{client}-{next(_tokens)}"


class ApiEditor:
    """A script editing through the REST API with its token, always naming the version it read."""

    channel = "api"

    def __init__(self, base_url: str, token: str, name: str) -> None:
        self.base_url, self.name = base_url, name
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept-Language": "en"})

    def _url(self, service_id: int, suffix: str = "") -> str:
        return urljoin(self.base_url, f"/api/v1/services/{service_id}/{suffix}")

    def read(self, service_id: int) -> tuple[int, str]:
        """The service's version (from its ETag) and status."""
        response = self.session.get(self._url(service_id), timeout=REQUEST_TIMEOUT)
        response.raise_for_status()
        return int(response.headers["ETag"].strip('W/"')), response.json()["status"]

    def write(self, write: Write, *, notes: str = "") -> None:
        headers = {"If-Match": f'"{write.expected_version}"'}
        if write.kind == "notes":
            response = self.session.patch(
                self._url(write.service_id), json={"notes": notes}, headers=headers, timeout=REQUEST_TIMEOUT
            )
        else:
            response = self.session.post(
                self._url(write.service_id, "transition/"),
                json={"status": write.to_status, "comment": f"Move {write.token}"},
                headers=headers,
                timeout=REQUEST_TIMEOUT,
            )
        write.http_status = response.status_code
        if response.status_code == 200:
            # The answer shows the service after the write, or after a later one already: never before it.
            version = int(response.headers.get("ETag", "0").strip('W/"'))
            write.outcome = ACCEPTED if version >= write.produces else UNEXPECTED
            write.detail = "" if write.outcome == ACCEPTED else f"200 with ETag {version}"
        elif response.status_code == 412:
            write.outcome = STALE
        else:
            write.outcome, write.detail = UNEXPECTED, response.text[:300]


class FormEditor:
    """A person in a browser: signs in through the login form, edits with the pages' own forms."""

    channel = "form"
    # The status form's refusal of a stale version (services.StaleVersionError, in English).
    STALE_STATUS_TEXT = "changed by someone else"

    def __init__(self, base_url: str, username: str, name: str, password: str = DEMO_PASSWORD) -> None:
        self.base_url, self.name = base_url, name
        self.session = requests.Session()
        self.session.headers["Accept-Language"] = "en"
        sign_in(self.session, base_url, username, password, timeout=REQUEST_TIMEOUT)

    def _get(self, path: str) -> str:
        response = self.session.get(urljoin(self.base_url, path), timeout=REQUEST_TIMEOUT)
        response.raise_for_status()
        return response.text

    def read_edit_form(self, service_id: int) -> tuple[int, dict[str, str]]:
        """The edit page's form as the browser would submit it unchanged, and the version it carries."""
        form = page_form(self._get(f"/services/{service_id}/edit/"), css_class="tracker-edit-form")
        data = form.data()
        return int(data["expected_version"]), data

    def read_status_form(self, service_id: int) -> tuple[int, dict[str, str], str]:
        """The service page's status form, its version, and the cycle's move among the offered ones."""
        path = f"/services/{service_id}/status/"
        form = page_form(self._get(f"/services/{service_id}/"), action_contains=path)
        data = form.data()
        return int(data["expected_version"]), data, cycle_target_from_offered(form.options["to_status"])

    def write(self, write: Write, data: dict[str, str]) -> None:
        path = (
            f"/services/{write.service_id}/edit/" if write.kind == "notes" else f"/services/{write.service_id}/status/"
        )
        url = urljoin(self.base_url, path)
        response = self.session.post(
            url, data=data, headers={"Referer": url}, allow_redirects=False, timeout=REQUEST_TIMEOUT
        )
        write.http_status = response.status_code
        saved = response.status_code == 302 and urlsplit(response.headers.get("Location", "")).path == (
            f"/services/{write.service_id}/"
        )
        # The edit page answers a stale version with its conflict page (409); the status form with its
        # error (422), which also covers illegal moves, hence the text.
        refused_as_stale = (
            response.status_code == 409 and 'id="conflict"' in response.text
            if write.kind == "notes"
            else response.status_code == 422 and self.STALE_STATUS_TEXT in response.text
        )
        if saved:
            write.outcome = ACCEPTED
        elif refused_as_stale:
            write.outcome = STALE
        else:
            write.outcome, write.detail = UNEXPECTED, f"{response.status_code} {response.text[:300]}"


def edit_once(editor: ApiEditor | FormEditor, *, service_id: int, kind: str, run: str, pause: float = 0.0) -> Write:
    """Read the service, wait ``pause`` (others write meanwhile), write it; the write comes back recorded.

    A failed read is recorded as a write that was never sent (outcome NO_ANSWER, expected version 0)."""
    token = new_token(run, editor.name)
    write = Write(
        client=editor.name, channel=editor.channel, kind=kind, service_id=service_id, expected_version=0, token=token
    )
    write.started = time.monotonic()
    try:
        if isinstance(editor, ApiEditor):
            write.expected_version, status = editor.read(service_id)
            if kind == "status":
                write.to_status = cycle_target(status)
            time.sleep(pause)
            write.started = time.monotonic()
            editor.write(write, notes=f"Plan {token}")
        else:
            if kind == "notes":
                write.expected_version, data = editor.read_edit_form(service_id)
                data["notes"] = f"Plan {token}"
            else:
                write.expected_version, data, write.to_status = editor.read_status_form(service_id)
                data.update(to_status=write.to_status, comment=f"Move {token}")
            time.sleep(pause)
            write.started = time.monotonic()
            editor.write(write, data)
    except (requests.RequestException, LookupError, KeyError, ValueError) as exc:
        # The read or the write got no usable answer: a server was down, or a page was an error page.
        write.outcome, write.detail = NO_ANSWER, f"{type(exc).__name__}: {str(exc)[:200]}"
    write.finished = time.monotonic()
    return write


# --- Setting up and reading the stack's database ---------------------------------------------------------

_EDITORS = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from migration_app.choices import MembershipRole
from migration_app.models import Membership, Service, ServiceOwner

User = get_user_model()
demo_hash = User.objects.get(username="eier").password
owner = ServiceOwner.objects.get(code=params["owner"])
candidates = Service.objects.filter(owner=owner, status__in=params["cycle"]).order_by("pk")
service_ids = list(candidates.values_list("pk", flat=True)[params["skip"] : params["skip"] + params["services"]])
if len(service_ids) < params["services"]:
    raise SystemExit(f"{owner.code} has only {len(service_ids)} services in {params['cycle']}")
editors = []
for number in range(1, params["editors"] + 1):
    user, _ = User.objects.update_or_create(
        username=f"{params['prefix']}-{number}",
        defaults={"first_name": "Redaktør", "last_name": str(number), "password": demo_hash, "is_active": True},
    )
    Membership.objects.update_or_create(user=user, owner=owner, defaults={"role": MembershipRole.EDITOR})
    editors.append({"username": user.username, "token": Token.objects.get_or_create(user=user)[0].key})
result = {"editors": editors, "service_ids": service_ids}
"""


@dataclass(frozen=True)
class EditingSetup:
    """Editors of one organisation (each with a password and an API token) and services of theirs that
    sit in CYCLE, set aside for one scenario."""

    editors: list[dict[str, str]]
    service_ids: list[int]


def editing_setup(
    stack: Stack, *, prefix: str, editors: int, services: int, skip: int = 0, owner: str = "skd"
) -> EditingSetup:
    """Create (idempotently) ``editors`` editors of ``owner`` and pick ``services`` of its services in CYCLE,
    by id from the ``skip``-th, so that scenarios sharing a stack can keep to services of their own."""
    params = {
        "owner": owner,
        "editors": editors,
        "services": services,
        "skip": skip,
        "prefix": prefix,
        "cycle": list(CYCLE),
    }
    return EditingSetup(**stack_shell(stack, _EDITORS, params))


def database_url(stack: Stack) -> str:
    return stack.child_env()["DATABASE_URL"]


def service_states(stack: Stack, service_ids: list[int]) -> dict[int, ServiceState]:
    with psycopg.connect(database_url(stack)) as conn:
        rows = conn.execute(
            "SELECT id, version, status, notes FROM migration_app_service WHERE id = ANY(%s)", [service_ids]
        ).fetchall()
    return {pk: ServiceState(version, status, notes) for pk, version, status, notes in rows}


def last_status_change_id(stack: Stack) -> int:
    with psycopg.connect(database_url(stack)) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM migration_app_statuschange").fetchone()[0]


def status_history(stack: Stack, service_ids: list[int], *, after_id: int) -> dict[int, list[tuple[str, str, str]]]:
    """Each service's status changes after ``after_id``, oldest first: (from, to, comment)."""
    history: dict[int, list[tuple[str, str, str]]] = {pk: [] for pk in service_ids}
    with psycopg.connect(database_url(stack)) as conn:
        rows = conn.execute(
            "SELECT service_id, from_status, to_status, comment FROM migration_app_statuschange "
            "WHERE service_id = ANY(%s) AND id > %s ORDER BY id",
            [service_ids, after_id],
        ).fetchall()
    for service_id, from_status, to_status, comment in rows:
        history[service_id].append((from_status, to_status, comment))
    return history


def portfolio_state(stack: Stack) -> tuple[int, int | None]:
    """(revision, computed_revision) of the single PortfolioState row."""
    with psycopg.connect(database_url(stack), connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT revision, computed_revision FROM migration_app_portfoliostate WHERE id = 1"
        ).fetchone()
    return (row[0], row[1]) if row else (0, None)


# --- The ledger ------------------------------------------------------------------------------------------


@dataclass
class LedgerCheck:
    """What ``ledger_check`` found: the problems (empty when every write is accounted for) and counts."""

    problems: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    versions_advanced: int = 0
    status_changes: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_check(
    writes: list[Write],
    before: dict[int, ServiceState],
    after: dict[int, ServiceState],
    history: dict[int, list[tuple[str, str, str]]],
    *,
    excused: frozenset[str] = frozenset(),
) -> LedgerCheck:
    """Account for every write against the stored versions, status history and notes (module docstring).

    ``excused`` holds the tokens of writes whose failure is excused (answered 5xx or not at all while a
    server was down): the server may have applied them before failing. Every other write that was not
    accepted must have changed nothing."""
    check = LedgerCheck(outcomes=dict(Counter(f"{w.channel} {w.kind} {w.outcome}" for w in writes)))
    problems = check.problems
    for write in writes:
        if write.outcome in (UNEXPECTED, NO_ANSWER) and write.token not in excused:
            problems.append(f"{write.client} {write.kind} on {write.service_id}: {write.outcome} {write.detail}")
    for service_id, first in before.items():
        last = after[service_id]
        mine = [w for w in writes if w.service_id == service_id and w.expected_version]
        # The writes that may have made each version: the accepted ones, and excused ones that were sent.
        makers: dict[int, list[Write]] = {}
        for write in mine:
            if write.outcome == ACCEPTED or write.token in excused:
                makers.setdefault(write.produces, []).append(write)
        for version, candidates in makers.items():
            accepted = [w.token for w in candidates if w.outcome == ACCEPTED]
            if len(accepted) > 1:
                problems.append(
                    f"lost update on service {service_id}: {accepted} all accepted on version {version - 1}"
                )
            if accepted and not first.version < version <= last.version:
                problems.append(f"accepted write {accepted[0]} (version {version}) is not stored")
        # Replaying the versions in order gives the stored history, status and notes.
        changes = list(history[service_id])
        status, notes_options = first.status, {first.notes}
        for version in range(first.version + 1, last.version + 1):
            candidates = makers.get(version, [])
            accepted = [w for w in candidates if w.outcome == ACCEPTED]
            row = changes[0] if changes else None
            if accepted:
                write = accepted[0]
                if write.kind == "notes":
                    notes_options = {f"Plan {write.token}"}
                    continue
                expected_row = (status, write.to_status, f"Move {write.token}")
                if row != expected_row:
                    problems.append(f"service {service_id} version {version}: history has {row}, not {expected_row}")
                    continue
                changes.pop(0)
                status = write.to_status
                continue
            # No accepted write made this version: one of the excused ones did, the history says which.
            applied = next(
                (w for w in candidates if w.kind == "status" and row == (status, w.to_status, f"Move {w.token}")), None
            )
            if applied is not None:
                changes.pop(0)
                status = applied.to_status
            elif any(w.kind == "notes" for w in candidates):
                notes_options = {f"Plan {w.token}" for w in candidates if w.kind == "notes"}
            else:
                problems.append(f"service {service_id} reached version {version} by a write nobody was told of")
        if changes:
            problems.append(f"service {service_id} has status changes no write accounts for: {changes}")
        if last.status != status or last.notes not in notes_options:
            problems.append(
                f"service {service_id} stores {(last.status, last.notes)}, the writes replay to {(status, notes_options)}"
            )
        # A stale answer is right only if another write made the version after the one it named.
        for write in (w for w in mine if w.outcome == STALE):
            if write.produces not in makers:
                problems.append(
                    f"{write.token} was refused as stale on version {write.expected_version}, which nobody changed"
                )
        check.versions_advanced += last.version - first.version
        check.status_changes += len(history[service_id])
    return check
