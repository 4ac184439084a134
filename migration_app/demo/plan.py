"""The pure, deterministic layer of the demo: ``demo_plan`` and the plain dataclasses it returns.

No database access here; see ``migration_app.demo`` for the two layers."""

from __future__ import annotations

import datetime
import json
import math
import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.utils.text import slugify

from ..choices import (
    DEFAULT_TARGET_FOR_TYPE,
    Altinn3Target,
    CapabilityStatus,
    Criticality,
    DependencyStrength,
    MembershipRole,
)
from ..choices import MigrationStatus as S
from ..choices import ServiceType as T
from ..engine.lifecycle import FORWARD_ORDER, MIGRATED, TERMINAL_OUTCOMES
from .vocabulary import (
    BIG_OWNER_WEIGHTS,
    CAPABILITIES,
    CAPABILITY_NEEDS,
    DELEGATION_SCHEMES_MOVED,
    FIRST_NAMES,
    GENERAL_SUBJECTS,
    HISTORY_DAYS,
    LAST_NAMES,
    NAME_TEMPLATES,
    NOTES,
    ORGS_FILE,
    OWNER_SUBJECTS,
    OWNER_TEMPLATES,
    OWNER_TYPE_BIAS,
    QUALIFIERS,
    REGRESSION_COMMENTS,
    SERVICE_EDGE_NOTES,
    STATUS_LEVEL,
    STATUS_WEIGHTS,
    STEP_COMMENTS,
    STEP_GAP_DAYS,
    TEST_ORGS,
    TYPE_VOLUME_SHIFT,
    TYPE_WEIGHTS,
    CapabilityDate,
)


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
    return json.loads(path.read_bytes().decode("utf-8-sig"))


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


# --- The pure generator ------------------------------------------------------------------------------------


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


def _ascii(text: str) -> str:
    text = text.lower().replace("æ", "ae").replace("ø", "o").replace("å", "aa")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _mail_domain(org: OrgSpec) -> str:
    """The agency's own name under the reserved ``.example`` TLD (RFC 2606): believable, and a demo that
    is wired to a real SMTP server can never mail an agency's real staff."""
    host = urlsplit(org.homepage).hostname or ""
    host = host.removeprefix("www.")
    label = host.rsplit(".", 1)[0] if "." in host else org.code
    return f"{label.replace('.', '-')}.example"


def _ramp(rng: random.Random, low: float, high: float) -> float:
    """A time in [low, high) days with density rising fourfold over the year: the programme ramps up."""
    a = low / HISTORY_DAYS
    cdf_a = (a + 1.5 * a * a) / 2.5
    u = cdf_a + rng.random() * (1.0 - cdf_a)
    x = (-1.0 + math.sqrt(1.0 + 15.0 * u)) / 3.0
    return min(max(x * HISTORY_DAYS, low), high - 1e-6)


def _round_volume(value: float) -> int:
    """Volumes are estimates: two significant digits."""
    if value < 100:
        return int(value)
    digits = int(math.log10(value)) - 1
    return int(round(value, -digits))


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


def _reference(service: ServicePlan) -> str:
    """The Altinn 3 id a service gets once development starts, in the forms DOMAIN.md describes."""
    org, code, edition = service.owner_code, service.service_code, service.edition_code
    slug = slugify(_ascii(service.name_nb))[:50].strip("-")
    numeric = _ascii(code).replace(":", "").lower()
    return {
        Altinn3Target.ALTINN_APP: f"{org}/{slug}",
        Altinn3Target.CORRESPONDENCE_SERVICE: f"{org}-migratedcorrespondence-{numeric}-{edition}",
        Altinn3Target.GENERIC_ACCESS_RESOURCE: f"{org}-{slug}",
        Altinn3Target.BROKER_SERVICE: f"{org}-migratedbroker-{numeric}-{edition}",
        Altinn3Target.CONSENT: f"{org}-samtykke-{slug}",
        Altinn3Target.MASKINPORTEN_SCHEMA: f"{org}:{slug}",
    }.get(service.target, "")


class _Codes:
    """Unique service codes: mostly numeric, some letter codes, "AppId:n" for delegation schemes."""

    def __init__(self, rng: random.Random, n: int) -> None:
        self.rng = rng
        self.used: set[str] = set()
        self.numeric_top = 1000 + max(9000, 4 * n)

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            code = make()
            if code not in self.used:
                self.used.add(code)
                return code

    def new(self, owner: str, service_type: str) -> str:
        rng = self.rng
        if service_type == T.DELEGATION_SCHEME:
            return self._unique(lambda: f"AppId:{rng.randint(1, self.numeric_top)}")
        if rng.random() < 0.07:
            letters = "ABCDEFGHIKLMNOPRSTUV"
            if rng.random() < 0.5:
                prefix = owner.upper()[:3]
                return self._unique(lambda: prefix + "".join(rng.choice(letters) for _ in range(rng.randint(2, 4))))
            return self._unique(lambda: "".join(rng.choice(letters) for _ in range(5)))
        return self._unique(lambda: str(rng.randint(1000, self.numeric_top)))


def _editions(rng: random.Random, count: int, tz: ZoneInfo) -> list[tuple[int, str, datetime.datetime]]:
    """(edition code, edition-name suffix, valid from) for ``count`` editions, oldest first."""
    scheme = rng.choices(("seq", "year", "big"), weights=(40, 35, 25))[0]
    if scheme == "year":
        first = rng.randint(2012, 2024 - count)
        return [(first + i, f" {first + i}", datetime.datetime(first + i, 1, 1, tzinfo=tz)) for i in range(count)]
    days = sorted(rng.sample(range(0, 14 * 365), count))
    starts = [datetime.datetime(2010, 1, 4, 9, tzinfo=tz) + datetime.timedelta(days=d) for d in days]
    code = rng.randint(1, 20) if scheme == "seq" else rng.randint(10_000, 900_000)
    result = []
    for i in range(count):
        result.append((code, f" (utgave {i + 1})" if count > 1 else "", starts[i]))
        code += rng.randint(1, 3) if scheme == "seq" else rng.randint(1, 5000)
    return result


def _weighted_table(weights: dict[str, float]) -> tuple[list[str], list[float]]:
    keys = list(weights)
    cum, total = [], 0.0
    for key in keys:
        total += weights[key]
        cum.append(total)
    return keys, cum


def demo_plan(
    *,
    seed: int,
    services: int,
    today: datetime.date,
    orgs_data: dict[str, Any],
    tz: ZoneInfo,
    usernames_by_owner: dict[str, str] | None = None,
    lead_username: str | None = None,
) -> DemoPlan:
    """Generate the whole demo programme as plain data. Deterministic in (seed, services, today, orgs)."""
    rng = random.Random(seed)
    owners = org_specs(orgs_data)
    by_code = {o.code: o for o in owners}
    capabilities = capability_specs(today)
    window_start = today - datetime.timedelta(days=HISTORY_DAYS)
    editors = usernames_by_owner or {}

    # Owners with services: production orgs (not test orgs) plus the big legacy Altinn II owners.
    carriers = [o for o in owners if o.code not in TEST_ORGS and (o.in_production or o.code in BIG_OWNER_WEIGHTS)]
    owner_weight = {o.code: BIG_OWNER_WEIGHTS.get(o.code) or rng.uniform(0.1, 1.0) for o in carriers}
    owner_codes, owner_cum = _weighted_table(owner_weight)
    maturity = {code: rng.gauss(0.0, 0.6) for code in owner_codes}
    type_tables = {
        code: _weighted_table({t: w * OWNER_TYPE_BIAS.get(code, {}).get(t, 1.0) for t, w in TYPE_WEIGHTS.items()})
        for code in owner_codes
    }
    status_tables = {
        code: _weighted_table(
            {s: w * math.exp(maturity[code] * (STATUS_LEVEL[s] - 2.5) * 0.35) for s, w in STATUS_WEIGHTS.items()}
        )
        for code in owner_codes
    }
    contacts: dict[str, list[tuple[str, str]]] = {}
    codes = _Codes(rng, services)

    plans: list[ServicePlan] = []
    while len(plans) < services:
        owner = rng.choices(owner_codes, cum_weights=owner_cum)[0]
        types, type_cum = type_tables[owner]
        service_type = rng.choices(types, cum_weights=type_cum)[0]
        code = codes.new(owner, service_type)
        single = service_type in (T.DELEGATION_SCHEME, T.LINK, T.CONSENT)
        count = 1 if single else rng.choices((1, 2, 3), weights=(72, 18, 10))[0]
        template_nb, template_en = rng.choice(OWNER_TEMPLATES.get(owner, []) + NAME_TEMPLATES[service_type])
        subject_nb, subject_en = rng.choice(OWNER_SUBJECTS.get(owner) or GENERAL_SUBJECTS)
        name_nb, name_en = template_nb.format(nb=subject_nb), template_en.format(en=subject_en)
        if service_type == T.FORM_TASK and rng.random() < 0.25:
            extra_nb, extra_en = rng.choice(QUALIFIERS)
            name_nb, name_en = name_nb + extra_nb, name_en + extra_en
        name_nb = name_nb[0].upper() + name_nb[1:]
        if owner not in contacts:
            domain = _mail_domain(by_code[owner])
            pool_size = 2 + int(owner_weight[owner] ** 0.8)
            people = [(rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)) for _ in range(pool_size)]
            contacts[owner] = [(f"{f} {la}", f"{_ascii(f)}.{_ascii(la)}@{domain}") for f, la in people]
        # Median ~1,600 a year; messages run higher (62 million a year against 23 million forms).
        mu = math.log(1600) + TYPE_VOLUME_SHIFT.get(service_type, 0.0) + (0.5 if owner_weight[owner] >= 5 else 0.0)
        # The last family may be cut short to hit exactly ``services`` rows.
        editions = _editions(rng, count, tz)[: services - len(plans)]
        for index, (edition_code, suffix, valid_from) in enumerate(editions):
            newest = index == len(editions) - 1
            volume = (
                rng.lognormvariate(mu, 2.3) if newest else (0 if rng.random() < 0.4 else rng.lognormvariate(4, 1.5))
            )
            plan = ServicePlan(
                service_code=code,
                edition_code=edition_code,
                name_nb=name_nb,
                name_en=name_en,
                edition_name=(name_nb + suffix) if suffix else "",
                owner_code=owner,
                service_type=service_type,
                valid_from=valid_from,
                valid_to=None if newest else editions[index + 1][2],
                yearly_volume=_round_volume(volume),
            )
            _decide(rng, plan, owner, newest, status_tables[owner], window_start)
            if rng.random() < 0.85:
                plan.contact_name, plan.contact_email = rng.choice(contacts[owner])
            if rng.random() < 0.3:
                plan.notes = " ".join(rng.sample(NOTES, rng.randint(1, 2)))
            plans.append(plan)

    caps_by_key = {c.key: c for c in capabilities}
    dependencies, testing_after = _capability_edges(rng, plans, caps_by_key, today, window_start)
    for i, plan in enumerate(plans):
        _history(rng, plan, testing_after[i], window_start, tz, editors.get(plan.owner_code), lead_username)
        _dates(rng, plan, today, tz)
    dependencies.extend(_service_edges(rng, plans))
    return DemoPlan(orgs_data, owners, capabilities, plans, dependencies)


def _decide(
    rng: random.Random,
    plan: ServicePlan,
    owner: str,
    newest: bool,
    table: tuple[list[str], list[float]],
    window_start: datetime.date,
) -> None:
    """Final status, planned outcome, criticality and Altinn 3 reference, consistent with each other."""
    statuses, cum = table
    if plan.service_type == T.DELEGATION_SCHEME and window_start > DELEGATION_SCHEMES_MOVED:
        status = S.IN_PRODUCTION
    elif not newest and rng.random() < 0.45:
        status = S.DECOMMISSIONED  # an old edition superseded by the newest one
    else:
        status = rng.choices(statuses, cum_weights=cum)[0]
        if status == S.REIMPLEMENTED_ELSEWHERE and owner not in ("skd", "nav") and rng.random() < 0.5:
            status = S.DECOMMISSIONED  # moving services to their own platform is mostly Skatteetaten's and NAV's
    plan.status = status
    default = DEFAULT_TARGET_FOR_TYPE[plan.service_type]
    if status == S.DECOMMISSIONED:
        plan.target = Altinn3Target.DECOMMISSION
    elif status == S.REIMPLEMENTED_ELSEWHERE:
        plan.target = Altinn3Target.REIMPLEMENT_ELSEWHERE
    elif status in (S.NOT_STARTED, S.ANALYSIS):
        # Early on, a quarter are undecided and a few are already headed for decommissioning or elsewhere.
        plan.target = rng.choices(
            (Altinn3Target.UNDECIDED, Altinn3Target.DECOMMISSION, Altinn3Target.REIMPLEMENT_ELSEWHERE, default),
            weights=(25, 7, 3, 65),
        )[0]
    else:
        plan.target = default
    if STATUS_LEVEL[status] >= 2 and status not in TERMINAL_OUTCOMES:
        plan.altinn3_reference = _reference(plan)
    volume = plan.yearly_volume
    level = 3 if volume >= 500_000 else 2 if volume >= 40_000 else 1 if volume >= 1_500 else 0
    if rng.random() < 0.15:
        level = min(3, max(0, level + rng.choice((-1, 1))))
    plan.criticality = (Criticality.LOW, Criticality.MEDIUM, Criticality.HIGH, Criticality.CRITICAL)[level]


def _capability_edges(
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


def _history(
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
    previous, previous_at = S.NOT_STARTED, None
    for to_status, at in zip(path, moments, strict=True):
        if previous_at is not None and at <= previous_at:
            at = previous_at + datetime.timedelta(minutes=1)
        backwards = to_status in FORWARD_ORDER and FORWARD_ORDER.index(to_status) < FORWARD_ORDER.index(previous)
        if _moved_with_schemes(plan, window_start):
            comment = "Flyttet sammen med alle delegerbare API-ressurser"
        else:
            comment = rng.choice(REGRESSION_COMMENTS if backwards else STEP_COMMENTS[to_status])
        if to_status in TERMINAL_OUTCOMES and lead and rng.random() < 0.3:
            by = lead
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


def _dates(rng: random.Random, plan: ServicePlan, today: datetime.date, tz: ZoneInfo) -> None:
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


def _service_edges(rng: random.Random, plans: Sequence[ServicePlan]) -> list[DependencyPlan]:
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
