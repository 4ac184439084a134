"""Private PostgreSQL and Redis servers for the stack tests and benchmarks.

The load, identity and fault scenarios restart and stop their servers on purpose, so they never use
the machine's shared ones (the rest of the suite runs on those). Each server here lives in a temporary
directory on a free loopback port and is gone when stopped. PostgreSQL refuses to run as root, so as
root its commands run as the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from tracker.stack import Stack


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} within {timeout:.0f} s")


def postgres_bin_dir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster: ``start()``, ``restart()``, ``stop()``; ``url(dbname)``."""

    def __init__(self, port: int | None = None) -> None:
        self.bin_dir = postgres_bin_dir()
        if self.bin_dir is None:
            raise RuntimeError("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tracker-pg-"))
        self.data = self.root / "data"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, user="postgres")

    @staticmethod
    def available() -> bool:
        return postgres_bin_dir() is not None

    def url(self, dbname: str = "tracker") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run([*prefix, *command], check=True, capture_output=True)

    def start(self) -> None:
        if not self.data.exists():
            self._run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop with ``-m fast`` (every open connection is cut, as in a failover) and start again."""
        self.stop("fast")
        self.start()

    def create_database(self, dbname: str = "tracker") -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.url(dbname)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A throw-away Redis that keeps its data in an append-only file, as production should, so queued
    tasks survive a restart."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tracker-redis-"))
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.root)),
                *("--appendonly", "yes", "--appendfsync", "always", "--save", ""),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(lambda: port_open(self.port), 15, f"Redis did not listen on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.process = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def scenario_stack(
    postgres: PrivatePostgres,
    redis: PrivateRedis,
    *,
    run_dir: Path,
    services: int,
    web_workers: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Stack:
    """The production stack on private servers as the scenarios run it (tests and benchmarks alike):
    migrated and seeded with ``services`` demo services and the demo users, ready to ``start()``.
    ``env`` adds to (or overrides) the settings below."""
    stack = Stack(
        env={
            "DATABASE_URL": postgres.url("tracker"),
            "REDIS_URL": redis.url(0),
            "CELERY_QUEUE": "tracker-stack-test",
            "SECRET_KEY": "stack-test-" + "x" * 50,
            "METRICS_TOKEN": "stack-test-metrics-" + "m" * 32,
            # The scenarios send many requests from one address; the throttles are tested elsewhere.
            "API_THROTTLE_USER": "100000/minute",
            "API_THROTTLE_ANON": "100000/minute",
            **(env or {}),
        },
        run_dir=run_dir,
        port=free_port(),
        web_workers=web_workers,
    )
    stack.prepare()
    stack.manage("seed_demo", "--services", str(services), "--seed", "7", "-v0")
    return stack


@contextlib.contextmanager
def private_stack(*, services: int, web_workers: int | None = None) -> Iterator[Stack]:
    """Private PostgreSQL and Redis, and the started stack on them; all gone afterwards. For the
    benchmarks (the tests get the same from the session fixtures in conftest.py)."""
    postgres, redis = PrivatePostgres(), PrivateRedis()
    try:
        postgres.start()
        postgres.create_database("tracker")
        redis.start()
        run_dir = Path(tempfile.mkdtemp(prefix="tracker-stack-"))
        stack = scenario_stack(postgres, redis, run_dir=run_dir, services=services, web_workers=web_workers)
        with stack:
            yield stack
        shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        redis.destroy()
        postgres.destroy()
