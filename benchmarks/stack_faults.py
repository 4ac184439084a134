"""Faults, full form: PostgreSQL restarted and Redis stopped for a full minute, under a light load.

The same scenarios as tests/stack/test_outages.py (tests/stack/outages.py), on the production stack's
own settings, beat's catch-up included (RECOMPUTE_CATCH_UP_SECONDS, a minute), and private PostgreSQL
and Redis servers that this script stops and starts. Prints, per fault, the failures inside and outside
the outage window (outside: must be none; Redis: none at all), how soon the app answered again, /readyz
while down and after, how soon the held-back recomputes ran, and the write ledger; writes them to
var/bench/stack_faults.json.

    .venv/bin/python benchmarks/stack_faults.py                          # Redis 60 s, PostgreSQL 5 s
    .venv/bin/python benchmarks/stack_faults.py --redis-seconds 120 --postgres-seconds 15
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.stack.outages import postgres_restart_run, redis_outage_run
from tests.stack.servers import PrivatePostgres, PrivateRedis, scenario_stack
from tracker.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
# settings.RECOMPUTE_CATCH_UP_SECONDS' default, which this run keeps.
CATCH_UP_SECONDS = 60


@contextlib.contextmanager
def stack_with_servers(services: int) -> Iterator[tuple[Stack, PrivatePostgres, PrivateRedis]]:
    """Like servers.private_stack, but handing out the servers too: this benchmark stops them."""
    postgres, redis = PrivatePostgres(), PrivateRedis()
    run_dir = Path(tempfile.mkdtemp(prefix="tracker-stack-faults-"))
    try:
        postgres.start()
        postgres.create_database("tracker")
        redis.start()
        with scenario_stack(postgres, redis, run_dir=run_dir, services=services) as stack:
            yield stack, postgres, redis
    finally:
        redis.destroy()
        postgres.destroy()
        shutil.rmtree(run_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-seconds", type=float, default=60)
    parser.add_argument("--postgres-seconds", type=float, default=5, help="how long PostgreSQL stays down")
    parser.add_argument("--catalog", type=int, default=1000, help="demo services in the catalog")
    args = parser.parse_args(argv)
    print(f"stack_faults: starting the stack with {args.catalog:,} services…", flush=True)
    with stack_with_servers(args.catalog) as (stack, postgres, redis):
        reports = [
            postgres_restart_run(
                stack, postgres, down_seconds=args.postgres_seconds, after=15, catch_up_interval=CATCH_UP_SECONDS
            ),
            redis_outage_run(stack, redis, down_seconds=args.redis_seconds, catch_up_interval=CATCH_UP_SECONDS),
        ]
    for report in reports:
        print(report.summary(), flush=True)
    out = ROOT / "var" / "bench" / "stack_faults.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([asdict(report) for report in reports], indent=2))
    problems = sum(len(report.problems) for report in reports)
    if problems:
        raise RuntimeError(f"{problems} problems in the fault runs")


if __name__ == "__main__":
    main()
