"""Recompute speed: the full recompute against the floor of reading the same rows, at 1k/10k/100k.

Prints, per dataset: the floor (raw SQL reading every row the recompute reads), the steady-state
recompute (results already stored, nothing changed), the cold recompute (every readiness row
written), their ratios, and peak Python memory. Then the 100k/10k scaling ratio.
Targets (issue 3): steady recompute / floor ≤ 3 at 100,000; 100k/10k ≤ 12.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import child_json, prepare

MEASURE = r"""
import gc, json, time, tracemalloc, datetime
from django.db import connection
from django.utils import timezone
from migration_app.models import ServiceReadiness
from migration_app.services.recompute import portfolio_recompute
from migration_app.engine.progress import FORECAST_WINDOW_WEEKS
DONE = "('in_production', 'altinn2_closed', 'decommissioned', 'reimplemented_elsewhere')"

def floor():
    since = timezone.now() - datetime.timedelta(weeks=FORECAST_WINDOW_WEEKS + 1)
    with connection.cursor() as c:
        for sql, params in [
            ("SELECT id, owner_id, service_type, status, target, target_date, yearly_volume FROM migration_app_service", []),
            ("SELECT id, key, status, planned_date FROM migration_app_platformcapability", []),
            ("SELECT service_id, depends_on_service_id, depends_on_capability_id, strength FROM migration_app_dependency", []),
            ("SELECT service_id, to_status, changed_at, from_status FROM migration_app_statuschange WHERE changed_at >= %s AND to_status IN " + DONE + " AND from_status NOT IN " + DONE + " ORDER BY changed_at, id", [since]),
            ("SELECT service_id, fingerprint FROM migration_app_servicereadiness", []),
        ]:
            c.execute(sql, params)
            c.fetchall()

def best(fn, runs):
    times = []
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return min(times)

ServiceReadiness.objects.all().delete()
t = time.perf_counter(); portfolio_recompute(); cold = time.perf_counter() - t
runs = RUNS
steady = best(portfolio_recompute, runs)
floor_s = best(floor, runs)
tracemalloc.start(); portfolio_recompute(); _, peak = tracemalloc.get_traced_memory(); tracemalloc.stop()
print(json.dumps({"floor": floor_s, "steady": steady, "cold": cold, "peak_mb": peak / 2**20}))
"""

DATASETS = [("recompute-1k", 1_000, 5), ("recompute-10k", 10_000, 3), ("recompute-100k", 100_000, 2)]


def main(sizes: list[int] | None = None) -> list[str]:
    lines = ["recompute: full recompute vs reading the same rows (best of N runs, seconds)"]
    steady_by_size: dict[int, float] = {}
    for name, services, runs in DATASETS:
        if sizes and services not in sizes:
            continue
        env = prepare(name, services)
        r = child_json(env, MEASURE.replace("RUNS", str(runs)))
        steady_by_size[services] = r["steady"]
        lines.append(
            f"  {services:>7,} services: floor {r['floor']:.3f}  steady {r['steady']:.3f} "
            f"(ratio {r['steady'] / r['floor']:.2f}, target ≤ 3 at 100k)  cold {r['cold']:.3f} "
            f"(ratio {r['cold'] / r['floor']:.2f})  peak Python memory {r['peak_mb']:.0f} MB"
        )
        print(lines[-1], flush=True)
    if 10_000 in steady_by_size and 100_000 in steady_by_size:
        lines.append(f"  scaling 100k/10k: {steady_by_size[100_000] / steady_by_size[10_000]:.2f} (target ≤ 12)")
        print(lines[-1])
    return lines


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or None)
