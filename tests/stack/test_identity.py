"""Identity canary, CI form: 60 people signed in at once for ~30 seconds while some sign out and in and
the web workers are reloaded and killed; nobody may ever see anyone else's name or organisation's data.

The longer form with more people is ``benchmarks/stack_identity.py`` (``make bench``). ``-s`` shows the
figures; they are also written to var/bench/stack_identity_ci.json.
"""

from __future__ import annotations

import os

from tracker.stack import BASE_DIR

from .identity import identity_run

PEOPLE = int(os.environ.get("STACK_IDENTITY_PEOPLE", "60"))
SECONDS = float(os.environ.get("STACK_IDENTITY_SECONDS", "30"))
# Each sign-in costs ~0.8 s of CPU (the password hash): a tenth of the people cycling keeps sign-ins a
# steady part of the traffic without crowding out everything else on two cores.
CYCLERS = PEOPLE // 10


def test_concurrent_people_only_ever_see_themselves_through_sign_outs_and_worker_restarts(stack):
    report = identity_run(stack, people=PEOPLE, seconds=SECONDS, cyclers=CYCLERS, restarts=4)
    print("\n" + report.summary())
    report.write_json(BASE_DIR / "var" / "bench" / "stack_identity_ci.json")

    assert report.leak_count == 0, report.summary()
    assert report.server_errors == 0, report.summary()
    assert report.anomaly_count == 0, report.summary()

    # It was a real test: every person signed in and was checked many times, the sign-out loop ran
    # (each sign-out checked for the login redirect), the workers were really replaced, and everyone
    # was served again after the last restart. (Requests dropped by the killed worker, or timed out
    # while new workers started, are in the summary: availability, which the fault scenarios cover.)
    assert report.sign_outs >= CYCLERS and report.sign_ins > PEOPLE
    # Everyone: the sign-in landing and at least one full round of their six pages and API.
    assert len(report.per_person) == PEOPLE and min(report.per_person.values()) >= 7, report.summary()
    assert report.responses["signed out"] >= 3 * CYCLERS
    assert [restart.kind for restart in report.restarts] == ["reload", "kill", "reload", "kill"]
    assert all(restart.replaced for restart in report.restarts), report.summary()
    assert report.checked_after_restarts >= PEOPLE, report.summary()
