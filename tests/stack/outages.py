"""Faults on the production stack: PostgreSQL restarted, and Redis stopped for a while, under a light load.

While people keep working (``LightLoad``: a reader on the pages, one on the API, a writer on the API
and one on the forms, each writer on services of its own, and a probe asking /readyz five times a
second), one server goes away and comes back. Every answer is timed in this process's clock, and the
fault is a window in that timeline. Nobody restarts gunicorn, the Celery workers or beat.

PostgreSQL restarted (``postgres_restart_run``): fast shutdown, so every open connection is cut. 5xx
are excused only from the stop until ``recovery_grace`` seconds after the server is back; /readyz must
say 503 while it is down and 200 once it is back; every write acknowledged is stored (editing.ledger_check;
writes that failed inside the window may or may not have applied, and are accounted for either way).
A second restart while nobody works leaves every kept-open connection dead: nothing may fail after it.

Redis stopped (``redis_outage_run``): nothing may fail, not even during the outage: pages render, edits
save (their recompute cannot be queued), the pages say the results are stale, /readyz says 503 naming
the broker. Once Redis is back the workers and beat reconnect by themselves and the changes made during
the outage are recomputed, within a bound set by the catch-up schedule (settings RECOMPUTE_CATCH_UP_SECONDS
and services.recompute.RECOMPUTE_CLAIM_LOST_AFTER).

tests/stack/test_outages.py runs them short (Redis down 20 s); benchmarks/stack_faults.py in full (a minute).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests

from tracker.stack import Stack

from .accounts import DEMO_PASSWORD
from .browser import sign_in
from .editing import (
    ACCEPTED,
    STALE,
    ApiEditor,
    EditingSetup,
    FormEditor,
    Write,
    edit_once,
    editing_setup,
    last_status_change_id,
    ledger_check,
    portfolio_state,
    service_states,
    status_history,
)
from .servers import PrivatePostgres, PrivateRedis

REQUEST_TIMEOUT = 15
# The pages' notice when results do not include the latest changes (templates, English).
STALE_NOTICE = "recent changes are not included yet"
# services.recompute.RECOMPUTE_CLAIM_LOST_AFTER, in seconds (not imported: the benchmarks run outside Django).
CLAIM_LOST_AFTER = 60
# What a recompute of the test catalog may take on a busy machine, on top of the schedule's bound.
RECOMPUTE_SLACK = 30


@dataclass
class Answer:
    """One request of the light load: what, when (monotonic seconds) and its status (0: no answer)."""

    what: str
    path: str
    started: float
    finished: float
    status: int
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500


@dataclass
class ReadyProbe:
    at: float
    status: int
    checks: dict[str, Any] = field(default_factory=dict)


class LightLoad:
    """People working through a fault, in threads; ``with LightLoad(...) as load:`` runs them.

    Readers: one browser on the pages (catalog, a service, programme, capabilities, the organisation),
    one script on the API. Writers: editing.ApiEditor and editing.FormEditor, each on a service of its
    own, alternating status moves and notes. Every answer lands in ``answers`` or ``writes``.
    """

    READER_PAUSE = 0.1
    WRITER_PAUSE = 0.3
    PROBE_PAUSE = 0.2

    def __init__(self, stack: Stack, setup: EditingSetup, *, run: str, owner: str = "skd") -> None:
        self.stack, self.setup, self.run = stack, setup, run
        base = stack.base_url
        first, second = setup.editors[0], setup.editors[1]
        self.browser = requests.Session()
        self.browser.headers["Accept-Language"] = "en"
        sign_in(self.browser, base, first["username"], DEMO_PASSWORD, timeout=REQUEST_TIMEOUT)
        self.api = requests.Session()
        self.api.headers.update({"Authorization": f"Token {second['token']}", "Accept-Language": "en"})
        one, two = setup.service_ids[0], setup.service_ids[1]
        self.pages = [
            "/services/?q=a",
            f"/services/{one}/",
            "/programme/",
            "/capabilities/",
            f"/organisations/{owner}/",
        ]
        self.api_paths = ["/api/v1/services/?page_size=25", f"/api/v1/services/{two}/readiness/", "/api/v1/progress/"]
        self.writers = [
            (ApiEditor(base, first["token"], "api"), one),
            (FormEditor(base, second["username"], "form"), two),
        ]
        self.answers: list[Answer] = []
        self.writes: list[Write] = []
        self.probes: list[ReadyProbe] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> LightLoad:
        targets = [
            (self._read, (self.browser, "page", self.pages)),
            (self._read, (self.api, "api", self.api_paths)),
            (self._probe, ()),
            *((self._write, writer) for writer in self.writers),
        ]
        self._threads = [threading.Thread(target=target, args=args, daemon=True) for target, args in targets]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT * 3)

    def _get(self, session: requests.Session, what: str, path: str) -> None:
        started = time.monotonic()
        try:
            response = session.get(urljoin(self.stack.base_url, path), timeout=REQUEST_TIMEOUT)
        except requests.RequestException as exc:
            status, error = 0, f"{type(exc).__name__}: {str(exc)[:200]}"
        else:
            status, error = response.status_code, ""
        with self._lock:
            self.answers.append(Answer(what, path, started, time.monotonic(), status, error))

    def _read(self, session: requests.Session, what: str, paths: list[str]) -> None:
        for number in itertools.count():
            if self._stop.is_set():
                return
            self._get(session, what, paths[number % len(paths)])
            self._stop.wait(self.READER_PAUSE)

    def _write(self, editor: ApiEditor | FormEditor, service_id: int) -> None:
        for number in itertools.count():
            if self._stop.is_set():
                return
            write = edit_once(editor, service_id=service_id, kind=("status", "notes")[number % 2], run=self.run)
            with self._lock:
                self.writes.append(write)
            self._stop.wait(self.WRITER_PAUSE)

    def _probe(self) -> None:
        probe = requests.Session()
        while not self._stop.is_set():
            at = time.monotonic()
            try:
                response = probe.get(urljoin(self.stack.base_url, "/readyz"), timeout=5)
                checks = response.json().get("checks", {}) if response.status_code in (200, 503) else {}
                self.probes.append(ReadyProbe(at, response.status_code, checks))
            except (requests.RequestException, ValueError):
                self.probes.append(ReadyProbe(at, 0))
            self._stop.wait(self.PROBE_PAUSE)

    # --- Reading the timeline -------------------------------------------------------------------------

    def failures(self) -> list[tuple[float, float, str]]:
        """Every failed request or write as (started, finished, description)."""
        failed = [(a.started, a.finished, f"{a.what} {a.path}: {a.status} {a.error}") for a in self.answers if a.failed]
        failed += [
            (w.started, w.finished, f"{w.channel} {w.kind} write: {w.outcome} {w.http_status} {w.detail}")
            for w in self.writes
            if w.outcome not in (ACCEPTED, STALE)
        ]
        return sorted(failed)


def _overlaps(started: float, finished: float, window: tuple[float, float]) -> bool:
    return started <= window[1] and finished >= window[0]


@dataclass
class FaultReport:
    """What a fault run measured; ``problems`` is empty when the stack came through as required."""

    fault: str
    down_seconds: float
    requests: int
    writes_accepted: int
    failures_in_window: int
    failures_outside_window: int
    # From the server's return to the end of the last failing request (0: nothing failed after it).
    recovered_after_seconds: float
    readyz: dict[str, int]
    # From the server's return until /readyz answered 200 again.
    ready_after_seconds: float | None
    # Redis: from its return until the changes made during the outage were recomputed.
    caught_up_after_seconds: float | None = None
    stale_notice_seen: bool | None = None
    # Redis: changes during the outage that tried to queue their recompute and could not. None may have
    # tried: a claim taken just before the outage makes later changes count on its (lost) task.
    unqueued_recomputes_logged: int | None = None
    processes_restarted: list[str] = field(default_factory=list)
    ledger: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        figures = {k: v for k, v in asdict(self).items() if k not in ("problems", "fault")}
        lines = [f"{self.fault}:"] + [f"  {name:<28}{value}" for name, value in figures.items()]
        lines += [f"  problems: {len(self.problems)}", *(f"    {p}" for p in self.problems[:20])]
        return "\n".join(lines)


def _ledger(
    stack: Stack, setup: EditingSetup, writes: list[Write], before: dict, history_from: int, excused: frozenset[str]
) -> tuple[dict, list]:
    ids = setup.service_ids
    check = ledger_check(
        writes,
        before,
        service_states(stack, ids),
        status_history(stack, ids, after_id=history_from),
        excused=excused,
    )
    return check.outcomes, check.problems


def _readyz_figures(probes: list[ReadyProbe], down: tuple[float, float], back_at: float) -> tuple[dict, float | None]:
    during = [p.status for p in probes if down[0] + 0.5 <= p.at <= down[1] - 0.2]
    after = [p for p in probes if p.at >= back_at]
    ready_again = next((p.at - back_at for p in after if p.status == 200), None)
    figures = {
        "probes": len(probes),
        "503_while_down": during.count(503),
        "other_while_down": len(during) - during.count(503),
        "200_after": sum(p.status == 200 for p in after),
    }
    return figures, ready_again


def postgres_restart_run(
    stack: Stack,
    postgres: PrivatePostgres,
    *,
    warmup: float = 4.0,
    down_seconds: float = 2.0,
    recovery_grace: float = 5.0,
    after: float = 10.0,
    catch_up_interval: float = 60.0,
) -> FaultReport:
    """PostgreSQL stopped (fast shutdown), held down ``down_seconds``, started again, under a light load.

    Then restarted once more while nobody works: every web process keeps its connections open between
    requests (CONN_MAX_AGE), and these all die unused. The first requests after that restart must not
    fail on them (CONN_HEALTH_CHECKS), so nothing may fail in that phase at all. Finally the results must
    catch up with every change: a recompute that failed on the database retries, and the catch-up
    schedule covers one that gave up."""
    setup = editing_setup(stack, prefix="feil-pg", editors=2, services=2, skip=3)
    before = service_states(stack, setup.service_ids)
    history_from = last_status_change_id(stack)
    pids = stack.running()
    run = secrets.token_hex(3)
    with LightLoad(stack, setup, run=run) as load:
        time.sleep(warmup)
        went_down = time.monotonic()
        postgres.stop("fast")
        time.sleep(down_seconds)
        postgres.start()
        back_at = time.monotonic()
        time.sleep(after)
    after_quiet_restart = LightLoad(stack, setup, run=run)  # signed in before, so its first requests come after
    postgres.restart()
    with after_quiet_restart:
        time.sleep(after)
    caught_up_after = _caught_up_after(stack, back_at, CLAIM_LOST_AFTER + catch_up_interval + RECOMPUTE_SLACK)
    window = (went_down, back_at + recovery_grace)
    failures = load.failures()
    inside = [f for f in failures if _overlaps(f[0], f[1], window)]
    outside = [f for f in failures if not _overlaps(f[0], f[1], window)] + after_quiet_restart.failures()
    writes = load.writes + after_quiet_restart.writes
    excused = frozenset(
        w.token for w in load.writes if w.outcome not in (ACCEPTED, STALE) and _overlaps(w.started, w.finished, window)
    )
    outcomes, ledger_problems = _ledger(stack, setup, writes, before, history_from, excused)
    readyz, ready_after = _readyz_figures(load.probes, (went_down, back_at), back_at)
    report = FaultReport(
        fault=f"PostgreSQL restarted (down {down_seconds:.0f} s), then restarted again with nobody working",
        down_seconds=round(back_at - went_down, 1),
        requests=len(load.answers) + len(after_quiet_restart.answers) + len(writes),
        writes_accepted=sum(w.outcome == ACCEPTED for w in writes),
        failures_in_window=len(inside),
        failures_outside_window=len(outside),
        recovered_after_seconds=round(max([f[1] - back_at for f in failures if f[1] > back_at], default=0.0), 1),
        readyz=readyz,
        ready_after_seconds=round(ready_after, 1) if ready_after is not None else None,
        caught_up_after_seconds=round(caught_up_after, 1) if caught_up_after is not None else None,
        processes_restarted=[name for name, pid in stack.running().items() if pids.get(name) != pid],
        ledger=outcomes,
    )
    report.problems += [f"5xx or no answer outside the outage window: {f[2]}" for f in outside]
    report.problems += ledger_problems
    if caught_up_after is None:
        report.problems.append("the results did not catch up with the changes after the restart")
    if readyz["503_while_down"] == 0 or readyz["other_while_down"]:
        report.problems.append(f"/readyz did not say 503 throughout the outage: {readyz}")
    if ready_after is None or ready_after > recovery_grace:
        report.problems.append(f"/readyz was not 200 within {recovery_grace} s of the restart ({ready_after})")
    if report.processes_restarted or set(pids) != set(stack.running()):
        report.problems.append(f"processes restarted or gone: before {pids}, after {stack.running()}")
    if not any(w.outcome == ACCEPTED and w.started > window[1] for w in writes):
        report.problems.append("no write was accepted after the recovery window")
    return report


def _caught_up_after(stack: Stack, since: float, bound: float) -> float | None:
    """Seconds from ``since`` until the stored results cover every change committed by now; None if
    that takes longer than ``bound`` seconds from ``since``."""
    revision = portfolio_state(stack)[0]
    while time.monotonic() < since + bound:
        computed = portfolio_state(stack)[1]
        if computed is not None and computed >= revision:
            return time.monotonic() - since
        time.sleep(0.5)
    return None


def _log_count(stack: Stack, name: str, text: str) -> int:
    path = stack.log_path(name)
    return path.read_text(errors="replace").count(text) if path.exists() else 0


def _stale_notice_shown(stack: Stack, session: requests.Session, service_id: int) -> bool:
    """The programme page and the service's page both say their results miss recent changes."""
    pages = [
        session.get(urljoin(stack.base_url, path), timeout=REQUEST_TIMEOUT)
        for path in ("/programme/", f"/services/{service_id}/")
    ]
    return all(page.status_code == 200 and STALE_NOTICE in page.text for page in pages)


def redis_outage_run(
    stack: Stack,
    redis: PrivateRedis,
    *,
    warmup: float = 4.0,
    down_seconds: float = 20.0,
    catch_up_interval: float = 60.0,
    after: float = 3.0,
) -> FaultReport:
    """Redis stopped for ``down_seconds`` under a light load, then started again; see the module docstring.

    ``catch_up_interval`` is the stack's RECOMPUTE_CATCH_UP_SECONDS: with it, how long results may stay
    stale once Redis is back is bounded (a claim queued just before the outage waits CLAIM_LOST_AFTER)."""
    setup = editing_setup(stack, prefix="feil-redis", editors=2, services=2, skip=5)
    before = service_states(stack, setup.service_ids)
    history_from = last_status_change_id(stack)
    pids = stack.running()
    unqueued_before = _log_count(stack, "web", "Could not queue the portfolio recompute")
    observer = requests.Session()
    observer.headers["Accept-Language"] = "en"
    sign_in(observer, stack.base_url, setup.editors[0]["username"], DEMO_PASSWORD, timeout=REQUEST_TIMEOUT)
    with LightLoad(stack, setup, run=secrets.token_hex(3)) as load:
        time.sleep(warmup)
        went_down = time.monotonic()
        redis.stop()
        # Once a change is saved during the outage, look at the pages as a person would.
        while time.monotonic() < went_down + down_seconds / 2:
            if any(w.outcome == ACCEPTED and w.started > went_down for w in load.writes):
                break
            time.sleep(0.2)
        time.sleep(1)
        stale_notice_seen = _stale_notice_shown(stack, observer, setup.service_ids[0])
        time.sleep(max(0.0, went_down + down_seconds - time.monotonic()))
        redis.start()
        back_at = time.monotonic()
        # The changes made during the outage (and any since) are recomputed without anyone's help.
        bound = max(0.0, CLAIM_LOST_AFTER - down_seconds) + catch_up_interval + RECOMPUTE_SLACK
        caught_up_after = _caught_up_after(stack, back_at, bound)
        time.sleep(after)
    failures = load.failures()
    outcomes, ledger_problems = _ledger(stack, setup, load.writes, before, history_from, frozenset())
    readyz, ready_after = _readyz_figures(load.probes, (went_down, back_at), back_at)
    broker_errors = sum(
        p.checks.get("broker", {}).get("status") == "error"
        for p in load.probes
        if went_down + 0.5 <= p.at <= back_at - 0.2
    )
    report = FaultReport(
        fault=f"Redis stopped for {down_seconds:.0f} s",
        down_seconds=round(back_at - went_down, 1),
        requests=len(load.answers) + len(load.writes),
        writes_accepted=sum(w.outcome == ACCEPTED for w in load.writes),
        failures_in_window=sum(_overlaps(f[0], f[1], (went_down, back_at)) for f in failures),
        failures_outside_window=sum(not _overlaps(f[0], f[1], (went_down, back_at)) for f in failures),
        recovered_after_seconds=0.0,
        readyz=readyz,
        ready_after_seconds=round(ready_after, 1) if ready_after is not None else None,
        caught_up_after_seconds=round(caught_up_after, 1) if caught_up_after is not None else None,
        stale_notice_seen=stale_notice_seen,
        unqueued_recomputes_logged=_log_count(stack, "web", "Could not queue the portfolio recompute")
        - unqueued_before,
        processes_restarted=[name for name, pid in stack.running().items() if pids.get(name) != pid],
        ledger=outcomes,
    )
    report.problems += [f"failed while Redis was down or after: {f[2]}" for f in failures]
    report.problems += ledger_problems
    if readyz["503_while_down"] == 0 or readyz["other_while_down"] or broker_errors != readyz["503_while_down"]:
        report.problems.append(f"/readyz did not say 503 (broker) throughout the outage: {readyz}")
    if ready_after is None or ready_after > 5:
        report.problems.append(f"/readyz was not 200 within 5 s of Redis' return ({ready_after})")
    if not any(w.outcome == ACCEPTED and went_down < w.started and w.finished < back_at for w in load.writes):
        report.problems.append("no change was saved while Redis was down")
    if not stale_notice_seen:
        report.problems.append("the pages did not say their results were stale during the outage")
    if caught_up_after is None:
        report.problems.append(f"the changes made during the outage were not recomputed within {bound:.0f} s")
    if report.processes_restarted or set(pids) != set(stack.running()):
        report.problems.append(f"processes restarted or gone: before {pids}, after {stack.running()}")
    return report
