"""``make bench``: every benchmark, each printing ratios against a baseline measured in the same run.

Run one alone with ``python benchmarks/<name>.py``. Datasets are seeded once into throw-away
databases (see _harness.py) and reused by later runs.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCHMARKS = [
    "benchmarks.recompute",
    "benchmarks.api_list",
    "benchmarks.weekly_reports",
    # The production stack's gunicorn worker class and count: 16 stack starts, up to half an hour.
    "benchmarks.gunicorn_workers",
    # Lost updates on the production stack: 32 clients editing the same 3 services at once (a few minutes).
    "benchmarks.stack_lost_updates",
    # Faults on the production stack: PostgreSQL restarted, Redis stopped for a full minute (about 5 minutes).
    "benchmarks.stack_faults",
    # Load on the production stack: 50 owners and leads (locust) for two minutes (about 3 minutes).
    "benchmarks.stack_load",
    # Identity canary: 100 people signed in at once through sign-outs and worker restarts (about 4 minutes).
    "benchmarks.stack_identity",
]


def main() -> int:
    failures = 0
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            print(f"{name}: not available ({exc})")
            continue
        started = time.perf_counter()
        try:
            module.main()
        except Exception as exc:  # one broken benchmark should not hide the others' figures
            failures += 1
            print(f"{name}: FAILED: {exc!r}")
        print(f"({name} took {time.perf_counter() - started:.0f} s)\n", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
