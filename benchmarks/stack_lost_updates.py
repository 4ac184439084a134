"""Lost updates, full form: 32 clients (API scripts and browsers) editing the same 3 services at once.

The same scenario as tests/stack/test_lost_updates.py (tests/stack/lost_updates.py) with more clients
and writes, on the production stack's defaults and private PostgreSQL and Redis servers. Prints the
writes by channel, kind and answer, and the ledger's problems (must be none); writes them to
var/bench/stack_lost_updates.json.

    .venv/bin/python benchmarks/stack_lost_updates.py                    # 32 clients × 20 writes
    .venv/bin/python benchmarks/stack_lost_updates.py --clients 48 --writes 40 --services 2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.stack.lost_updates import lost_updates_run
from tests.stack.servers import private_stack

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32, help="half API scripts, half browsers")
    parser.add_argument("--writes", type=int, default=20, help="writes per client")
    parser.add_argument("--services", type=int, default=3, help="services they all edit")
    parser.add_argument("--catalog", type=int, default=1000, help="demo services in the catalog")
    args = parser.parse_args(argv)
    print(f"stack_lost_updates: starting the stack with {args.catalog:,} services…", flush=True)
    with private_stack(services=args.catalog) as stack:
        report = lost_updates_run(stack, clients=args.clients, services=args.services, writes_per_client=args.writes)
    print(report.summary(), flush=True)
    out = ROOT / "var" / "bench" / "stack_lost_updates.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.as_dict(), indent=2))
    if report.problems:
        raise RuntimeError(f"{len(report.problems)} writes not accounted for")


if __name__ == "__main__":
    main()
