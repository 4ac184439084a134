"""What the demo is made of, as plain data: the organisations, capabilities and users it starts from,
and the service, history-step and dependency plans ``demo_plan`` returns (``DemoPlan``)."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..choices import CapabilityStatus, Criticality, MembershipRole
from ..choices import MigrationStatus as S
from .vocabulary import CAPABILITIES, ORGS_FILE, CapabilityDate


@dataclass(frozen=True, slots=True)
class OrgSpec:
    """One organisation from altinn-orgs.json, as the generator needs it."""

    code: str
    name_nb: str
    homepage: str
    in_production: bool


@dataclass(frozen=True, slots=True)
class CapabilitySpec:
    """One roadmap entry as it stands on the seeding day."""

    key: str
    name_nb: str
    name_en: str
    description: str
    status: str
    planned_date: datetime.date | None
    delivered_date: datetime.date | None


@dataclass(frozen=True, slots=True)
class StepPlan:
    """One history row: ``by`` is a demo username or None (a system actor)."""

    from_status: str
    to_status: str
    at: datetime.datetime
    by: str | None
    comment: str


@dataclass(slots=True)
class ServicePlan:
    """One service edition with its final status and the history that led there."""

    service_code: str
    edition_code: int
    name_nb: str
    name_en: str
    edition_name: str
    owner_code: str
    service_type: str
    valid_from: datetime.datetime | None
    valid_to: datetime.datetime | None
    yearly_volume: int
    criticality: str = Criticality.MEDIUM
    target: str = ""
    altinn3_reference: str = ""
    status: str = S.NOT_STARTED
    planned_start: datetime.date | None = None
    target_date: datetime.date | None = None
    contact_name: str = ""
    contact_email: str = ""
    notes: str = ""
    history: list[StepPlan] = field(default_factory=list)

    @property
    def status_changed_at(self) -> datetime.datetime | None:
        return self.history[-1].at if self.history else None

    def first_at(self, status: str) -> datetime.datetime | None:
        """When the service first reached ``status``, if it did."""
        return next((step.at for step in self.history if step.to_status == status), None)


@dataclass(frozen=True, slots=True)
class DependencyPlan:
    """An edge by list index (``service``, ``on_service``) or capability key."""

    service: int
    on_service: int | None
    on_capability: str | None
    strength: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class UserSpec:
    """A demo login: ``role_label`` is how the printed login line introduces it."""

    username: str
    first_name: str
    last_name: str
    role_label: str
    memberships: tuple[tuple[str, str], ...] = ()
    is_lead: bool = False
    is_staff: bool = False
    is_superuser: bool = False


# The demo logins. The lead is a member of the "Project leads" group (created by migration 0002).
DEMO_USERS: tuple[UserSpec, ...] = (
    UserSpec("eier", "Kari", "Nordmann", "service owner", (("skd", MembershipRole.EDITOR),)),
    UserSpec("leser", "Ola", "Nordmann", "viewer", (("skd", MembershipRole.VIEWER), ("brg", MembershipRole.VIEWER))),
    UserSpec("leder", "Ingrid", "Lund", "project lead", is_lead=True, is_staff=True),
    UserSpec("eier-nav", "Per", "Hagen", "editor NAV", (("nav", MembershipRole.EDITOR),)),
    UserSpec("eier-brg", "Silje", "Berg", "editor Brønnøysundregistrene", (("brg", MembershipRole.EDITOR),)),
    UserSpec("eier-ssb", "Anders", "Moen", "editor SSB", (("ssb", MembershipRole.EDITOR),)),
    UserSpec("eier-svv", "Mona", "Strand", "editor Statens vegvesen", (("svv", MembershipRole.EDITOR),)),
    UserSpec("admin", "Admin", "Demo", "Django admin", is_staff=True, is_superuser=True),
)


@dataclass(slots=True)
class DemoPlan:
    """Everything ``demo_seed`` writes, as plain data."""

    orgs_data: dict[str, Any]
    owners: list[OrgSpec]
    capabilities: list[CapabilitySpec]
    services: list[ServicePlan]
    dependencies: list[DependencyPlan]


def orgs_read(path: Path = ORGS_FILE) -> dict[str, Any]:
    """Altinn's organisation list as parsed JSON (``{"orgs": {code: {...}}}``)."""
    orgs_data: dict[str, Any] = json.loads(path.read_bytes().decode("utf-8-sig"))
    return orgs_data


def org_specs(orgs_data: dict[str, Any]) -> list[OrgSpec]:
    """The organisations in file order, with lower-case codes."""
    specs = []
    for code, entry in orgs_data.get("orgs", {}).items():
        names = entry.get("name") or {}
        specs.append(
            OrgSpec(
                code=code.strip().lower(),
                name_nb=names.get("nb") or names.get("en") or code,
                homepage=entry.get("homepage") or "",
                in_production="production" in (entry.get("environments") or []),
            )
        )
    return specs


def _resolve(day: CapabilityDate, today: datetime.date) -> datetime.date | None:
    if isinstance(day, int):
        return today + datetime.timedelta(days=day)
    return day


def capability_specs(today: datetime.date) -> list[CapabilitySpec]:
    """The roadmap as it stands on ``today``: delivered only when the delivery date has passed."""
    specs = []
    for key, name_nb, name_en, description, pending, planned, delivered in CAPABILITIES:
        delivered_date = _resolve(delivered, today)
        if delivered_date is not None and delivered_date >= today:
            delivered_date = None
        status = CapabilityStatus.DELIVERED if delivered_date else pending
        specs.append(
            CapabilitySpec(key, name_nb, name_en, description, status, _resolve(planned, today), delivered_date)
        )
    return specs
