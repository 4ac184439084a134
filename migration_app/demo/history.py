"""Each service's status history and plan dates: steps from not started to its final status at
office-hours moments that ramp up over the history window, as the lifecycle allows them."""

from __future__ import annotations

import datetime
import math
import random
from zoneinfo import ZoneInfo

from ..choices import MigrationStatus as S
from ..choices import ServiceType as T
from ..engine.lifecycle import FORWARD_ORDER, TERMINAL_OUTCOMES, is_backward
from .specs import ServicePlan, StepPlan
from .vocabulary import DELEGATION_SCHEMES_MOVED, HISTORY_DAYS, REGRESSION_COMMENTS, STEP_COMMENTS, STEP_GAP_DAYS


def _ramp(rng: random.Random, low: float, high: float) -> float:
    """A time in [low, high) days with density rising fourfold over the year: the programme ramps up."""
    a = low / HISTORY_DAYS
    cdf_a = (a + 1.5 * a * a) / 2.5
    u = cdf_a + rng.random() * (1.0 - cdf_a)
    x = (-1.0 + math.sqrt(1.0 + 15.0 * u)) / 3.0
    return min(max(x * HISTORY_DAYS, low), high - 1e-6)


def _status_path(rng: random.Random, status: str) -> list[str]:
    """The statuses a service passes through (after not started) to reach ``status`` legally."""
    if status in TERMINAL_OUTCOMES:
        # Decided from an open state: usually early, sometimes after development had started.
        reached = rng.choices((0, 1, 2, 3), weights=(35, 35, 22, 8))[0]
        return [*FORWARD_ORDER[1 : reached + 1], status]
    path = list(FORWARD_ORDER[1 : FORWARD_ORDER.index(status) + 1])
    if S.IN_PRODUCTION in path and rng.random() < 0.06:
        # Rejected in TT02 once: back to development (with a comment), then forward again.
        at = path.index(S.TESTING) + 1
        path[at:at] = [S.DEVELOPMENT, S.TESTING]
    return path


def _fit_back(times: list[float], gaps: list[float], hi: int, lo: int, floor: float) -> None:
    """Place steps lo..hi-1 before ``times[hi]`` using ``gaps``, squeezed proportionally to stay above ``floor``."""
    total = sum(gaps[lo:hi])
    room = times[hi] - floor
    factor = min(1.0, 0.95 * room / total) if total > 0 else 1.0
    for k in range(hi - 1, lo - 1, -1):
        times[k] = times[k + 1] - gaps[k] * factor


def _step_days(rng: random.Random, path: list[str], testing_after: float) -> list[float]:
    """Day offsets (from the start of the history window) for each step of ``path``, increasing.

    ``testing_after`` > 0 means the service's hard capability needs were delivered that many days into
    the window, so it cannot have entered testing (or gone further) before then.
    """
    n = len(path)
    j = path.index(S.TESTING) if testing_after > 0 and S.TESTING in path else None
    low = testing_after + (n - j) if j is not None else min(n * 0.5, 30.0)
    times = [0.0] * n
    times[-1] = _ramp(rng, min(low, HISTORY_DAYS - 0.5), HISTORY_DAYS)
    # gaps[k] separates step k from step k+1.
    gaps = [max(0.3, rng.lognormvariate(math.log(STEP_GAP_DAYS[path[k + 1]]), 0.6)) for k in range(n - 1)]
    if j is None:
        _fit_back(times, gaps, n - 1, 0, 0.0)
    else:
        _fit_back(times, gaps, n - 1, j, testing_after)
        _fit_back(times, gaps, j, 0, 0.0)
    return times


def _at(start: datetime.date, days: float, tz: ZoneInfo) -> datetime.datetime:
    """Day offset → an office-hours moment (08:00–17:00 local) on that day; monotonic in ``days``."""
    day = int(days)
    seconds = int((days - day) * 9 * 3600)
    return datetime.datetime.combine(start + datetime.timedelta(days=day), datetime.time(8), tzinfo=tz) + (
        datetime.timedelta(seconds=seconds)
    )


def history_plan(
    rng: random.Random,
    plan: ServicePlan,
    testing_after: float,
    window_start: datetime.date,
    tz: ZoneInfo,
    editor: str | None,
    lead: str | None,
) -> None:
    """Write the steps from not started to ``plan.status`` with increasing office-hours moments."""
    if plan.status == S.NOT_STARTED:
        return
    if _moved_with_schemes(plan, window_start):
        # The bulk move is recorded as the lifecycle requires: one step at a time, a minute apart.
        path = list(FORWARD_ORDER[1 : FORWARD_ORDER.index(S.IN_PRODUCTION) + 1])
        moved = datetime.datetime.combine(DELEGATION_SCHEMES_MOVED, datetime.time(9), tzinfo=tz)
        moments = [moved + datetime.timedelta(minutes=k) for k in range(len(path))]
    else:
        path = _status_path(rng, plan.status)
        moments = [_at(window_start, offset, tz) for offset in _step_days(rng, path, testing_after)]
    previous: str = S.NOT_STARTED
    previous_at: datetime.datetime | None = None
    for to_status, at in zip(path, moments, strict=True):
        if previous_at is not None and at <= previous_at:
            at = previous_at + datetime.timedelta(minutes=1)
        backwards = is_backward(previous, to_status)
        if _moved_with_schemes(plan, window_start):
            comment = "Flyttet sammen med alle delegerbare API-ressurser"
        else:
            comment = rng.choice(REGRESSION_COMMENTS if backwards else STEP_COMMENTS[to_status])
        if to_status in TERMINAL_OUTCOMES and lead and rng.random() < 0.3:
            by: str | None = lead
        else:
            by = editor if editor and rng.random() < 0.75 else None
        plan.history.append(StepPlan(previous, to_status, at, by, comment))
        previous, previous_at = to_status, at


def _moved_with_schemes(plan: ServicePlan, window_start: datetime.date) -> bool:
    return (
        plan.service_type == T.DELEGATION_SCHEME
        and plan.status == S.IN_PRODUCTION
        and (window_start > DELEGATION_SCHEMES_MOVED)
    )


def dates_plan(rng: random.Random, plan: ServicePlan, today: datetime.date, tz: ZoneInfo) -> None:
    """Planned start and target around the actual history; for untouched services around today."""
    days = datetime.timedelta
    if plan.history:
        started = plan.history[0].at.astimezone(tz).date()
        plan.planned_start = started + days(rng.randint(-45, 20))
        done = plan.first_at(S.IN_PRODUCTION) or (plan.history[-1].at if plan.status in TERMINAL_OUTCOMES else None)
        if done is not None:
            plan.target_date = done.astimezone(tz).date() + days(rng.randint(-40, 30))
        else:
            plan.target_date = plan.planned_start + days(rng.randint(90, 330))
    elif rng.random() < 0.88:
        plan.planned_start = today + days(rng.randint(-90, 150))
        plan.target_date = plan.planned_start + days(rng.randint(90, 300))
