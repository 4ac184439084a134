"""The writing layer of the demo: ``demo_seed``, the demo users and the snapshots backfill.

See ``migration_app.demo`` for the two layers."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction

from ..choices import PROJECT_LEADS_GROUP, MembershipRole
from ..choices import MigrationStatus as S
from ..importers import orgs_import  # the importer owns the org-list rules (MOD11, URLs, e-mail)
from ..models import Dependency, Membership, PlatformCapability, Service, ServiceOwner, StatusChange
from ..services import recompute
from ..services.snapshots import progress_snapshot_backfill
from .plan import demo_plan
from .specs import DEMO_USERS, CapabilitySpec, org_specs
from .vocabulary import BATCH_SIZE, DEMO_PASSWORD, HISTORY_DAYS

# --- Writing a plan ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeedResult:
    """Row counts and wall time of one ``demo_seed`` run, for the command's summary line."""

    services: int
    dependencies: int
    status_changes: int
    owners: int
    seconds: float


class CatalogNotEmptyError(Exception):
    """The catalog already has services and the caller did not ask to replace them."""


def demo_logins() -> str:
    """The line printed after seeding (and by ``--if-empty`` when nothing was seeded)."""
    parts = [f"{u.role_label} {u.username} / {DEMO_PASSWORD}" for u in DEMO_USERS if u.role_label]
    return "Demo logins: " + ", ".join(parts)


def _demo_users(owner_ids: dict[str, int]) -> dict[str, int]:
    """Create or reset the demo users and their memberships; return {username: id}.

    One password hash for all of them: hashing is deliberately slow, and they share the same password.
    """
    User = get_user_model()
    password = make_password(DEMO_PASSWORD)
    leads = Group.objects.get_or_create(name=PROJECT_LEADS_GROUP)[0]
    ids: dict[str, int] = {}
    for spec in DEMO_USERS:
        user, _ = User.objects.update_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@demo.example",
                "password": password,
                "is_active": True,
                "is_staff": spec.is_staff,
                "is_superuser": spec.is_superuser,
            },
        )
        if spec.is_lead:
            user.groups.add(leads)
        for code, role in spec.memberships:
            if code in owner_ids:
                Membership.objects.update_or_create(user=user, owner_id=owner_ids[code], defaults={"role": role})
        ids[spec.username] = user.pk
    return ids


@transaction.atomic
def demo_seed(
    *,
    seed: int,
    services: int,
    today: datetime.date,
    tz: ZoneInfo,
    orgs_data: dict[str, Any],
    replace: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> SeedResult:
    """Build the demo programme in one transaction. Refuses a non-empty catalog unless ``replace``.

    This writes services, history rows and edges in bulk and on purpose bypasses
    ``services.service_change_status`` and ``services.dependency_add``: called per step they would take
    hours for 100,000 services (a lock, a cycle search and several queries per call). The plan obeys
    the same rules instead: every history path is legal per ``lifecycle.check_transition``, the
    service's status, dates and version match its history, and hard service edges are acyclic by
    construction. tests/test_seed_demo.py checks all three.
    """
    started = time.monotonic()

    def step(label: str) -> None:
        progress(f"seed_demo: {label} ({time.monotonic() - started:.1f} s)")

    if Service.objects.exists():
        if not replace:
            raise CatalogNotEmptyError
        # Edges and history first: each is one DELETE, and the service delete then has nothing to cascade
        # into but whatever other tables (readiness, ...) hold per service.
        Dependency.objects.all().delete()
        StatusChange.objects.all().delete()
        Service.objects.all().delete()
        step("removed the existing catalog")

    orgs_import(data=orgs_data)
    # Active means "in production on Altinn 3" for the owners in the file; others are left alone.
    listed = org_specs(orgs_data)
    ServiceOwner.objects.filter(code__in=[o.code for o in listed if o.in_production]).update(active=True)
    ServiceOwner.objects.filter(code__in=[o.code for o in listed if not o.in_production]).update(active=False)
    owner_ids = dict(ServiceOwner.objects.values_list("code", "id"))
    user_ids = _demo_users(owner_ids)
    step(f"{len(owner_ids)} service owners and {len(user_ids)} demo users")

    editors = {code: u.username for u in DEMO_USERS for code, role in u.memberships if role == MembershipRole.EDITOR}
    lead = next(u.username for u in DEMO_USERS if u.is_lead)
    plan = demo_plan(
        seed=seed, services=services, today=today, orgs_data=orgs_data, tz=tz, usernames_by_owner=editors,
        lead_username=lead,
    )  # fmt: skip
    step(f"planned {len(plan.services)} services and {len(plan.dependencies)} dependencies")

    _capabilities_upsert(plan.capabilities)
    capability_ids = dict(PlatformCapability.objects.values_list("key", "id"))

    Service.objects.bulk_create(
        (
            Service(
                service_code=p.service_code,
                edition_code=p.edition_code,
                name_nb=p.name_nb,
                name_en=p.name_en,
                edition_name=p.edition_name,
                owner_id=owner_ids[p.owner_code],
                service_type=p.service_type,
                valid_from=p.valid_from,
                valid_to=p.valid_to,
                yearly_volume=p.yearly_volume,
                criticality=p.criticality,
                target=p.target,
                altinn3_reference=p.altinn3_reference,
                status=p.status,
                status_changed_at=p.status_changed_at,
                planned_start=p.planned_start,
                target_date=p.target_date,
                # As service_change_status sets them: the first move out of not started, the first
                # arrival in production.
                actual_start=p.history[0].at.astimezone(tz).date() if p.history else None,
                actual_done=_local_date(p.first_at(S.IN_PRODUCTION), tz),
                contact_name=p.contact_name,
                contact_email=p.contact_email,
                notes=p.notes,
                version=1 + len(p.history),  # each status change bumps the version once
            )
            for p in plan.services
        ),
        batch_size=BATCH_SIZE,
    )
    # Ids by natural key in one query: bulk_create does not return ids on every backend and version.
    service_ids = {
        (code, edition): pk for code, edition, pk in Service.objects.values_list("service_code", "edition_code", "id")
    }
    ids = [service_ids[(p.service_code, p.edition_code)] for p in plan.services]
    step(f"{len(ids)} services")

    Dependency.objects.bulk_create(
        (
            Dependency(
                service_id=ids[d.service],
                depends_on_service_id=ids[d.on_service] if d.on_service is not None else None,
                depends_on_capability_id=capability_ids[d.on_capability] if d.on_capability else None,
                strength=d.strength,
                note=d.note,
            )
            for d in plan.dependencies
        ),
        batch_size=BATCH_SIZE,
    )
    step(f"{len(plan.dependencies)} dependencies")

    history = [
        StatusChange(
            service_id=ids[i],
            from_status=s.from_status,
            to_status=s.to_status,
            changed_by_id=user_ids.get(s.by) if s.by else None,
            changed_at=s.at,
            comment=s.comment,
        )
        for i, p in enumerate(plan.services)
        for s in p.history
    ]
    StatusChange.objects.bulk_create(history, batch_size=BATCH_SIZE)
    step(f"{len(history)} status changes")

    # The catalog "existed" from the start of the history window, so charts that count services by
    # creation date do not show it appearing today.
    created = datetime.datetime.combine(today - datetime.timedelta(days=HISTORY_DAYS), datetime.time(7), tzinfo=tz)
    Service.objects.update(created_at=created)
    Dependency.objects.update(created_at=created)
    step("dated the catalog to the start of the history")

    recompute.portfolio_recompute_request()
    return SeedResult(len(ids), len(plan.dependencies), len(history), len(owner_ids), time.monotonic() - started)


def demo_snapshots_backfill(*, today: datetime.date) -> int:
    """Replay the seeded history into one progress snapshot per day of the window, so burn-up charts and
    week-on-week figures have a past. Returns the number of snapshot rows written."""
    first = today - datetime.timedelta(days=HISTORY_DAYS)
    return progress_snapshot_backfill(first=first, last=today - datetime.timedelta(days=1))


def _local_date(moment: datetime.datetime | None, tz: ZoneInfo) -> datetime.date | None:
    return moment.astimezone(tz).date() if moment else None


def _capabilities_upsert(capabilities: Sequence[CapabilitySpec]) -> None:
    """Insert or refresh the roadmap by key in one statement."""
    PlatformCapability.objects.bulk_create(
        [
            PlatformCapability(
                key=c.key,
                name_nb=c.name_nb,
                name_en=c.name_en,
                description=c.description,
                status=c.status,
                planned_date=c.planned_date,
                delivered_date=c.delivered_date,
            )
            for c in capabilities
        ],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["name_nb", "name_en", "description", "status", "planned_date", "delivered_date"],
    )
