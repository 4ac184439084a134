"""gunicorn worker class and count: throughput and latency of the production stack under a realistic mix.

The default in tracker/gunicorn.conf.py is chosen from this measurement. Every configuration runs the
real stack (tracker.stack.Stack: gunicorn, a Celery worker per queue) against a private PostgreSQL and
Redis (tests/stack/servers.py) holding the demo catalog of 1,000 services, and a load generator in
another process drives it over loopback:

* service owners (signed in through the login form, one session each): their organisation's page, the
  service list and service details;
* project leads' scripts: ``GET /api/v1/services/`` (a page of 100) with an API token.

Every virtual user sends its next request as soon as the last one is answered (no think time), so the
stack is saturated and the figures are its capacity: requests per second, p50 and p99 latency and
errors, measured after every user has signed in and a short warm-up. Each configuration's throughput
is printed as a ratio to the baseline measured in the same run: gunicorn's textbook ``(2 × cores) + 1``
sync workers. The load generator shares the machine's cores with the stack, so the absolute figures
are below what a separate client would see; the ratios are what the choice rests on.

    .venv/bin/python benchmarks/gunicorn_workers.py            # 8 configurations, 15 s each, best of 2 rounds
    .venv/bin/python benchmarks/gunicorn_workers.py --quick    # baseline and the default only, 5 s each
    .venv/bin/python benchmarks/gunicorn_workers.py --configs sync:5,gthread:2x4,gthread:3x8 --seconds 20

The load generator is this same file run with ``--drive`` (locust as a library, in its own process so
its gevent monkey-patching never touches the process managing the servers).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from tracker.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
SERVICES = 1_000
DEMO_PASSWORD = "demo-passord-2026"  # noqa: S105 (seed_demo's public demo login, README)
OWNER_USERNAME = "eier"  # editor at Skatteetaten
LEAD_USERNAME = "leder"
CORES = os.cpu_count() or 1
# What the load generator prints as it opens and closes the measured window.
WINDOW_OPEN, WINDOW_CLOSED = "window-open", "window-closed"


@dataclass(frozen=True)
class WebConfig:
    """One gunicorn configuration: worker class, number of worker processes, threads per worker."""

    worker_class: str
    workers: int
    threads: int = 1

    @classmethod
    def parse(cls, text: str) -> WebConfig:
        """``sync:5`` or ``gthread:2x4`` (two processes of four threads)."""
        match = re.fullmatch(r"(sync|gthread):(\d+)(?:x(\d+))?", text.strip())
        if not match:
            raise argparse.ArgumentTypeError(f"{text!r} is not a configuration such as sync:5 or gthread:2x4")
        worker_class, workers, threads = match.group(1), int(match.group(2)), int(match.group(3) or 1)
        if worker_class == "sync" and threads != 1:
            raise argparse.ArgumentTypeError(f"{text!r}: sync workers have one thread each")
        return cls(worker_class, workers, threads)

    def __str__(self) -> str:
        if self.worker_class == "sync":
            return f"sync {self.workers}"
        return f"gthread {self.workers}x{self.threads}"


BASELINE = WebConfig("sync", 2 * CORES + 1)


def configured_default() -> WebConfig:
    """The configuration tracker/gunicorn.conf.py gives when no GUNICORN_* variable is set."""
    import runpy
    from unittest import mock

    clean = {name: value for name, value in os.environ.items() if not name.startswith("GUNICORN_")}
    with mock.patch.dict(os.environ, clean, clear=True):
        conf = runpy.run_path(str(ROOT / "tracker" / "gunicorn.conf.py"))
    threads = conf["threads"] if conf["worker_class"] == "gthread" else 1
    return WebConfig(conf["worker_class"], conf["workers"], threads)


DEFAULT_CONFIGS = [
    *(WebConfig("sync", n) for n in (2, 3, 4, 5)),
    *(WebConfig("gthread", n, t) for n, t in ((2, 4), (2, 8), (4, 4), (4, 8))),
]


@dataclass
class Measurement:
    """What the load generator saw during the measured window of one run."""

    config: WebConfig
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_errors: int
    # CPU time the gunicorn processes spent during the window, per request answered in it. Unlike req/s it
    # hardly moves when other programs compete for the cores, so it shows a configuration's overhead.
    web_cpu_ms: float = 0.0
    # The machine's 1-minute load average as the window opened: far above the core count, the run was
    # sharing the machine and its req/s and latencies say less.
    load_average: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


# --- The servers and the stack ------------------------------------------------------------------------


class BenchServers:
    """A private PostgreSQL (holding the seeded catalog) and Redis for the whole run."""

    def __init__(self) -> None:
        from tests.stack.servers import PrivatePostgres, PrivateRedis

        self.postgres = PrivatePostgres()
        self.redis = PrivateRedis()
        self.run_dir = Path(tempfile.mkdtemp(prefix="tracker-bench-stack-"))

    def __enter__(self) -> BenchServers:
        self.postgres.start()
        self.redis.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.redis.destroy()
        self.postgres.destroy()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.postgres.url("tracker"),
            "REDIS_URL": self.redis.url(0),
            "CELERY_QUEUE": "tracker-bench",
            "SECRET_KEY": "bench-" + "x" * 50,
            "METRICS_TOKEN": "bench-metrics-" + "x" * 32,
            # One lead token and one address send thousands of requests a minute here; the throttles and
            # the sign-in lockout are not what is measured.
            "API_THROTTLE_USER": "1000000/minute",
            "API_THROTTLE_ANON": "1000000/minute",
        }

    def stack(self, config: WebConfig | None = None) -> Stack:
        from tests.stack.servers import free_port
        from tracker.stack import Stack

        return Stack(
            env=self.env(),
            run_dir=self.run_dir,
            port=free_port(),
            web_workers=config.workers if config else None,
            web_worker_class=config.worker_class if config else None,
            web_threads=config.threads if config else None,
            # Reads queue no work, so one process per queue is enough; beat would only fire hourly.
            worker_concurrency={"recompute": 1, "email": 1},
            beat=False,
        )

    def seed(self) -> str:
        """Create, migrate and seed the database; return the lead's API token."""
        self.postgres.create_database("tracker")
        stack = self.stack()

        def manage(*args: str) -> str:
            command = [stack.python, str(ROOT / "manage.py"), *args]
            return subprocess.run(
                command, cwd=ROOT, env=stack.child_env(), check=True, capture_output=True, text=True
            ).stdout

        manage("migrate", "--no-input")
        manage("seed_demo", "--services", str(SERVICES), "--seed", "7", "--no-snapshots")
        # "Generated token <key> for user leder"
        return manage("drf_create_token", LEAD_USERNAME).split()[2]


def measure(servers: BenchServers, config: WebConfig, token: str, *, users: int, seconds: float) -> Measurement:
    """Start the stack in ``config``, drive it from a second process, stop it."""
    stack = servers.stack(config)
    stack.start(timeout=120)
    try:
        command = [sys.executable, __file__, "--drive", stack.base_url, "--token", token]
        command += ["--users", str(users), "--seconds", str(seconds)]
        # The driver's errors go straight to this terminal. On its output it announces the measured window
        # opening and closing, so the web's CPU time is read at the same moments; its last line is the result.
        with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as driver:
            cpu_at_open = load_average = 0.0
            cpu_used = 0.0
            lines = []
            for line in driver.stdout:
                if line.strip() == WINDOW_OPEN:
                    cpu_at_open, load_average = web_cpu_seconds(stack), os.getloadavg()[0]
                elif line.strip() == WINDOW_CLOSED:
                    cpu_used = web_cpu_seconds(stack) - cpu_at_open
                else:
                    lines.append(line)
        if driver.returncode != 0:
            raise RuntimeError(f"the load generator failed for {config} (exit code {driver.returncode})")
    finally:
        stack.stop()
    result = json.loads(lines[-1])
    web_cpu_ms = 1000 * cpu_used / result["requests"]
    return Measurement(config=config, **result, web_cpu_ms=web_cpu_ms, load_average=load_average)


def web_cpu_seconds(stack: Stack) -> float:
    """User and system CPU time of the gunicorn master and its live workers so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in [stack.pids()["web"], *stack.web_worker_pids()]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # a worker that just exited; there is no recycling within a short window
        total += int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15 of stat(5)
    return total / ticks


def run(configs: list[WebConfig], *, users: int, seconds: float, rounds: int) -> list[Measurement]:
    """Every configuration ``rounds`` times (alternating the order against drift); each one's best round."""
    best: dict[WebConfig, Measurement] = {}
    with BenchServers() as servers:
        print(f"  seeding {SERVICES:,} services into a private PostgreSQL…", file=sys.stderr, flush=True)
        token = servers.seed()
        for round_number in range(rounds):
            order = configs if round_number % 2 == 0 else configs[::-1]
            for config in order:
                result = measure(servers, config, token, users=users, seconds=seconds)
                print(
                    f"  round {round_number + 1}: {config!s:<13} {result.rate:7.1f} req/s  p50 {result.p50_ms:6.1f} ms"
                    f"  p99 {result.p99_ms:7.1f} ms  errors {result.errors}  web CPU {result.web_cpu_ms:.1f} ms/req"
                    f"  load {result.load_average:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
                if config not in best or result.rate > best[config].rate:
                    best[config] = result
    return [best[config] for config in configs]


def report(results: list[Measurement], *, users: int, seconds: float, rounds: int) -> list[str]:
    baseline = next(r for r in results if r.config == BASELINE)
    lines = [
        f"gunicorn_workers: {users} users without think time, {seconds:g} s per configuration, best of {rounds}, "
        f"{CORES} cores; baseline {BASELINE} (2 × cores + 1)",
        f"  {'config':<14}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'5xx':>6}{'× baseline':>12}"
        f"{'web CPU ms/req':>16}{'load':>7}",
    ]
    for r in results:
        lines.append(
            f"  {r.config!s:<14}{r.rate:8.1f}{r.p50_ms:9.1f}{r.p99_ms:9.1f}{r.errors:8d}{r.server_errors:6d}"
            f"{r.rate / baseline.rate:12.2f}{r.web_cpu_ms:16.1f}{r.load_average:7.1f}"
        )
    fastest = max(results, key=lambda r: r.rate)
    lines.append(f"  highest throughput: {fastest.config} ({fastest.rate / baseline.rate:.2f} × baseline)")
    if max(r.load_average for r in results) > 2 * CORES:
        lines.append(f"  note: the load average exceeded {2 * CORES} during the run; other programs shared the cores")
    return lines


def main(
    configs: list[WebConfig] | None = None,
    *,
    users: int = 16,
    seconds: float = 15,
    rounds: int = 2,
) -> list[str]:
    from tests.stack.servers import PrivatePostgres, PrivateRedis

    if not (PrivatePostgres.available() and PrivateRedis.available()):
        print("gunicorn_workers: skipped (needs PostgreSQL's server binaries and redis-server)")
        return []
    configs = list(configs or DEFAULT_CONFIGS)
    if BASELINE not in configs:
        configs.insert(0, BASELINE)
    results = run(configs, users=users, seconds=seconds, rounds=rounds)
    lines = report(results, users=users, seconds=seconds, rounds=rounds)
    for line in lines:
        print(line, flush=True)
    return lines


# --- The load generator (``--drive``): locust as a library, in its own process ------------------------


def drive(base_url: str, token: str, *, users: int, seconds: float, warmup: float = 3.0) -> dict:
    """Sign every user in, warm up, then count ``seconds`` of requests; returns the Measurement fields."""
    # locust monkey-patches the standard library for gevent when imported, which must happen before
    # requests (urllib3) sets up ssl; alphabetical order happens to keep it so.
    import gevent
    import locust
    import requests
    from locust import task
    from locust.env import Environment

    api_headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    listing = requests.get(
        f"{base_url}/api/v1/services/", params={"page_size": SERVICES}, headers=api_headers, timeout=30
    )
    listing.raise_for_status()
    service_ids = [row["id"] for row in listing.json()["results"]]
    owner_code = "skd"

    signed_in = 0
    window = {"open": False}
    latencies: list[float] = []
    outcome = {"errors": 0, "server_errors": 0}

    class ServiceOwner(locust.FastHttpUser):
        """An owner at Skatteetaten browsing: their organisation, the catalog, one service after another."""

        weight = 3

        def on_start(self) -> None:
            nonlocal signed_in
            page = self.client.get("/accounts/login/", name="sign in")
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text or "")
            if csrf is None:
                raise RuntimeError(f"no CSRF token on the sign-in page (HTTP {page.status_code})")
            self.client.post(
                "/accounts/login/",
                data={"username": OWNER_USERNAME, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": csrf.group(1)},
                headers={"Referer": f"{base_url}/accounts/login/"},
                name="sign in",
            )
            signed_in += 1

        @task(1)
        def organisation_page(self) -> None:
            self.client.get(f"/organisations/{owner_code}/", name="/organisations/<code>/")

        @task(2)
        def service_list(self) -> None:
            self.client.get("/services/", name="/services/")

        @task(4)
        def service_detail(self) -> None:
            self.client.get(f"/services/{random.choice(service_ids)}/", name="/services/<id>/")

    class LeadScript(locust.FastHttpUser):
        """A project lead's script pulling the catalog from the API, a page at a time."""

        weight = 1

        def on_start(self) -> None:
            nonlocal signed_in
            signed_in += 1

        @task
        def api_services(self) -> None:
            page = random.randint(1, SERVICES // 100)
            self.client.get(f"/api/v1/services/?page={page}", headers=api_headers, name="/api/v1/services/")

    def on_request(response_time, response=None, exception=None, **_kwargs) -> None:
        if not window["open"]:
            return
        latencies.append(response_time)
        status = getattr(response, "status_code", 0) or 0
        if exception is not None or status >= 400 or status == 0:
            outcome["errors"] += 1
        if status >= 500:
            outcome["server_errors"] += 1

    env = Environment(user_classes=[ServiceOwner, LeadScript], host=base_url)
    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users)
    # Signing in costs a password hash each (deliberately slow); it is not part of the steady state.
    deadline = time.monotonic() + 120
    while signed_in < users and time.monotonic() < deadline:
        gevent.sleep(0.1)
    if signed_in < users:
        raise RuntimeError(f"only {signed_in} of {users} users signed in within 120 s")
    gevent.sleep(warmup)
    print(WINDOW_OPEN, flush=True)
    window["open"] = True
    started = time.monotonic()
    gevent.sleep(seconds)
    window["open"] = False
    elapsed = time.monotonic() - started
    print(WINDOW_CLOSED, flush=True)
    runner.quit()
    if len(latencies) < 2:
        raise RuntimeError("too few requests were answered to measure anything")
    centiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": centiles[49],
        "p99_ms": centiles[98],
        **outcome,
    }


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="baseline and the default only, 5 s each, one round")
    parser.add_argument("--configs", type=lambda s: [WebConfig.parse(c) for c in s.split(",")], default=None)
    parser.add_argument("--users", type=int, default=16, help="concurrent virtual users (default 16)")
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds per configuration (15)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds over all configurations (2)")
    parser.add_argument("--drive", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _arguments()
    if args.drive:
        print(json.dumps(drive(args.drive, args.token, users=args.users, seconds=args.seconds or 15)))
        sys.exit(0)
    if args.quick:
        main(
            args.configs or [configured_default()], users=args.users, seconds=args.seconds or 5, rounds=args.rounds or 1
        )
    else:
        main(args.configs, users=args.users, seconds=args.seconds or 15, rounds=args.rounds or 2)
