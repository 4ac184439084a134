"""The dependency-graph engine: readiness, blockers, leverage, slip impact and waves.

Pure functions, so no database: unit tests pin each blocker kind, hypothesis checks the engine against
brute-force recomputations on random portfolios.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from migration_app.choices import MigrationStatus
from migration_app.engine.leverage import leverage, slip_impact
from migration_app.engine.lifecycle import DONE, MIGRATED
from migration_app.engine.portfolio import CapabilityNode, Edge, Portfolio, ServiceNode, build_portfolio
from migration_app.engine.readiness import BLOCKER_LIST_LIMIT, Blocker, readiness_all, readiness_for
from migration_app.engine.waves import waves

D = datetime.date
PLANNED = D(2026, 4, 1)
OPEN_STATUSES = [s.value for s in MigrationStatus if s not in DONE]
DONE_STATUSES = [s.value for s in MigrationStatus if s in DONE]


def service(
    sid: int,
    *,
    status: str = "analysis",
    target: str = "AltinnApp",
    target_date: datetime.date | None = PLANNED,
    owner: int = 1,
    volume: int = 100,
) -> ServiceNode:
    return ServiceNode(sid, owner, "FormTask", status, target, target_date, volume)


def needs(sid: int, on: int, *, hard: bool = True) -> Edge:
    return Edge(sid, on, None, hard)


def uses(sid: int, capability: int, *, hard: bool = True) -> Edge:
    return Edge(sid, None, capability, hard)


PAYMENT = CapabilityNode(100, "payment", delivered=False, planned_date=D(2024, 6, 30))
SIGNING = CapabilityNode(101, "parallel-signing", delivered=False, planned_date=D(2024, 9, 30))
SUBFORMS = CapabilityNode(102, "sub-forms", delivered=True, planned_date=D(2023, 12, 1))


# --- Blocker kinds ----------------------------------------------------------------------------------


def test_undelivered_capability_blocks_with_its_planned_date():
    portfolio = build_portfolio([service(1)], [PAYMENT, SUBFORMS], [uses(1, 100), uses(1, 102)])

    result = readiness_for(portfolio, 1)

    assert result.state == "blocked"
    assert result.blockers == (
        Blocker("capability", capability_id=100, capability_key="payment", planned_date=D(2024, 6, 30)),
    )
    assert (result.capability_blocker_count, result.service_blocker_count) == (1, 0)


def test_open_service_dependency_blocks_and_names_its_owner():
    portfolio = build_portfolio([service(1), service(2, owner=7)], [], [needs(1, 2)])

    assert readiness_for(portfolio, 1).blockers == (Blocker("service", service_id=2, owner_id=7),)
    assert readiness_for(portfolio, 2).state == "ready"


def test_done_dependencies_never_block():
    # Decommissioned and re-implemented dependencies count as resolved, like migrated ones.
    services = [service(1), *(service(10 + i, status=status) for i, status in enumerate(DONE_STATUSES))]
    edges = [needs(1, 10 + i) for i in range(len(DONE_STATUSES))]

    result = readiness_for(build_portfolio(services, [], edges), 1)

    assert result.state == "ready"
    assert result.blockers == ()
    assert dict(result.score_parts)["dependencies met"] == 40


def test_soft_dependencies_never_block():
    portfolio = build_portfolio(
        [service(1), service(2)], [PAYMENT], [needs(1, 2, hard=False), uses(1, 100, hard=False)]
    )

    assert readiness_for(portfolio, 1).state == "ready"


def test_missing_planning_data_is_not_assessed():
    portfolio = build_portfolio([service(1, target="", target_date=None)], [], [])

    result = readiness_for(portfolio, 1)

    assert result.state == "not_assessed"
    assert result.blockers == (Blocker("planning", missing="target"), Blocker("planning", missing="target_date"))


def test_unmet_dependency_wins_over_planning_but_both_are_listed():
    portfolio = build_portfolio([service(1, target_date=None)], [PAYMENT], [uses(1, 100)])

    result = readiness_for(portfolio, 1)

    assert result.state == "blocked"
    assert [b.kind for b in result.blockers] == ["planning", "capability"]


def test_transitive_blocker_carries_its_path():
    # A needs B, B waits for payment: A shows "B → payment", and B itself (B still has to move).
    portfolio = build_portfolio([service(1), service(2, owner=5)], [PAYMENT], [needs(1, 2), uses(2, 100)])

    result = readiness_for(portfolio, 1)

    assert result.blockers == (
        Blocker("service", service_id=2, owner_id=5),
        Blocker("capability", capability_id=100, capability_key="payment", planned_date=D(2024, 6, 30), path=(2,)),
    )


def test_each_root_cause_once_with_the_shortest_path():
    # 1 → 2 → 3 → payment and 1 → 4 → payment: payment is listed once, via 4.
    services = [service(i) for i in (1, 2, 3, 4)]
    edges = [needs(1, 2), needs(2, 3), uses(3, 100), needs(1, 4), uses(4, 100)]

    blockers = readiness_for(build_portfolio(services, [PAYMENT], edges), 1).blockers

    assert [(b.kind, b.capability_id or b.service_id, b.path) for b in blockers] == [
        ("service", 2, ()),
        ("service", 4, ()),
        ("capability", 100, (4,)),
        ("service", 3, (2,)),
    ]


def test_a_migrated_service_ends_the_chain():
    # 2 has migrated, so what it once waited for does not reach 1.
    services = [service(1), service(2, status="in_production"), service(3)]
    portfolio = build_portfolio(services, [PAYMENT], [needs(1, 2), needs(2, 3), uses(2, 100)])

    assert readiness_for(portfolio, 1).state == "ready"
    assert readiness_for(portfolio, 2).state == "migrated"


def test_hard_cycle_is_blocked_and_its_dependents_wait():
    services = [service(1), service(2), service(3), service(4, status="decommissioned")]
    edges = [needs(1, 2), needs(2, 1), needs(3, 1), needs(4, 3)]
    portfolio = build_portfolio(services, [], edges)

    result = readiness_all(portfolio)

    assert result[1].blockers == (Blocker("cycle", path=(1, 2)), Blocker("service", service_id=2, owner_id=1))
    assert result[1].state == result[2].state == result[3].state == "blocked"
    assert result[3].service_blocker_count == 2
    assert result[4].state == "resolved"
    plan = waves(portfolio)
    assert (plan.waves, plan.cycle_service_ids, plan.behind_cycle_service_ids) == ((), (1, 2), (3,))


def test_blocker_list_is_capped_but_counts_stay_exact():
    capabilities = [CapabilityNode(200 + i, f"cap-{i}", False, None) for i in range(30)]
    services = [service(1), service(2)]
    edges = [needs(1, 2), *(uses(2, 200 + i) for i in range(30))]

    result = readiness_for(build_portfolio(services, capabilities, edges), 1)

    assert len(result.blockers) == BLOCKER_LIST_LIMIT
    assert result.blockers[0] == Blocker("service", service_id=2, owner_id=1)
    assert (result.capability_blocker_count, result.service_blocker_count, result.blocker_count) == (30, 1, 31)


def test_score_explains_itself():
    portfolio = build_portfolio(
        [service(1, status="development", target_date=None), service(2), service(3, status="altinn2_closed")],
        [PAYMENT, SUBFORMS],
        [needs(1, 2), needs(1, 3), uses(1, 100), uses(1, 102)],
    )

    result = readiness_for(portfolio, 1)

    # development 20, outcome decided 10 + no date 0, 2 of 4 direct dependencies met → 20.
    assert result.score_parts == (("lifecycle progress", 20), ("planning complete", 10), ("dependencies met", 20))
    assert result.score == 50
    assert readiness_for(portfolio, 3).score == 100


def test_results_serialise_to_plain_data():
    portfolio = build_portfolio([service(1), service(2)], [PAYMENT], [needs(1, 2), uses(2, 100)])

    detail = readiness_for(portfolio, 1).to_dict()

    assert detail["blockers"][1] == {
        "kind": "capability",
        "capability_id": 100,
        "capability_key": "payment",
        "planned_date": D(2024, 6, 30),
        "service_id": None,
        "owner_id": None,
        "path": (2,),
        "missing": "",
    }
    assert leverage(portfolio)[0].to_dict()["capability_key"] == "payment"
    assert waves(portfolio).to_dict()["waves"][0]["service_ids"] == (2,)


def test_edge_must_name_exactly_one_target():
    try:
        Portfolio({1: service(1)}, {}, [Edge(1, None, None, True)])
    except ValueError:
        pass
    else:
        raise AssertionError("an edge without a target was accepted")


# --- Leverage and slip impact -----------------------------------------------------------------------


def test_leverage_ranks_by_volume_and_counts_what_delivery_unblocks():
    services = [service(1, volume=1_000), service(2, volume=10), service(3, volume=5), service(4, volume=1)]
    edges = [uses(1, 100), uses(2, 100), uses(2, 101), needs(3, 1), uses(4, 101)]

    rows = leverage(build_portfolio(services, [PAYMENT, SIGNING], edges))

    payment, signing, service_1 = rows
    assert (payment.capability_key, payment.direct_count, payment.transitive_count) == ("payment", 2, 3)
    assert (payment.transitive_volume, payment.unblocks_count, payment.unblocks_volume) == (1_015, 1, 1_000)
    # Service 1 is itself blocked, so migrating it is not one action away: it unblocks nothing alone.
    assert (service_1.service_id, service_1.transitive_count, service_1.unblocks_count) == (1, 1, 0)
    assert (signing.capability_key, signing.transitive_volume, signing.unblocks_count) == ("parallel-signing", 11, 1)


def test_slip_impact_follows_open_dependents_only():
    services = [
        service(1, owner=1, target_date=D(2026, 1, 1)),
        service(2, owner=2, volume=50),
        service(3, owner=2, status="in_production"),
        service(4, owner=3),  # needs 3, which has already moved: not hit
        service(5, owner=3, volume=7),
    ]
    edges = [uses(1, 100), needs(2, 1), uses(3, 100), needs(4, 3), needs(5, 2)]
    portfolio = build_portfolio(services, [PAYMENT], edges)

    impact = slip_impact(portfolio, capability_id=100, new_date=D(2026, 3, 1))

    assert impact.direct_service_ids == (1,)
    assert impact.service_ids == (1, 2, 5)
    assert impact.yearly_volume == 157
    assert [(o.owner_id, o.service_count, o.yearly_volume) for o in impact.owners] == [
        (1, 1, 100),
        (2, 1, 50),
        (3, 1, 7),
    ]
    assert impact.misses_target_ids == (1,)
    assert slip_impact(portfolio, service_id=2).service_ids == (5,)
    assert slip_impact(portfolio, service_id=3).service_ids == ()


# --- Properties against brute force -----------------------------------------------------------------


@st.composite
def portfolios(draw: st.DrawFn, *, acyclic: bool = True) -> Portfolio:
    n = draw(st.integers(1, 10))
    statuses = st.sampled_from(OPEN_STATUSES * 2 + DONE_STATUSES)
    services = [
        ServiceNode(
            i,
            draw(st.integers(1, 3)),
            "FormTask",
            draw(statuses),
            draw(st.sampled_from(["AltinnApp", "AltinnApp", "", "Decommission"])),
            draw(st.sampled_from([D(2026, 4, 1), D(2026, 4, 1), None])),
            draw(st.integers(0, 1_000)),
        )
        for i in range(n)
    ]
    capabilities = [
        CapabilityNode(100 + j, f"cap-{j}", draw(st.booleans()), draw(st.sampled_from([None, D(2026, 1, 1)])))
        for j in range(draw(st.integers(0, 4)))
    ]
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.booleans()), max_size=3 * n))
    edges = []
    for a, b, hard in pairs:
        if acyclic:
            if a == b:
                continue
            a, b = max(a, b), min(a, b)  # edges only from higher to lower index: a DAG
        edges.append(needs(a, b, hard=hard))
    if capabilities:
        uses_ = st.tuples(st.integers(0, n - 1), st.sampled_from(capabilities), st.booleans())
        edges.extend(uses(a, cap.id, hard=hard) for a, cap, hard in draw(st.lists(uses_, max_size=2 * n)))
    return build_portfolio(services, capabilities, edges)


def is_open(portfolio: Portfolio, sid: int) -> bool:
    return portfolio.services[sid].status not in DONE


def brute_blockers(portfolio: Portfolio, sid: int) -> tuple[dict[tuple[str, int], int], bool]:
    """Breadth-first over the raw edge list: each unmet thing reachable → its shortest path length.

    Returns the map and whether the service reaches itself (is in a hard cycle).
    """
    if not is_open(portfolio, sid):
        return {}, False
    found: dict[tuple[str, int], int] = {}
    depth = {sid: 0}
    in_cycle = False
    queue = deque([sid])
    while queue:
        node = queue.popleft()
        for edge in portfolio.edges:
            if edge.service_id != node or not edge.hard:
                continue
            if edge.on_capability_id is not None:
                if not portfolio.capabilities[edge.on_capability_id].delivered:
                    found.setdefault(("capability", edge.on_capability_id), depth[node])
            elif is_open(portfolio, edge.on_service_id):
                if edge.on_service_id == sid:
                    in_cycle = True
                    continue
                found.setdefault(("service", edge.on_service_id), depth[node])
                if edge.on_service_id not in depth:
                    depth[edge.on_service_id] = depth[node] + 1
                    queue.append(edge.on_service_id)
    return found, in_cycle


def expected_state(portfolio: Portfolio, sid: int) -> str:
    node = portfolio.services[sid]
    if node.status in MIGRATED:
        return "migrated"
    if node.status in DONE:
        return "resolved"
    found, in_cycle = brute_blockers(portfolio, sid)
    if found or in_cycle:
        return "blocked"
    if not node.target or node.target_date is None:
        return "not_assessed"
    return "ready"


def with_service(portfolio: Portfolio, sid: int, **changes: object) -> Portfolio:
    services = dict(portfolio.services)
    services[sid] = dataclasses.replace(services[sid], **changes)
    return Portfolio(services, portfolio.capabilities, portfolio.edges)


def not_blocked(result: dict, sid: int) -> bool:
    return result[sid].state != "blocked"


@settings(max_examples=200, deadline=None)
@given(portfolios(acyclic=False))
def test_readiness_matches_brute_force(portfolio):
    result = readiness_all(portfolio)

    for sid in portfolio.services:
        readiness = result[sid]
        assert readiness.state == expected_state(portfolio, sid)
        found, in_cycle = brute_blockers(portfolio, sid)
        assert readiness.capability_blocker_count == sum(1 for kind, _ in found if kind == "capability")
        assert readiness.service_blocker_count == sum(1 for kind, _ in found if kind == "service")
        assert any(b.kind == "cycle" for b in readiness.blockers) == in_cycle
        listed = [b for b in readiness.blockers if b.kind in ("capability", "service")]
        assert len(listed) == min(len(found), BLOCKER_LIST_LIMIT)
        for blocker in listed:
            key = (blocker.kind, blocker.capability_id if blocker.kind == "capability" else blocker.service_id)
            assert found[key] == len(blocker.path), "each blocker comes with a shortest path"
            # The path is a real chain of open services joined by hard edges.
            for a, b in itertools.pairwise((sid, *blocker.path)):
                assert b in portfolio.hard_service_deps.get(a, ()) and is_open(portfolio, b)
            last = blocker.path[-1] if blocker.path else sid
            if blocker.kind == "capability":
                assert blocker.capability_id in portfolio.hard_capability_deps[last]
            else:
                assert blocker.service_id in portfolio.hard_service_deps[last]
        assert readiness.score == sum(points for _, points in readiness.score_parts)
        assert 0 <= readiness.score <= 100


@settings(max_examples=150, deadline=None)
@given(portfolios(acyclic=False))
def test_done_services_never_block(portfolio):
    result = readiness_all(portfolio)
    done = {sid for sid in portfolio.services if not is_open(portfolio, sid)}

    for readiness in result.values():
        assert not any(b.service_id in done for b in readiness.blockers)
    # What a done service once needed does not matter to anyone: drop its edges, nothing changes.
    trimmed = Portfolio(
        portfolio.services, portfolio.capabilities, [e for e in portfolio.edges if e.service_id not in done]
    )
    assert readiness_all(trimmed) == result


@settings(max_examples=150, deadline=None)
@given(portfolios())
def test_leverage_matches_brute_force_recounts(portfolio):
    before = readiness_all(portfolio)
    rows = {(row.kind, row.capability_id or row.service_id): row for row in leverage(portfolio)}
    blockers = {sid: brute_blockers(portfolio, sid)[0] for sid in portfolio.services}

    keys = {("capability", cid) for cid, cap in portfolio.capabilities.items() if not cap.delivered}
    keys |= {("service", sid) for sid in portfolio.services if is_open(portfolio, sid)}
    assert set(rows) <= keys, "only undelivered capabilities and open services hold anything back"
    for kind, key in keys:
        blocked_by = [sid for sid, found in blockers.items() if (kind, key) in found]
        row = rows.get((kind, key))
        assert (row.transitive_count if row else 0) == len(blocked_by)
        if row is None:
            continue
        volume = sum(portfolio.services[sid].yearly_volume for sid in blocked_by)
        assert row.transitive_volume == volume
        edges = portfolio.hard_capability_deps if kind == "capability" else portfolio.hard_service_deps
        assert row.direct_count == sum(1 for sid in blocked_by if key in edges.get(sid, ()))

        if kind == "capability":
            delivered = dict(portfolio.capabilities)
            delivered[key] = dataclasses.replace(delivered[key], delivered=True)
            after = readiness_all(Portfolio(portfolio.services, delivered, portfolio.edges))
        elif before[key].state == "blocked":
            continue  # a blocked service unblocks nothing on its own (its blockers block its dependents)
        else:
            after = readiness_all(with_service(portfolio, key, status="in_production"))
        freed = [s for s in portfolio.services if s != key and not not_blocked(before, s) and not_blocked(after, s)]
        assert row.unblocks_count == len(freed)
        assert row.unblocks_volume == sum(portfolio.services[s].yearly_volume for s in freed)

    ordered = list(rows.values())
    assert ordered == sorted(ordered, key=lambda r: (-r.transitive_volume, -r.transitive_count))


@settings(max_examples=200, deadline=None)
@given(portfolios(acyclic=False))
def test_waves_respect_every_hard_edge(portfolio):
    plan = waves(portfolio)
    wave_of = {sid: wave.number for wave in plan.waves for sid in wave.service_ids}
    cycle, behind = set(plan.cycle_service_ids), set(plan.behind_cycle_service_ids)

    placed = [*wave_of, *cycle, *behind]
    assert sorted(placed) == sorted(sid for sid in portfolio.services if is_open(portfolio, sid))
    assert cycle == {sid for sid in portfolio.services if brute_blockers(portfolio, sid)[1]}
    for edge in portfolio.edges:
        if not edge.hard or edge.on_service_id is None or edge.service_id not in wave_of:
            continue
        dependency = edge.on_service_id
        assert not is_open(portfolio, dependency) or wave_of[dependency] < wave_of[edge.service_id]
    for wave in plan.waves:
        assert wave.yearly_volume == sum(portfolio.services[sid].yearly_volume for sid in wave.service_ids)


@settings(max_examples=100, deadline=None)
@given(portfolios(acyclic=False), st.data())
def test_slip_impact_is_the_set_of_services_blocked_by_it(portfolio, data):
    candidates = [("capability", cid) for cid in portfolio.capabilities] + [
        ("service", sid) for sid in portfolio.services if is_open(portfolio, sid)
    ]
    if not candidates:
        return
    kind, key = data.draw(st.sampled_from(candidates))
    impact = slip_impact(portfolio, **{f"{kind}_id": key})

    # Treat the slipping thing as unmet (a delivered capability "un-delivered"), then brute force.
    if kind == "capability":
        undelivered = dict(portfolio.capabilities)
        undelivered[key] = dataclasses.replace(undelivered[key], delivered=False)
        portfolio = Portfolio(portfolio.services, undelivered, portfolio.edges)
    hit = {s for s in portfolio.services if (kind, key) in brute_blockers(portfolio, s)[0]}
    assert set(impact.service_ids) == hit
    assert impact.yearly_volume == sum(portfolio.services[s].yearly_volume for s in hit)


def test_the_engine_speaks_the_readiness_codes_the_models_store():
    # The engine keeps plain strings (fingerprints hash their repr); they are choices.ReadinessState's codes.
    from migration_app.choices import ReadinessState as StoredState
    from migration_app.engine.readiness import ReadinessState as EngineState

    engine_codes = {value for name, value in vars(EngineState).items() if name.isupper()}
    assert engine_codes == set(StoredState.values)
