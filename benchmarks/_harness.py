"""Shared plumbing for benchmarks: a throw-away database per dataset, seeded by seed_demo.

Each dataset lives in its own SQLite file under a temporary directory (or, with DATABASE_URL set to
PostgreSQL, in its own database next to the configured one), so a benchmark never touches real data.
Measurements run in a child process configured for that database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def dataset_env(name: str) -> dict[str, str]:
    """Environment for a child process using the dataset ``name``."""
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "tracker.settings"}
    env.pop("REDIS_URL", None)  # in-process tasks: the benchmark measures the work, not a broker
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/bench_{name}"))
    else:
        env.pop("DATABASE_URL", None)
        env["TRACKER_VAR_DIR"] = str(Path(tempfile.gettempdir()) / "tracker-bench" / name)
    return env


def prepare(name: str, services: int) -> dict[str, str]:
    """Create (once) and seed the dataset; reuse it when it already holds ``services`` services."""
    env = dataset_env(name)
    if "DATABASE_URL" in env:
        parts = urlsplit(env["DATABASE_URL"])
        subprocess.run(
            [
                "createdb",
                "-h",
                parts.hostname or "127.0.0.1",
                "-p",
                str(parts.port or 5432),
                "-U",
                parts.username or "postgres",
                parts.path.lstrip("/"),
            ],
            capture_output=True,
            check=False,
        )
    else:
        Path(env["TRACKER_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    manage = [PYTHON, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    count = child(env, "from migration_app.models import Service; print(Service.objects.count())")
    if int(count.strip() or 0) != services:
        print(f"  seeding {services:,} services for '{name}' (once; reused by later runs)…", file=sys.stderr)
        subprocess.run(
            [*manage, "seed_demo", "--services", str(services), "--seed", "1", "--replace", "--no-snapshots"],
            env=env,
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
    return env


def child(env: dict[str, str], code: str) -> str:
    """Run ``code`` after django.setup() in a child process for the dataset; return its stdout."""
    script = "import django; django.setup()\n" + code
    done = subprocess.run([PYTHON, "-c", script], env=env, check=True, cwd=ROOT, capture_output=True, text=True)
    return done.stdout


def child_json(env: dict[str, str], code: str) -> dict:
    return json.loads(child(env, code).strip().splitlines()[-1])
