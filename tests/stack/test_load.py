"""Load, short form: owners browsing and editing and leads pulling the API, ~20 users for ~20 seconds.

The full form (about 50 users for two minutes) is ``benchmarks/stack_load.py``, run by ``make bench``.
``-s`` shows the figures; they are also written to var/bench/stack_load_ci.json.
"""

from __future__ import annotations

import os

from tracker.stack import BASE_DIR

from .load import load_run

USERS = int(os.environ.get("STACK_LOAD_USERS", "20"))
SECONDS = int(os.environ.get("STACK_LOAD_SECONDS", "20"))


def test_the_stack_serves_owners_and_leads_under_load_without_errors(stack, tmp_path):
    report = load_run(stack, users=USERS, spawn_rate=5, seconds=SECONDS, out_dir=tmp_path / "load")
    print("\n" + report.summary())
    report.write_json(BASE_DIR / "var" / "bench" / "stack_load_ci.json")

    # Failures as the locust file defines them: no answer, any 5xx, an unexpected status, the wrong page.
    assert report.failures == [], report.summary()
    assert report.exceptions == [], report.summary()
    assert report.server_errors() == 0
    assert report.locust_exit_code == 0, (tmp_path / "load" / "locust.log").read_text()[-3000:]

    # The mix really ran: enough traffic, every kind of visitor, and writes that went through.
    assert report.total.requests >= 3 * SECONDS
    done = {row.label for row in report.rows if row.requests}
    assert {"GET sign in", "POST sign in", "GET / (own organisation)", "GET /services/", "GET /services/[id]/"} <= done
    # Leads are a quarter of the users and pick among many API reads: require that they ran, not which.
    assert any(label.startswith("GET /api/v1/") for label in done), sorted(done)
    saved = report.answers("POST /services/[id]/edit/", 200) + report.answers("POST /services/[id]/status/", 200)
    assert saved > 0, "no edit or status change was accepted"
