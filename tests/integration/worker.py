"""Start real Celery worker processes against the test database and Redis, for reliability tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from tracker.celery import app

ROOT = Path(settings.BASE_DIR)


def test_database_url() -> str:
    """The URL of the database pytest-django created, so a worker process sees the test's rows."""
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


@contextmanager
def private_queue() -> Iterator[str]:
    """Route this test's tasks to a queue of its own, so leftovers from other runs never interfere."""
    queue = f"tracker-test-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_default_queue
    _route_to(queue)
    try:
        yield queue
    finally:
        _route_to(previous)
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete(queue)


def _route_to(queue: str) -> None:
    # The app reads Django settings with the CELERY_ namespace, so the override uses that key.
    app.conf.update(CELERY_TASK_DEFAULT_QUEUE=queue)
    # Celery caches the queue declarations and the router on first use; drop them so they are rebuilt.
    for cached in ("default_queue", "queues", "router", "default_exchange"):
        with contextlib.suppress(AttributeError, KeyError):
            delattr(app.amqp, cached)


class Worker:
    """One ``celery worker`` subprocess (prefork, one process) consuming ``queue``."""

    def __init__(self, queue: str, name: str, *, visibility_timeout: int = 8) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CELERY_QUEUE": queue,
            "CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout),
        }
        self.log_path = Path(f"/tmp/{queue}-{name}.log")
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
                queue,
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
