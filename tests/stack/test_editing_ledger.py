"""The write ledger (tests/stack/editing.py) finds each way a write can go missing. Pure: no stack needed.

The lost-updates and fault scenarios pass when the ledger finds no problem; these show it would find
one: two writes accepted on one version, a 200 that did not apply, a refusal that did, a stale answer
with nobody having won the version it named.
"""

from __future__ import annotations

from tests.stack.editing import ACCEPTED, NO_ANSWER, STALE, ServiceState, Write, ledger_check

SERVICE = 7
BEFORE = {SERVICE: ServiceState(version=4, status="analysis", notes="")}


def write(token: str, expected: int, outcome: str, kind: str = "notes", to_status: str = "") -> Write:
    return Write(
        client="c",
        channel="api",
        kind=kind,
        service_id=SERVICE,
        expected_version=expected,
        token=token,
        to_status=to_status,
        outcome=outcome,
    )


def move(token: str, from_status: str, to_status: str) -> tuple[str, str, str]:
    return (from_status, to_status, f"Move {token}")


def check(writes: list[Write], version: int, status: str, notes: str, history: list, **kwargs):
    after = {SERVICE: ServiceState(version=version, status=status, notes=notes)}
    return ledger_check(writes, BEFORE, after, {SERVICE: history}, **kwargs)


def test_every_write_accounted_for_is_no_problem():
    writes = [
        write("a", 4, ACCEPTED, "status", "development"),
        write("b", 4, STALE),
        write("c", 5, ACCEPTED),
        write("d", 6, ACCEPTED, "status", "testing"),
    ]
    history = [move("a", "analysis", "development"), move("d", "development", "testing")]
    result = check(writes, 7, "testing", "Plan c", history)
    assert result.ok, result.problems
    assert (result.versions_advanced, result.status_changes) == (3, 2)


def test_two_writes_accepted_on_one_version_is_a_lost_update():
    result = check([write("a", 4, ACCEPTED), write("b", 4, ACCEPTED)], 5, "analysis", "Plan b", [])
    assert any("lost update" in problem for problem in result.problems)


def test_an_accepted_write_that_is_not_stored_is_found():
    result = check([write("a", 4, ACCEPTED, "status", "development")], 4, "analysis", "", [])
    assert any("is not stored" in problem for problem in result.problems)


def test_a_refused_write_that_applied_is_found():
    writes = [write("a", 4, STALE, "status", "development")]
    result = check(writes, 5, "development", "", [move("a", "analysis", "development")])
    assert any("nobody was told of" in problem for problem in result.problems)
    assert any("no write accounts for" in problem for problem in result.problems)


def test_a_stale_answer_needs_a_winner_on_its_version():
    result = check([write("a", 4, STALE)], 4, "analysis", "", [])
    assert any("which nobody changed" in problem for problem in result.problems)


def test_notes_that_are_not_the_last_accepted_ones_are_found():
    result = check([write("a", 4, ACCEPTED), write("b", 5, ACCEPTED)], 6, "analysis", "Plan a", [])
    assert any("replay" in problem for problem in result.problems)


def test_an_excused_write_may_or_may_not_have_applied():
    applied = [write("a", 4, NO_ANSWER, "status", "development"), write("b", 5, ACCEPTED)]
    history = [move("a", "analysis", "development")]
    assert check(applied, 6, "development", "Plan b", history, excused=frozenset({"a"})).ok
    not_applied = [write("a", 4, NO_ANSWER, "status", "development"), write("b", 4, ACCEPTED)]
    assert check(not_applied, 5, "analysis", "Plan b", [], excused=frozenset({"a"})).ok
    # Not excused, the same unanswered write is a problem in itself.
    assert not check(not_applied, 5, "analysis", "Plan b", []).ok
