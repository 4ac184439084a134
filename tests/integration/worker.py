"""Start real Celery worker processes against the test database and Redis, for reliability tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import kombu.pools
from django.conf import settings
from django.db import connection
from kombu import Exchange, Queue

from tracker.celery import app

ROOT = Path(settings.BASE_DIR)


def test_database_url() -> str:
    """The URL of the database pytest-django created, so a worker process sees the test's rows."""
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


@dataclass(frozen=True)
class PrivateQueues:
    """A test's own queue names, one per kind of work, and the CELERY_QUEUE prefix that names them."""

    prefix: str
    recompute: str
    email: str

    def names(self) -> tuple[str, ...]:
        return (self.recompute, self.email)


@contextmanager
def private_queue() -> Iterator[PrivateQueues]:
    """Route this test's tasks, of both kinds, to queues of its own, so leftovers from other runs never
    interfere. A worker started with ``CELERY_QUEUE=<prefix>`` routes the tasks it sends there too."""
    prefix = f"tracker-test-{uuid.uuid4().hex[:8]}"
    # The settings' names with this prefix in place of theirs: ``<prefix>.<kind>``.
    private = {
        kind: prefix + name.removeprefix(settings.TASK_QUEUE_PREFIX) for kind, name in settings.TASK_QUEUES.items()
    }
    queues = PrivateQueues(prefix=prefix, **private)
    renamed = {settings.TASK_QUEUES[kind]: name for kind, name in private.items()}
    previous = {key: app.conf[key] for key in ROUTING}
    _route(
        task_default_queue=renamed[app.conf.task_default_queue],
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in queues.names()],
        task_routes={task: {**route, "queue": renamed[route["queue"]]} for task, route in app.conf.task_routes.items()},
    )
    try:
        yield queues
    finally:
        _route(**previous)
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete(*queues.names())


ROUTING = ("task_default_queue", "task_queues", "task_routes")


def _route(**conf: object) -> None:
    # The app reads Django settings with the CELERY_ namespace, so the overrides use those keys.
    app.conf.update({f"CELERY_{key.upper()}": value for key, value in conf.items()})
    # Celery caches the queue declarations and the routes on first use; drop them so they are rebuilt.
    for cached in ("default_queue", "queues", "router", "default_exchange"):
        with contextlib.suppress(AttributeError, KeyError):
            delattr(app.amqp, cached)
    app.amqp._rtable = None


def connection_pools_drop() -> None:
    """Forget the broker connections, after a test points the app at another broker URL and before it
    points it back: Celery keeps a connection pool and a producer pool bound to the URL it first used,
    and kombu's registry of pools would hand the closed ones back."""
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


class Worker:
    """One ``celery worker`` subprocess (prefork, one process) consuming the queues of
    ``kinds`` ("recompute", "email"; both by default), with ``env`` added to its environment."""

    def __init__(
        self,
        queues: PrivateQueues,
        name: str,
        *,
        kinds: tuple[str, ...] = ("recompute", "email"),
        visibility_timeout: int = 8,
        env: Mapping[str, str] | None = None,
    ) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CELERY_QUEUE": queues.prefix,
            "CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout),
            **(env or {}),
        }
        self.log_path = Path(f"/tmp/{queues.prefix}-{name}.log")
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tracker",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "--pool=prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{name}@%h",
                "-Q",
                ",".join(getattr(queues, kind) for kind in kinds),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log_path.read_text():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()}")
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.log_path.read_text()}")

    def kill_hard(self) -> None:
        """SIGKILL the whole process group: the main process and its pool child die mid-task."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()
