"""The lost-updates scenario: many clients edit the same few services at once, through the API and the
web forms, and not one accepted write goes missing.

Half the clients are scripts on the REST API (ETag, then ``If-Match``), half are people in browsers
(the edit page and the status form, posting the version they were rendered from). Each picks one of a
few shared services at random, reads it, waits a moment (so others get in between), and either moves
its status one legal step or rewrites its notes, a given number of times. The ledger (editing.ledger_check) then accounts for
every write against the stored versions, history and notes.

tests/stack/test_lost_updates.py runs it with 16 clients making 8 writes each; benchmarks/stack_lost_updates.py
with more of both.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field

from tracker.stack import Stack

from .editing import (
    ApiEditor,
    FormEditor,
    Write,
    edit_once,
    editing_setup,
    last_status_change_id,
    ledger_check,
    service_states,
    status_history,
)


@dataclass
class LostUpdatesReport:
    """What one run did and what the ledger found; ``problems`` is empty when nothing was lost."""

    clients: int
    services: int
    seconds: float
    writes: int
    writes_per_second: float
    outcomes: dict[str, int]
    versions_advanced: int
    status_changes: int
    problems: list[str] = field(default_factory=list)

    def count(self, channel: str = "", kind: str = "", outcome: str = "") -> int:
        """Writes matching the given channel ("api"/"form"), kind ("status"/"notes") and outcome."""
        total = 0
        for key, n in self.outcomes.items():
            key_channel, key_kind, key_outcome = key.split(" ", 2)
            if channel in ("", key_channel) and kind in ("", key_kind) and outcome in ("", key_outcome):
                total += n
        return total

    def summary(self) -> str:
        lines = [
            f"lost updates: {self.clients} clients on {self.services} services, {self.seconds:.0f} s: "
            f"{self.writes} writes ({self.writes_per_second:.1f}/s), versions advanced {self.versions_advanced}, "
            f"{self.status_changes} status changes in the history",
            *(f"  {key:<32}{n:>6}" for key, n in sorted(self.outcomes.items())),
            f"  problems: {len(self.problems)}",
            *(f"    {problem}" for problem in self.problems[:20]),
        ]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return asdict(self)


def lost_updates_run(
    stack: Stack, *, clients: int = 16, services: int = 3, writes_per_client: int = 8, max_pause: float = 0.03
) -> LostUpdatesReport:
    """Run the scenario on a started stack and check the ledger; see the module docstring."""
    setup = editing_setup(stack, prefix="samtidig", editors=clients, services=services)
    run = secrets.token_hex(3)
    editors: list[ApiEditor | FormEditor] = []
    for number, editor in enumerate(setup.editors):
        if number % 2:
            editors.append(FormEditor(stack.base_url, editor["username"], f"form{number}"))
        else:
            editors.append(ApiEditor(stack.base_url, editor["token"], f"api{number}"))
    before = service_states(stack, setup.service_ids)
    history_from = last_status_change_id(stack)

    writes: list[Write] = []
    lock = threading.Lock()
    start = threading.Barrier(len(editors))

    def edit(editor: ApiEditor | FormEditor, seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        for _ in range(writes_per_client):
            write = edit_once(
                editor,
                service_id=rng.choice(setup.service_ids),
                kind=rng.choice(("status", "notes")),
                run=run,
                pause=rng.uniform(0, max_pause),
            )
            with lock:
                writes.append(write)

    threads = [
        threading.Thread(target=edit, args=(editor, number), name=f"editor-{editor.name}")
        for number, editor in enumerate(editors)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    after = service_states(stack, setup.service_ids)
    check = ledger_check(writes, before, after, status_history(stack, setup.service_ids, after_id=history_from))
    return LostUpdatesReport(
        clients=len(editors),
        services=len(setup.service_ids),
        seconds=elapsed,
        writes=len(writes),
        writes_per_second=len(writes) / elapsed,
        outcomes=check.outcomes,
        versions_advanced=check.versions_advanced,
        status_changes=check.status_changes,
        problems=check.problems,
    )
