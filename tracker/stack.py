"""The production configuration on one machine: gunicorn, a Celery worker per queue and Celery beat.

``make stack`` uses the command line (``python -m tracker.stack start|stop|status``); the load, identity
and fault tests use :class:`Stack` directly, so what they prove is what ``make stack`` runs. Each process
runs in a session of its own with its pid in ``run_dir`` and its output in ``run_dir/<name>.log``; stop
sends SIGTERM (gunicorn and Celery both finish the work in hand), then SIGKILL after a grace period.

There is one worker per kind of work, each on its own queue and with its own concurrency (settings:
``TASK_QUEUES``; docs/deployment.md, "Queues and workers"), so a long recompute never delays an e-mail.

The stack needs a PostgreSQL database and a Redis server (``DATABASE_URL`` and ``REDIS_URL``); it is
the same code as ``make run`` with the embedded defaults switched off.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, cast

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_RUN_DIR = BASE_DIR / "var" / "stack"


class WorkerKind(NamedTuple):
    """One Celery worker of the stack: the kind of work it takes (a key of settings.TASK_QUEUES) and the
    variable that sizes it (its number of pool processes)."""

    kind: str
    concurrency_variable: str
    default_concurrency: int


# One worker per queue, by process name. Recomputes are CPU-bound and coalesced into one at a time, so one
# process; deliveries mostly wait on the SMTP server, so two, and one slow delivery does not hold up the next.
WORKERS = {
    "worker-recompute": WorkerKind("recompute", "CELERY_RECOMPUTE_CONCURRENCY", 1),
    "worker-email": WorkerKind("email", "CELERY_EMAIL_CONCURRENCY", 2),
}
PROCESS_NAMES = ("web", *WORKERS, "beat")


class StackError(RuntimeError):
    """The stack could not be started, or a process died while starting."""


@dataclass
class Stack:
    """gunicorn + a Celery worker per queue + beat for one database and one broker.

    ``env`` is added to this process's environment for every child; it must hold DATABASE_URL and
    REDIS_URL. ``web_workers`` and friends override the gunicorn defaults in tracker/gunicorn.conf.py;
    ``worker_concurrency`` (by kind: ``{"email": 4}``) overrides the workers' sizes in WORKERS and ``env``.
    """

    env: Mapping[str, str]
    run_dir: Path = DEFAULT_RUN_DIR
    host: str = "127.0.0.1"
    port: int = 8000
    web_workers: int | None = None
    web_worker_class: str | None = None
    web_threads: int | None = None
    worker_concurrency: Mapping[str, int] = field(default_factory=dict)
    beat: bool = True
    python: str = sys.executable
    _processes: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- The environment every process shares ---------------------------------------------------

    def child_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not env.get(name)]
        if missing:
            raise StackError(
                f"{' and '.join(missing)} must be set for the production stack, e.g. "
                "DATABASE_URL=postgres://postgres@127.0.0.1:5432/tracker REDIS_URL=redis://127.0.0.1:6379/1"
            )
        env.setdefault("DEBUG", "0")
        env.setdefault("ALLOWED_HOSTS", f"{self.host},localhost,127.0.0.1")
        env.setdefault("LOG_FORMAT", "json")
        # Plain http on loopback: no TLS to redirect to. Behind a TLS-terminating proxy set HTTPS=1
        # (docs/deployment.md), which turns on the redirect, HSTS and secure-only cookies.
        env.setdefault("HTTPS", "0")
        env.setdefault("SECRET_KEY", self._kept_secret("secret_key"))
        env.setdefault("METRICS_TOKEN", self._kept_secret("metrics_token"))
        # All processes on this machine write their metrics to one directory; /metrics adds them up.
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(self.run_dir / "prometheus"))
        env["GUNICORN_BIND"] = f"{self.host}:{self.port}"
        for name, value in (
            ("GUNICORN_WORKERS", self.web_workers),
            ("GUNICORN_WORKER_CLASS", self.web_worker_class),
            ("GUNICORN_THREADS", self.web_threads),
        ):
            if value is not None:
                env[name] = str(value)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _kept_secret(self, name: str) -> str:
        """A random secret made on first start and kept in run_dir, so sessions survive a restart."""
        path = self.run_dir / name
        if not path.exists():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(50))
            path.chmod(0o600)
        return path.read_text().strip()

    # --- Preparing the database -------------------------------------------------------------------

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``manage.py`` with the stack's environment (migrate, seed_demo, export_catalog...)."""
        return subprocess.run(
            [self.python, str(BASE_DIR / "manage.py"), *args],
            cwd=BASE_DIR,
            env=self.child_env(),
            check=check,
        )

    def ensure_database(self) -> None:
        """Create the PostgreSQL database named in DATABASE_URL if the server does not have it yet."""
        import psycopg
        from psycopg import sql

        url = self.child_env()["DATABASE_URL"]
        try:
            psycopg.connect(url, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            if "does not exist" not in str(exc):
                raise StackError(f"Cannot reach the database: {exc}") from None
            # Parsed from the URL alone (no keyword overrides), so every value is a string.
            info = cast("dict[str, str]", psycopg.conninfo.conninfo_to_dict(url))
            name = info.pop("dbname")
            with psycopg.connect(psycopg.conninfo.make_conninfo(**info, dbname="postgres"), autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"Created the database {name!r}.", flush=True)

    def ensure_broker(self) -> None:
        """Fail at once, naming it, when Redis does not answer: the worker would otherwise retry forever
        (settings: the broker connection is retried without limit) and start() time out without saying why."""
        import redis

        url = self.child_env()["REDIS_URL"]
        try:
            redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).ping()
        except (redis.RedisError, OSError) as exc:
            parts = urllib.parse.urlsplit(url)  # host and port only: the URL may carry a password
            raise StackError(f"Cannot reach Redis at {parts.hostname}:{parts.port or 6379}: {exc}") from None

    def prepare(self, *, demo: bool = False) -> None:
        """Check the servers, create the database if needed, migrate and, when asked, seed an empty catalog."""
        self.ensure_database()
        self.ensure_broker()
        self.manage("migrate", "--no-input", "-v0")
        if demo:
            self.manage("seed_demo", "--if-empty")

    # --- Processes --------------------------------------------------------------------------------

    def worker_queues(self) -> dict[str, str]:
        """Worker process name → the queue it consumes: ``<CELERY_QUEUE>.<kind>``, as settings name them."""
        prefix = {**os.environ, **self.env}.get("CELERY_QUEUE") or "tracker"
        return {name: f"{prefix}.{worker.kind}" for name, worker in WORKERS.items()}

    def worker_sizes(self) -> dict[str, int]:
        """Worker process name → its pool processes: ``worker_concurrency``, else the environment, else WORKERS."""
        env = {**os.environ, **self.env}
        return {
            name: self.worker_concurrency.get(worker.kind)
            or _env_positive_int(env, worker.concurrency_variable, worker.default_concurrency)
            for name, worker in WORKERS.items()
        }

    def commands(self) -> dict[str, list[str]]:
        bin_dir = Path(self.python).parent
        commands = {
            "web": [str(bin_dir / "gunicorn"), "-c", str(BASE_DIR / "tracker" / "gunicorn.conf.py"), "tracker.wsgi"],
        }
        queues, sizes = self.worker_queues(), self.worker_sizes()
        for name, worker in WORKERS.items():
            commands[name] = [
                str(bin_dir / "celery"),
                "-A",
                "tracker",
                "worker",
                "--loglevel=INFO",
                f"--queues={queues[name]}",
                f"--concurrency={sizes[name]}",
                f"--hostname={worker.kind}-{self.port}@%h",
            ]
        if self.beat:
            commands["beat"] = [
                str(bin_dir / "celery"),
                "-A",
                "tracker",
                "beat",
                "--loglevel=INFO",
                f"--schedule={self.run_dir / 'celerybeat-schedule'}",
                f"--pidfile={self.run_dir / 'celerybeat.pid'}",
            ]
        return commands

    def start(self, *, timeout: float = 90) -> None:
        """Start every process and return once the web answers /healthz and every worker is ready."""
        if self.running():
            raise StackError(f"A stack is already running from {self.run_dir} (pids {self.pids()}); stop it first.")
        if self._port_taken():
            # Otherwise whatever holds the port could answer /healthz in our place while gunicorn retries.
            raise StackError(f"Something else already listens on {self.host}:{self.port}; choose another PORT.")
        env = self.child_env()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        metrics_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])
        # Multiprocess metric files belong to the pids that wrote them: stale files from a previous run
        # would be added to this run's totals.
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        with contextlib.suppress(FileNotFoundError):
            (self.run_dir / "celerybeat.pid").unlink()
        # The logs are appended to, run after run: only what this run writes tells that a worker is ready.
        log_starts = {name: _size(self.log_path(name)) for name in WORKERS}
        for name, command in self.commands().items():
            self._spawn(name, command, env)
        try:
            self.wait_until_ready(timeout=timeout, log_starts=log_starts)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = self.log_path(name).open("ab")
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # A session of its own: Ctrl-C in the terminal that ran `make stack` does not reach it, and
            # stop() can signal the whole process group.
            start_new_session=True,
        )
        log.close()
        self._processes[name] = process
        self.pid_path(name).write_text(str(process.pid))

    def wait_until_ready(self, *, timeout: float = 90, log_starts: Mapping[str, int] | None = None) -> None:
        """Wait for /healthz and for each worker's "ready." in its log (after ``log_starts``, byte offsets)."""
        deadline = time.monotonic() + timeout
        log_starts = log_starts or {}
        web_ready = False
        workers_ready: set[str] = set()
        while time.monotonic() < deadline:
            for name in self.pids():
                if not self._alive(name):
                    raise StackError(f"The {name} process exited while starting; see {self.log_path(name)}.")
            web_ready = web_ready or self.healthy()
            for name in set(WORKERS) - workers_ready:
                log = self.log_path(name)
                # Celery prints "<hostname> ready." once it consumes from the broker.
                if log.exists() and b" ready." in log.read_bytes()[log_starts.get(name, 0) :]:
                    workers_ready.add(name)
            if web_ready and workers_ready == set(WORKERS):
                return
            time.sleep(0.2)
        workers = ", ".join(f"{name} {'ready' if name in workers_ready else 'not ready'}" for name in WORKERS)
        raise StackError(
            f"The stack was not ready within {timeout:.0f} s (web {'up' if web_ready else 'down'}, {workers}); "
            f"see the logs in {self.run_dir}."
        )

    def _port_taken(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=1):
            return True
        return False

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/healthz", timeout=2) as response:
                status: int = response.status
                return status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, *, grace: float = 30) -> None:
        """SIGTERM every process group, then SIGKILL whatever is left after ``grace`` seconds."""
        pids = self.pids()
        for pid in pids.values():
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, pid in pids.items():
            while self._alive(name) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._alive(name):
                _signal_group(pid, signal.SIGKILL)
                self._wait(name, 5)
            self.pid_path(name).unlink(missing_ok=True)
        self._processes.clear()

    # --- Faults and restarts, for the tests ---------------------------------------------------------

    def reload_web(self) -> None:
        """gunicorn's graceful reload: new workers start, old ones finish their requests and exit."""
        os.kill(self.pids()["web"], signal.SIGHUP)

    def web_worker_pids(self) -> list[int]:
        return _children(self.pids()["web"])

    def kill_web_worker(self) -> int:
        """Kill one gunicorn worker outright (as the OOM killer would); the master starts a new one."""
        victim = self.web_worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        return victim

    def restart(self, name: str, *, timeout: float = 60) -> None:
        """Stop one process (gracefully) and start it again, e.g. ``worker-email``."""
        pid = self.pids()[name]
        _signal_group(pid, signal.SIGTERM)
        self._wait(name, timeout)
        self._spawn(name, self.commands()[name], self.child_env())

    # --- Bookkeeping --------------------------------------------------------------------------------

    def pid_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def pids(self) -> dict[str, int]:
        pids = {}
        for name in PROCESS_NAMES:
            with contextlib.suppress(FileNotFoundError, ValueError):
                pids[name] = int(self.pid_path(name).read_text())
        return pids

    def running(self) -> dict[str, int]:
        return {name: pid for name, pid in self.pids().items() if self._alive(name)}

    def _alive(self, name: str) -> bool:
        process = self._processes.get(name)
        if process is not None:
            return process.poll() is None
        pid = self.pids().get(name)
        return pid is not None and _pid_alive(pid)

    def _wait(self, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._alive(name) and time.monotonic() < deadline:
            time.sleep(0.1)

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _env_positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """A count from the environment (settings.py's env_int, with the launcher's error): at least 1."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StackError(f"{name}={raw!r} is not an integer.") from None
    if value < 1:
        raise StackError(f"{name}={value} must be at least 1.")
    return value


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):  # ESRCH: it exited between open and read
        return False
    return state != "Z"  # a zombie has exited; it only waits for its parent to notice


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc), oldest first."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        # A process that exits while we look: FileNotFoundError on open, ProcessLookupError on read.
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                children.append((int(fields[19]), int(stat.parent.name)))
    return [child for _start, child in sorted(children)]


# --- Command line: `make stack` and `make stack-stop` ----------------------------------------------


def _stack_from_environment(args: argparse.Namespace) -> Stack:
    return Stack(env={}, run_dir=Path(args.run_dir), host=args.host, port=args.port)


def main(argv: Iterator[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracker.stack", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--run-dir", default=os.environ.get("STACK_RUN_DIR", str(DEFAULT_RUN_DIR)))
    parser.add_argument("--demo", action="store_true", help="seed the demo catalog if the database is empty")
    args = parser.parse_args(list(argv) if argv is not None else None)
    stack = _stack_from_environment(args)

    if args.action == "status":
        running = stack.running()
        queues = stack.worker_queues()
        for name in PROCESS_NAMES:
            state = f"running (pid {running[name]})" if name in running else "stopped"
            on = f", queue {queues[name]}" if name in queues and name in running else ""
            print(f"{name:<18}{state}{on}")
        print(f"{'web':<18}{'healthy' if stack.healthy() else 'not answering'} at {stack.base_url}/healthz")
        return 0 if running else 3
    if args.action == "stop":
        if not stack.running():
            # Nothing to stop is not a failure; stale pid files from a crashed run are cleared all the same.
            stack.stop()
            print("The stack is not running.")
            return 0
        stack.stop()
        print("Stopped.")
        return 0

    if running := stack.running():
        # Before migrating or seeding: a second `make stack` should say so at once and change nothing.
        print(
            f"The stack is already running from {stack.run_dir} (pids {running}) at {stack.base_url}/; "
            "`make stack-stop` stops it.",
            file=sys.stderr,
        )
        return 1
    try:
        print("Checking PostgreSQL and Redis, applying migrations...", flush=True)
        stack.prepare(demo=args.demo)
        print("Starting gunicorn, a Celery worker per queue (recompute, e-mail) and beat...", flush=True)
        stack.start()
    except (StackError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    env = stack.child_env()
    workers = ", ".join(
        f"{name} on {stack.worker_queues()[name]} x{size}" for name, size in stack.worker_sizes().items()
    )
    print(
        f"The production stack is up at {stack.base_url}/ (pids {stack.running()}).\n"
        f"  workers:  {workers}\n"
        f"  logs:     {stack.run_dir}/{{{','.join(PROCESS_NAMES)}}}.log (JSON lines)\n"
        f"  health:   {stack.base_url}/healthz and {stack.base_url}/readyz\n"
        f"  metrics:  curl -H 'Authorization: Bearer {env['METRICS_TOKEN']}' {stack.base_url}/metrics\n"
        f"  stop:     make stack-stop"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
