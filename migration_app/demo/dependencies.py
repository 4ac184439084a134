"""The demo's dependency edges: capability needs by service type, and service-to-service edges that
are acyclic by construction and consistent with each service's history."""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence

from ..choices import DependencyStrength
from ..choices import MigrationStatus as S
from ..engine.lifecycle import MIGRATED, TERMINAL_OUTCOMES
from .specs import CapabilitySpec, DependencyPlan, ServicePlan
from .vocabulary import CAPABILITY_NEEDS, SERVICE_EDGE_NOTES, STATUS_LEVEL


def capability_edges(
    rng: random.Random,
    plans: Sequence[ServicePlan],
    caps: dict[str, CapabilitySpec],
    today: datetime.date,
    window_start: datetime.date,
) -> tuple[list[DependencyPlan], list[float]]:
    """Capability needs by type. A service already in testing or beyond only hard-depends on delivered
    capabilities (otherwise the edge is soft: a workaround is in use), and its history must then start
    testing after the latest such delivery: returned per service as a day offset into the window."""
    recent = today - datetime.timedelta(days=21)
    edges: list[DependencyPlan] = []
    testing_after: list[float] = []
    for i, plan in enumerate(plans):
        terminal = plan.status in TERMINAL_OUTCOMES
        advanced = not terminal and STATUS_LEVEL[plan.status] >= STATUS_LEVEL[S.TESTING]
        bound = 0.0
        for key, probability, hard_share in CAPABILITY_NEEDS[plan.service_type]:
            if rng.random() >= probability * (0.5 if terminal else 1.0):
                continue
            strength, note = (DependencyStrength.HARD if rng.random() < hard_share else DependencyStrength.SOFT), ""
            capability = caps[key]
            if strength == DependencyStrength.HARD and advanced:
                delivered = capability.delivered_date
                if delivered is None or delivered > recent:
                    strength, note = DependencyStrength.SOFT, "Midlertidig løsning til kapabiliteten er levert"
                else:
                    bound = max(bound, float((delivered - window_start).days + 1))
            edges.append(DependencyPlan(i, None, key, strength, note))
        testing_after.append(bound)
    return edges, testing_after


def service_edges(rng: random.Random, plans: Sequence[ServicePlan]) -> list[DependencyPlan]:
    """Service-to-service edges, acyclic by construction: a service only depends on services earlier in
    one random order. The order favours progress (services further along come first), so a service in
    production mostly depends on services in production. Targets are drawn with preferential attachment,
    so a few common services (registers, shared messages) end up with many dependents."""
    keys = [-STATUS_LEVEL[p.status] + rng.random() * 2.0 for p in plans]
    order = sorted(range(len(plans)), key=keys.__getitem__)
    edges: list[DependencyPlan] = []
    pool: list[int] = []
    owner_pool: dict[str, list[int]] = {}
    for s in order:
        plan = plans[s]
        terminal = plan.status in TERMINAL_OUTCOMES
        testing_at = None if terminal else plan.first_at(S.TESTING)
        chosen: set[int] = set()
        while pool and rng.random() < (0.3 if terminal else 0.6):
            same = owner_pool.get(plan.owner_code)
            t = rng.choice(same) if same and rng.random() < 0.45 else rng.choice(pool)
            if t in chosen:
                continue
            chosen.add(t)
            strength = DependencyStrength.SOFT if rng.random() < 0.25 else DependencyStrength.HARD
            if strength == DependencyStrength.HARD and testing_at is not None:
                # Already tested: what it needs hard must have been in production before its testing began.
                ready_at = plans[t].first_at(S.IN_PRODUCTION)
                if ready_at is None or plans[t].status not in MIGRATED or ready_at >= testing_at:
                    strength = DependencyStrength.SOFT
            edges.append(DependencyPlan(s, t, None, strength, rng.choice(SERVICE_EDGE_NOTES)))
            pool.append(t)
        if not terminal:
            pool.append(s)
            owner_pool.setdefault(plan.owner_code, []).append(s)
    return edges
