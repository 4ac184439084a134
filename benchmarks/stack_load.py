"""Load, full form: about 50 owners and leads for two minutes against the production stack.

The same scenario as tests/stack/test_load.py (tests/stack/load.py, traffic in benchmarks/locustfile.py),
longer and with more people, on the stack's default gunicorn configuration (tracker/gunicorn.conf.py)
and the demo catalog of 1,000 services, on private PostgreSQL and Redis servers. Prints requests per
second, p50/p99 per request type and overall, conflicts and failures; writes them to
var/bench/stack_load.json and locust's CSV files to var/bench/stack_load/.

    .venv/bin/python benchmarks/stack_load.py                      # 50 users, 120 s
    .venv/bin/python benchmarks/stack_load.py --users 80 --seconds 300
    .venv/bin/python benchmarks/stack_load.py --think 0,0         # no pauses: the stack's capacity for the mix
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.stack.load import load_run
from tests.stack.servers import private_stack

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--owners", type=int, default=20, help="distinct owner accounts (default 20)")
    parser.add_argument("--leads", type=int, default=4, help="distinct lead accounts with tokens (default 4)")
    parser.add_argument(
        "--think", default="0.5,2", help="seconds between a person's clicks, min,max (default 0.5,2; 0,0 saturates)"
    )
    args = parser.parse_args(argv)
    print(f"stack_load: starting the stack with {args.services:,} services…", flush=True)
    with private_stack(services=args.services) as stack:
        report = load_run(
            stack,
            users=args.users,
            spawn_rate=max(1, args.users // 10),
            seconds=args.seconds,
            out_dir=ROOT / "var" / "bench" / "stack_load",
            owners=args.owners,
            leads=args.leads,
            think=args.think,
        )
    print(report.summary(), flush=True)
    report.write_json(ROOT / "var" / "bench" / "stack_load.json")
    if report.failures or report.exceptions or report.server_errors():
        raise RuntimeError(f"{report.total.failures} failures, {report.server_errors()} answers 5xx")


if __name__ == "__main__":
    main()
