"""Fixtures for the black-box tests of the production stack (gunicorn, a Celery worker per queue, beat).

These tests talk to the stack over loopback HTTP only, on private PostgreSQL and Redis servers
(tests/stack/servers.py) that they may restart or stop. pytest-django's test database is not involved.
One stack serves the whole session: starting it (a fresh cluster, migrations, a seeded catalog) takes
about half a minute.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import require_service
from tracker.stack import Stack

from .servers import PrivatePostgres, PrivateRedis, scenario_stack

# Small enough to seed in seconds, big enough that the pages and the API do real work.
STACK_SERVICES = int(os.environ.get("STACK_TEST_SERVICES", "300"))
DEMO_PASSWORD = "demo-passord-2026"
CATCH_UP_SECONDS = 15


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    require_service("PostgreSQL server binaries", PrivatePostgres.available(), "install postgresql")
    server = PrivatePostgres()
    server.start()
    server.create_database("tracker")
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    require_service("redis-server", PrivateRedis.available(), "install redis-server")
    server = PrivateRedis()
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def stack(private_postgres, private_redis, tmp_path_factory) -> Iterator[Stack]:
    """The production stack on the private servers, with a seeded demo catalog and its demo users."""
    stack = scenario_stack(
        private_postgres,
        private_redis,
        run_dir=tmp_path_factory.mktemp("stack"),
        services=STACK_SERVICES,
        web_workers=int(os.environ.get("STACK_TEST_WEB_WORKERS", "3")),
        # Beat's catch-up recompute every 15 s instead of every minute keeps the Redis outage test short.
        env={"RECOMPUTE_CATCH_UP_SECONDS": str(CATCH_UP_SECONDS)},
    )
    stack.start()
    yield stack
    stack.stop()
