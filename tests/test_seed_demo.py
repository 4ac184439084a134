"""``manage.py seed_demo``: a believable programme that obeys the tracker's own rules, reproducibly.

Seeding is most of the cost here, so the module seeds one demo programme (``demo_catalog``) and every
test reads it; a test that needs another catalog replaces it with its own seed, inside its own savepoint.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.utils import timezone

from migration_app.choices import PROJECT_LEADS_GROUP, CapabilityStatus, DependencyStrength, MembershipRole
from migration_app.choices import MigrationStatus as S
from migration_app.demo.vocabulary import DEMO_PASSWORD, ORGS_FILE
from migration_app.engine.lifecycle import MIGRATED, TERMINAL_OUTCOMES, check_transition
from migration_app.models import (
    Dependency,
    Membership,
    PlatformCapability,
    ProgressSnapshot,
    Service,
    ServiceOwner,
    StatusChange,
)
from migration_app.validators import orgnr_is_valid

pytestmark = pytest.mark.django_db

N = 300
TODAY = datetime.date(2026, 11, 28)


def seed(*args: str, services: int = N, today: datetime.date = TODAY, snapshots: bool = False) -> str:
    out = StringIO()
    call_command(
        "seed_demo",
        "--services",
        str(services),
        "--today",
        today.isoformat(),
        "--snapshots" if snapshots else "--no-snapshots",
        *args,
        stdout=out,
        stderr=StringIO(),
    )
    return out.getvalue()


@pytest.fixture(scope="module", autouse=True)
def demo_catalog(module_db) -> str:
    """The demo programme (N services as of TODAY, the default seed) every test here starts from, seeded
    once for the module; its value is what the command printed. A test that needs another catalog
    replaces it; its savepoint gives the next test this one back."""
    return seed()


def catalog_snapshot() -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Services, edges and history by natural key (ids differ between runs)."""
    services = list(
        Service.objects.order_by("service_code", "edition_code").values_list(
            "service_code", "edition_code", "owner__code", "name_nb", "status", "yearly_volume", "target"
        )
    )
    edges = sorted(
        Dependency.objects.values_list(
            "service__service_code",
            "service__edition_code",
            "depends_on_service__service_code",
            "depends_on_service__edition_code",
            "depends_on_capability__key",
            "strength",
        ),
        key=lambda edge: tuple(str(v) for v in edge),
    )
    history = sorted(
        StatusChange.objects.values_list(
            "service__service_code", "service__edition_code", "from_status", "to_status", "changed_at", "comment"
        ),
        key=lambda row: tuple(str(v) for v in row),
    )
    return services, edges, history


def test_catalog_has_real_owners_a_realistic_type_mix_and_heavy_tailed_volumes():
    assert Service.objects.count() == N
    orgs = json.loads(ORGS_FILE.read_text(encoding="utf-8"))["orgs"]
    used = set(Service.objects.values_list("owner__code", flat=True).distinct())
    assert used <= set(orgs) and "ttd" not in used and len(used) >= 15
    per_owner = Counter(Service.objects.values_list("owner__code", flat=True))
    assert {code for code, _ in per_owner.most_common(6)} & {"skd", "nav", "ssb", "brg"}

    types = Counter(Service.objects.values_list("service_type", flat=True))
    assert {"FormTask", "Correspondence", "Link", "Broker"} <= set(types)
    assert types.most_common(1)[0][0] == "FormTask"

    volumes = sorted(Service.objects.values_list("yearly_volume", flat=True), reverse=True)
    top = volumes[: len(volumes) // 20]
    assert sum(top) > 0.5 * sum(volumes)

    codes = list(Service.objects.values_list("service_code", flat=True))
    assert sum(code.isdigit() for code in codes) > 0.8 * len(codes)
    assert Service.objects.values("service_code").distinct().count() < N  # some services have several editions

    # Every owner in the file is stored; orgnr only when it passes MOD11, active only when in production.
    assert ServiceOwner.objects.count() == len(orgs)
    for owner in ServiceOwner.objects.all():
        assert owner.orgnr == "" or orgnr_is_valid(owner.orgnr)
        assert owner.active == ("production" in orgs[owner.code].get("environments", []))
    assert ServiceOwner.objects.get(code="acn").orgnr == ""  # a test org's made-up number
    assert ServiceOwner.objects.get(code="skd").orgnr == "974761076"


def test_every_history_is_a_legal_path_ending_at_the_services_status():
    tz = timezone.get_current_timezone()
    window_start = datetime.datetime.combine(TODAY - datetime.timedelta(days=366), datetime.time(), tzinfo=tz)
    today_start = datetime.datetime.combine(TODAY, datetime.time(), tzinfo=tz)
    chains: dict[int, list[StatusChange]] = defaultdict(list)
    for change in StatusChange.objects.order_by("changed_at", "id"):
        chains[change.service_id].append(change)

    for service in Service.objects.all():
        chain = chains[service.pk]
        status, previous_at = S.NOT_STARTED, None
        for change in chain:
            assert change.from_status == status
            check = check_transition(change.from_status, change.to_status)
            assert check.allowed, (service, change, check.reason)
            assert change.comment or not check.needs_comment
            assert change.changed_at < today_start  # history ends yesterday
            if service.service_type == "DelegationScheme":  # all moved in one operation (DOMAIN.md)
                assert timezone.localdate(change.changed_at) == datetime.date(2023, 6, 13)
            else:
                assert change.changed_at >= window_start
            assert previous_at is None or change.changed_at > previous_at
            status, previous_at = change.to_status, change.changed_at
        assert status == service.status
        assert service.version == 1 + len(chain)
        assert service.status_changed_at == (chain[-1].changed_at if chain else None)
        assert service.actual_start == (timezone.localdate(chain[0].changed_at) if chain else None)
        reached_production = [c.changed_at for c in chain if c.to_status == S.IN_PRODUCTION]
        assert service.actual_done == (timezone.localdate(reached_production[0]) if reached_production else None)

    statuses = Counter(Service.objects.values_list("status", flat=True))
    assert set(statuses) == set(S.values)
    assert statuses[S.IN_PRODUCTION] > statuses[S.TESTING]


def test_throughput_ramps_up_over_the_year():
    seed("--replace", services=1000)
    arrivals = StatusChange.objects.filter(to_status=S.IN_PRODUCTION).values_list("changed_at", flat=True)
    midpoint = datetime.datetime.combine(TODAY - datetime.timedelta(days=183), datetime.time(), tzinfo=datetime.UTC)
    first_half = sum(at < midpoint for at in arrivals)
    assert len(arrivals) - first_half > 1.5 * first_half


def test_progress_snapshots_replay_the_history_so_burn_up_charts_have_a_past():
    seed("--replace", snapshots=True, services=100)
    overall = ProgressSnapshot.objects.filter(scope=ProgressSnapshot.Scope.OVERALL).order_by("day")
    assert overall.count() == 365
    assert overall.first().day == TODAY - datetime.timedelta(days=365)
    assert overall.last().day == TODAY - datetime.timedelta(days=1)
    assert overall.first().done_count < overall.last().done_count
    assert all(row.total_count == 100 for row in overall)


def test_hard_service_dependencies_form_an_acyclic_graph():
    edges = list(
        Dependency.objects.filter(strength=DependencyStrength.HARD, depends_on_service__isnull=False).values_list(
            "service_id", "depends_on_service_id"
        )
    )
    assert edges
    # Kahn's algorithm: every node is removed exactly when the graph has no cycle.
    needs: dict[int, set[int]] = defaultdict(set)
    needed_by: dict[int, set[int]] = defaultdict(set)
    for service, target in edges:
        needs[service].add(target)
        needed_by[target].add(service)
    nodes = set(needs) | set(needed_by)
    free = [node for node in nodes if not needs[node]]
    removed = 0
    while free:
        node = free.pop()
        removed += 1
        for dependent in needed_by[node]:
            needs[dependent].discard(node)
            if not needs[dependent]:
                free.append(dependent)
    assert removed == len(nodes)


def test_dependencies_are_consistent_with_progress_yet_leave_blocked_services():
    total = Dependency.objects.count()
    assert 2.0 * N < total < 4.5 * N  # about three per service, like the benchmark's 100,000 / 300,000
    between_services = Dependency.objects.exclude(depends_on_service=None)
    assert between_services.exclude(depends_on_service__owner=F("service__owner")).exists()  # across owners
    assert between_services.filter(depends_on_service__owner=F("service__owner")).exists()

    advanced = [S.TESTING, *MIGRATED]
    hard = Dependency.objects.filter(strength=DependencyStrength.HARD, service__status__in=advanced)
    assert not hard.filter(depends_on_capability__isnull=False).exclude(
        depends_on_capability__status=CapabilityStatus.DELIVERED
    )
    assert not hard.filter(depends_on_service__isnull=False).exclude(depends_on_service__status__in=MIGRATED)

    open_statuses = [S.NOT_STARTED, S.ANALYSIS, S.DEVELOPMENT]
    blocked = Dependency.objects.filter(strength=DependencyStrength.HARD, service__status__in=open_statuses).exclude(
        depends_on_capability__status=CapabilityStatus.DELIVERED
    )
    blocked_by_service = blocked.filter(depends_on_service__isnull=False).exclude(
        depends_on_service__status__in=[*MIGRATED, *TERMINAL_OUTCOMES]
    )
    blocked_by_capability = blocked.filter(depends_on_capability__isnull=False)
    assert blocked_by_service.exists() and blocked_by_capability.exists()


def test_capability_roadmap_has_every_stage():
    capabilities = {c.key: c for c in PlatformCapability.objects.all()}
    assert {"payment", "parallel-signing", "broker", "correspondence", "consent", "dialogporten"} <= set(capabilities)
    assert {c.status for c in capabilities.values()} == set(CapabilityStatus.values)
    for capability in capabilities.values():
        if capability.status == CapabilityStatus.DELIVERED:
            assert capability.delivered_date is not None and capability.delivered_date < TODAY
    assert capabilities["advanced-services"].planned_date is None
    assert any(c.planned_date and c.planned_date > TODAY for c in capabilities.values())


def test_same_seed_and_day_give_identical_data_and_another_seed_differs():
    first = catalog_snapshot()  # the shared catalog, seeded into an empty database
    seed("--replace")
    assert catalog_snapshot() == first
    seed("--seed", "12", "--replace")
    other = catalog_snapshot()
    assert other[0] != first[0] and other[1] != first[1]


def test_plan_does_not_depend_on_python_hash_randomisation():
    """Set iteration order changes with PYTHONHASHSEED; the generator must not rely on it."""
    script = (
        "import datetime, hashlib, django; django.setup()\n"
        "from zoneinfo import ZoneInfo\n"
        "from migration_app.demo.plan import demo_plan\n"
        "from migration_app.demo.specs import orgs_read\n"
        "p = demo_plan(seed=3, services=200, today=datetime.date(2026, 11, 28), orgs_data=orgs_read(),"
        " tz=ZoneInfo('Europe/Oslo'))\n"
        "print(hashlib.sha256(repr((p.services, p.dependencies)).encode()).hexdigest())\n"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "DJANGO_SETTINGS_MODULE": "tracker.settings"}
        env.setdefault("SECRET_KEY", "x")
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(result.stdout.strip())
    assert len(digests) == 1


def test_non_empty_catalog_is_refused_unless_replaced():
    with pytest.raises(CommandError, match="--replace"):
        seed()


def test_if_empty_leaves_an_existing_catalog_alone_and_still_prints_the_logins():
    before = catalog_snapshot()
    out = seed("--seed", "6", "--if-empty")
    assert "Demo logins:" in out
    assert catalog_snapshot() == before


def test_if_empty_seeds_an_empty_catalog():
    Service.objects.all().delete()  # the shared catalog, until this test's savepoint is rolled back
    seed("--if-empty", services=50)
    assert Service.objects.count() == 50


def test_demo_users_memberships_and_printed_logins_work(client, demo_catalog):
    logins = re.findall(r"(\S+) / (\S+?)(?:,|$)", demo_catalog.split("Demo logins:", 1)[1].strip())
    usernames = {username for username, _ in logins}
    assert {"eier", "leder", "leser", "admin"} <= usernames
    for username, password in logins:
        assert password == DEMO_PASSWORD
        # Through the sign-in form: django-axes, which guards every sign-in, needs the request.
        signed_in = client.post("/accounts/login/", {"username": username, "password": password})
        assert signed_in.status_code == 302 and client.session.get("_auth_user_id"), username
        client.logout()

    User = get_user_model()
    assert Membership.objects.filter(user__username="eier", owner__code="skd", role=MembershipRole.EDITOR).exists()
    assert Membership.objects.filter(user__username="leser", role=MembershipRole.VIEWER).exists()
    assert not Membership.objects.filter(user__username="leser", role=MembershipRole.EDITOR).exists()
    lead = User.objects.get(username="leder")
    assert lead.is_staff and not lead.is_superuser and lead.groups.filter(name=PROJECT_LEADS_GROUP).exists()
    assert User.objects.get(username="admin").is_superuser
    # Demo users appear in history, as editors of their own organisation's services or as the lead.
    changed_by = StatusChange.objects.exclude(changed_by=None)
    assert changed_by.filter(changed_by__username="eier", service__owner__code="skd").exists()
    assert not changed_by.filter(changed_by__username="eier").exclude(service__owner__code="skd").exists()


def test_shipped_org_list_is_a_copy_of_the_shared_one():
    shared = Path(settings.BASE_DIR).parent / "shared" / "data" / "altinn-orgs.json"
    if not shared.exists():
        pytest.skip("the shared data folder is not checked out next to the project")
    assert ORGS_FILE.read_bytes() == shared.read_bytes()
