"""The pure, deterministic generator: ``demo_plan`` draws owners, names, codes, editions, volumes and
final statuses, then the history (``history``) and the edges (``dependencies``).

No database access here; see ``migration_app.demo`` for the layers."""

from __future__ import annotations

import datetime
import math
import random
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.utils.text import slugify

from ..choices import DEFAULT_TARGET_FOR_TYPE, Altinn3Target, Criticality
from ..choices import MigrationStatus as S
from ..choices import ServiceType as T
from ..engine.lifecycle import TERMINAL_OUTCOMES
from .dependencies import capability_edges, service_edges
from .history import dates_plan, history_plan
from .specs import DemoPlan, OrgSpec, ServicePlan, capability_specs, org_specs
from .vocabulary import (
    BIG_OWNER_WEIGHTS,
    DELEGATION_SCHEMES_MOVED,
    FIRST_NAMES,
    GENERAL_SUBJECTS,
    HISTORY_DAYS,
    LAST_NAMES,
    NAME_TEMPLATES,
    NOTES,
    OWNER_SUBJECTS,
    OWNER_TEMPLATES,
    OWNER_TYPE_BIAS,
    QUALIFIERS,
    STATUS_LEVEL,
    STATUS_WEIGHTS,
    TEST_ORGS,
    TYPE_VOLUME_SHIFT,
    TYPE_WEIGHTS,
)


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


def _round_volume(value: float) -> int:
    """Volumes are estimates: two significant digits."""
    if value < 100:
        return int(value)
    digits = int(math.log10(value)) - 1
    return int(round(value, -digits))


def _reference(service: ServicePlan) -> str:
    """The Altinn 3 id a service gets once development starts, in the forms DOMAIN.md describes."""
    org, code, edition = service.owner_code, service.service_code, service.edition_code
    slug = slugify(_ascii(service.name_nb))[:50].strip("-")
    numeric = _ascii(code).replace(":", "").lower()
    references: dict[str, str] = {
        Altinn3Target.ALTINN_APP: f"{org}/{slug}",
        Altinn3Target.CORRESPONDENCE_SERVICE: f"{org}-migratedcorrespondence-{numeric}-{edition}",
        Altinn3Target.GENERIC_ACCESS_RESOURCE: f"{org}-{slug}",
        Altinn3Target.BROKER_SERVICE: f"{org}-migratedbroker-{numeric}-{edition}",
        Altinn3Target.CONSENT: f"{org}-samtykke-{slug}",
        Altinn3Target.MASKINPORTEN_SCHEMA: f"{org}:{slug}",
    }
    return references.get(service.target, "")


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
    dependencies, testing_after = capability_edges(rng, plans, caps_by_key, today, window_start)
    for i, plan in enumerate(plans):
        history_plan(rng, plan, testing_after[i], window_start, tz, editors.get(plan.owner_code), lead_username)
        dates_plan(rng, plan, today, tz)
    dependencies.extend(service_edges(rng, plans))
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
        status: str = S.IN_PRODUCTION
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
