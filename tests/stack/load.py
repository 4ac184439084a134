"""The load scenario: locust's owners and leads (benchmarks/locustfile.py) against a running stack.

``load_run`` creates the accounts, runs locust headless in a subprocess (gevent patches the whole
process it runs in, so never inside pytest), and reads back its CSV statistics and the per-status
tallies the locust file writes. tests/stack/test_load.py runs it short, benchmarks/stack_load.py long.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from tracker.stack import Stack

from .accounts import LoadAccounts, load_accounts_create
from .browser import sign_in

ROOT = Path(__file__).resolve().parent.parent.parent
LOCUSTFILE = ROOT / "benchmarks" / "locustfile.py"


@dataclass(frozen=True)
class RequestFigures:
    """One line of locust's statistics: a request type (method and name), or "Aggregated" for all."""

    method: str
    name: str
    requests: int
    failures: int
    per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def label(self) -> str:
        return f"{self.method} {self.name}".strip()


@dataclass
class LoadReport:
    """What one run measured. ``statuses`` counts answers by request and status code (0: no answer)."""

    users: int
    seconds: int
    locust_exit_code: int
    rows: list[RequestFigures]
    total: RequestFigures
    failures: list[dict[str, str]] = field(default_factory=list)
    # Python exceptions raised inside the locust file's tasks (a page without the expected form, ...).
    exceptions: list[dict[str, str]] = field(default_factory=list)
    statuses: list[dict[str, object]] = field(default_factory=list)

    def server_errors(self) -> int:
        return sum(int(row["count"]) for row in self.statuses if int(row["status"]) >= 500)

    def answers(self, request: str, status: int) -> int:
        return sum(int(row["count"]) for row in self.statuses if row["request"] == request and row["status"] == status)

    def summary(self) -> str:
        width = max(len(row.label) for row in [*self.rows, self.total])
        lines = [
            f"Load: {self.users} users for {self.seconds} s: {self.total.requests} requests, "
            f"{self.total.per_second:.1f} requests/s, p50 {self.total.p50_ms:.0f} ms, p99 {self.total.p99_ms:.0f} ms, "
            f"{self.total.failures} failures, {self.server_errors()} answers 5xx",
            f"  {'request':<{width}} {'count':>6} {'fail':>5} {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}",
        ]
        for row in [*self.rows, self.total]:
            lines.append(
                f"  {row.label:<{width}} {row.requests:>6} {row.failures:>5} {row.per_second:>6.1f} "
                f"{row.p50_ms:>7.0f} {row.p99_ms:>7.0f} {row.max_ms:>7.0f}"
            )
        conflicts = [
            f"{row['request']} → {row['status']}: {row['count']}"
            for row in self.statuses
            if row["status"] in (409, 422)
        ]
        if conflicts:
            lines.append("  conflicts and refused moves (expected outcomes): " + "; ".join(conflicts))
        lines.extend(
            f"  FAILURE {row['Method']} {row['Name']}: {row['Error']} × {row['Occurrences']}" for row in self.failures
        )
        lines.extend(f"  EXCEPTION {row['Message']} × {row['Count']}" for row in self.exceptions)
        return "\n".join(lines)

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {**asdict(self), "server_errors": self.server_errors()}
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False))


def _figures(row: dict[str, str]) -> RequestFigures:
    def number(column: str) -> float:
        value = row.get(column, "")
        return float(value) if value not in ("", "N/A") else 0.0

    return RequestFigures(
        method=row["Type"],
        name=row["Name"],
        requests=int(row["Request Count"]),
        failures=int(row["Failure Count"]),
        per_second=number("Requests/s"),
        p50_ms=number("50%"),
        p99_ms=number("99%"),
        max_ms=number("Max Response Time"),
    )


def owners_sign_in(stack: Stack, accounts: LoadAccounts) -> None:
    """Sign every owner account in through the form once, before the run; keep its cookies in the account
    for the locust users that carry on an existing session (see FORM_SIGN_IN_EVERY in the locust file)."""

    def one(owner: dict[str, Any]) -> None:
        session = requests.Session()
        sign_in(session, stack.base_url, owner["username"], accounts.password, timeout=300)
        owner["cookies"] = session.cookies.get_dict()

    with ThreadPoolExecutor(max_workers=len(accounts.owners)) as pool:
        list(pool.map(one, accounts.owners))


def load_run(
    stack: Stack,
    *,
    users: int,
    spawn_rate: float,
    seconds: int,
    out_dir: Path,
    owners: int = 11,
    leads: int = 2,
    think: str = "0.5,2",
) -> LoadReport:
    """Run locust against ``stack`` for ``seconds`` with ``users`` simulated people; return its figures.

    ``owners`` owner accounts (the demo ``eier`` and editors of the organisations with the most services)
    and ``leads`` lead accounts with API tokens are created first, and the owners signed in once;
    locust spreads its users over them.
    """
    accounts = load_accounts_create(stack, owners=owners, leads=leads)
    owners_sign_in(stack, accounts)
    out_dir.mkdir(parents=True, exist_ok=True)
    accounts_file = out_dir / "accounts.json"
    accounts_file.write_text(accounts.as_json())
    outcomes_file = out_dir / "outcomes.json"
    prefix = out_dir / "locust"
    command = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        f"{seconds}s",
        "--host",
        stack.base_url,
        "--csv",
        str(prefix),
        "--only-summary",
        # At the end, let every simulated person finish the click in hand rather than cutting requests off.
        "--stop-timeout",
        "15",
        "--loglevel",
        "WARNING",
    ]
    env = {**os.environ, "LOAD_ACCOUNTS": str(accounts_file), "LOAD_OUTCOMES": str(outcomes_file), "LOAD_THINK": think}
    with (out_dir / "locust.log").open("w") as log:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=seconds + 120)
    with open(f"{prefix}_stats.csv", newline="") as stats:
        rows = [_figures(row) for row in csv.DictReader(stats)]
    with open(f"{prefix}_failures.csv", newline="") as failures:
        failure_rows = list(csv.DictReader(failures))
    with open(f"{prefix}_exceptions.csv", newline="") as exceptions:
        exception_rows = list(csv.DictReader(exceptions))
    statuses = json.loads(outcomes_file.read_text()) if outcomes_file.exists() else []
    total = next(row for row in rows if row.name == "Aggregated")
    return LoadReport(
        users=users,
        seconds=seconds,
        locust_exit_code=done.returncode,
        rows=[row for row in rows if row is not total],
        total=total,
        failures=failure_rows,
        exceptions=exception_rows,
        statuses=statuses,
    )
