"""Lost updates on the production stack: concurrent edits of the same services through the API and the
forms; every accepted write is in the history and no write is silently lost (tests/stack/lost_updates.py)."""

from __future__ import annotations

import json
import os

from tests.stack.editing import ACCEPTED, STALE
from tests.stack.lost_updates import lost_updates_run

WRITES_PER_CLIENT = int(os.environ.get("STACK_LOST_UPDATES_WRITES", "8"))


def test_concurrent_edits_through_the_api_and_the_forms_lose_nothing(stack, tmp_path_factory):
    report = lost_updates_run(stack, clients=16, services=3, writes_per_client=WRITES_PER_CLIENT)
    print("\n" + report.summary())
    (tmp_path_factory.getbasetemp() / "lost_updates.json").write_text(json.dumps(report.as_dict(), indent=2))

    assert report.problems == []
    assert report.writes == 16 * WRITES_PER_CLIENT
    # Both ways of editing, both kinds of write, were accepted and refused as stale: the race was real.
    for channel in ("api", "form"):
        for kind in ("status", "notes"):
            assert report.count(channel, kind, ACCEPTED) >= 1, (channel, kind, report.outcomes)
        assert report.count(channel, "", STALE) >= 1, (channel, report.outcomes)
    assert report.versions_advanced == report.count(outcome=ACCEPTED)
    assert report.status_changes == report.count(kind="status", outcome=ACCEPTED)
