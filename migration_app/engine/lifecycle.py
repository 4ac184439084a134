"""The migration lifecycle of a service edition, as a pure transition table.

    not started → analysis → development → testing → in production → Altinn II closed
                                    ↘ decommissioned / re-implemented elsewhere (from any open state)

Forward moves go one step at a time, so every step leaves a dated history row that the forecast can
use. Moving backwards to an earlier step is allowed but must be explained with a comment. Closing the
Altinn II edition is final. A decommissioned or re-implemented service may be reopened (with a
comment) when the decision is reversed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..choices import STATUS_ORDER
from ..choices import MigrationStatus as S

TERMINAL_OUTCOMES: frozenset[str] = frozenset({S.DECOMMISSIONED, S.REIMPLEMENTED_ELSEWHERE})
# The forward steps, in order: every status that is not a resolution (choices.STATUS_ORDER lists them first).
FORWARD_ORDER: tuple[str, ...] = tuple(s for s in STATUS_ORDER if s not in TERMINAL_OUTCOMES)
_FORWARD_INDEX = {status: position for position, status in enumerate(FORWARD_ORDER)}
# Statuses in which the service has moved to Altinn 3 (counts as migrated).
MIGRATED: frozenset[str] = frozenset({S.IN_PRODUCTION, S.ALTINN2_CLOSED})
# Statuses the programme counts as done: migrated, or resolved without migrating.
DONE: frozenset[str] = MIGRATED | TERMINAL_OUTCOMES
# The same sets as plain strings, for the hot loops: hashing a str is cheaper than an enum member, and
# a portfolio-wide pass probes them 100,000 times.
DONE_VALUES: frozenset[str] = frozenset(str(status) for status in DONE)
MIGRATED_VALUES: frozenset[str] = frozenset(str(status) for status in MIGRATED)
TERMINAL_VALUES: frozenset[str] = frozenset(str(status) for status in TERMINAL_OUTCOMES)
FINAL: frozenset[str] = frozenset({S.ALTINN2_CLOSED})
REOPEN_TO: frozenset[str] = frozenset({S.NOT_STARTED, S.ANALYSIS})


@dataclass(frozen=True)
class TransitionCheck:
    allowed: bool
    needs_comment: bool = False
    # Why a transition is refused, as a code; services.catalog turns it into a translated sentence.
    reason: str = ""


def check_transition(from_status: str, to_status: str) -> TransitionCheck:
    """Decide whether a service may move from one status to another, and whether a comment is required."""
    if from_status == to_status:
        return TransitionCheck(False, reason="same_status")
    if from_status in FINAL:
        return TransitionCheck(False, reason="final")
    if from_status in TERMINAL_OUTCOMES:
        if to_status in REOPEN_TO:
            return TransitionCheck(True, needs_comment=True)
        return TransitionCheck(False, reason="reopen_only")
    if to_status in TERMINAL_OUTCOMES:
        return TransitionCheck(True)
    if _FORWARD_INDEX[to_status] == _FORWARD_INDEX[from_status] + 1:
        return TransitionCheck(True)
    if is_backward(from_status, to_status):
        return TransitionCheck(True, needs_comment=True)
    return TransitionCheck(False, reason="one_step")


def is_backward(from_status: str, to_status: str) -> bool:
    """A move back, which needs a comment: to an earlier forward step, or a resolved service reopened.

    The one definition: the lifecycle's rule, the weekly report's "moved back" and the demo history use it.
    """
    if from_status in TERMINAL_OUTCOMES:
        return to_status not in TERMINAL_OUTCOMES
    before, after = _FORWARD_INDEX.get(from_status), _FORWARD_INDEX.get(to_status)
    return before is not None and after is not None and after < before


def allowed_targets(from_status: str) -> list[str]:
    """Every status reachable in one transition, in lifecycle order (for forms and the API)."""
    return [to for to in STATUS_ORDER if check_transition(from_status, to).allowed]
