"""Identity canary, full form: 100 people signed in at once for two minutes, through sign-outs and
eight worker restarts, against the production stack.

The same scenario as tests/stack/test_identity.py (tests/stack/identity.py), longer and with more
people, on the stack's default gunicorn configuration and private PostgreSQL and Redis servers. Prints
how many responses were checked, leaks (must be none), anomalies, 5xx, requests dropped by killed
workers and the restarts; writes them to var/bench/stack_identity.json.

    .venv/bin/python benchmarks/stack_identity.py                       # 100 people, 120 s
    .venv/bin/python benchmarks/stack_identity.py --people 60 --seconds 300 --restarts 12
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.stack.identity import identity_run
from tests.stack.servers import private_stack

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100, help="at most the 106 demo organisations")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--restarts", type=int, default=8, help="reloads and kills of web workers, alternately")
    parser.add_argument(
        "--cycle-every", type=int, default=1, help="rounds of pages between a cycler's sign-out and sign-in (default 1)"
    )
    parser.add_argument("--services", type=int, default=1000)
    args = parser.parse_args(argv)
    print(f"stack_identity: starting the stack with {args.services:,} services…", flush=True)
    with private_stack(services=args.services) as stack:
        report = identity_run(
            stack,
            people=args.people,
            seconds=args.seconds,
            cyclers=args.people // 10,
            cycle_every=args.cycle_every,
            restarts=args.restarts,
        )
    print(report.summary(), flush=True)
    report.write_json(ROOT / "var" / "bench" / "stack_identity.json")
    if report.leak_count or report.server_errors or report.anomaly_count:
        raise RuntimeError(
            f"{report.leak_count} leaks, {report.server_errors} answers 5xx, {report.anomaly_count} anomalies"
        )


if __name__ == "__main__":
    main()
