"""A believable demo programme for ``manage.py seed_demo``: real owners, ~1,000 services, history.

Two layers, as elsewhere in the app (STYLE.md):

* ``demo_plan`` is pure and deterministic: a seed, a size and "today" in, a ``DemoPlan`` of plain
  dataclasses out. The same three inputs always give the same codes, names, volumes, statuses, edges
  and history dates, because every random choice comes from one ``random.Random(seed)`` consumed in a
  fixed order (no iteration over sets or hash-ordered containers).
* ``demo_seed`` writes a plan in one transaction with ``bulk_create``: 100,000 services with their
  ~300,000 dependencies and ~250,000 history rows take under a minute, not the hours that per-row saves
  through ``services.py`` would.

The demo is "mid-programme" relative to the day it is seeded: status history runs from a year before
``today`` up to yesterday, throughput ramps up over that year, and plan dates straddle ``today`` so the
overdue and due-soon lists have something in them whatever day the demo is built.
"""

from __future__ import annotations

import datetime
import json
import math
import random
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.text import slugify

from .choices import (
    DEFAULT_TARGET_FOR_TYPE,
    PROJECT_LEADS_GROUP,
    Altinn3Target,
    CapabilityStatus,
    Criticality,
    DependencyStrength,
    MembershipRole,
)
from .choices import MigrationStatus as S
from .choices import ServiceType as T
from .engine.lifecycle import FORWARD_ORDER, MIGRATED, TERMINAL_OUTCOMES
from .models import Dependency, Membership, PlatformCapability, Service, ServiceOwner, StatusChange

# The app's own copy of Altinn's organisation list, so the demo works in a clean clone.
ORGS_FILE = Path(__file__).resolve().parent / "data" / "altinn-orgs.json"
DEMO_PASSWORD = "demo-passord-2026"  # noqa: S105 - a published demo password, printed on purpose
HISTORY_DAYS = 365
# DOMAIN.md: every delegation scheme moved to a Maskinporten schema in one operation on this day.
DELEGATION_SCHEMES_MOVED = datetime.date(2023, 6, 13)
BATCH_SIZE = 2000

# Test organisations in Altinn's list; they own no demo services.
TEST_ORGS = frozenset({"ttd", "acn", "bft"})
# Relative size of the big Altinn II owners' portfolios. Every other production org gets a small random
# weight, which gives the heavy tail of DOMAIN.md: a few agencies own most services.
BIG_OWNER_WEIGHTS: dict[str, float] = {
    "skd": 16, "nav": 12, "ssb": 10, "brg": 8, "svv": 6, "mat": 5, "dat": 4, "tad": 4, "udir": 4, "fd": 4,
    "kv": 3, "dibk": 3, "hdir": 3, "udi": 3, "krt": 3, "nve": 2.5, "dsb": 2.5, "lt": 2, "sfd": 2, "mdir": 2,
    "spk": 1.5, "npd": 1.5, "fhi": 1.5, "slv": 1.5, "nkom": 1.5,
}  # fmt: skip

TYPE_WEIGHTS: dict[str, float] = {
    T.FORM_TASK: 55, T.CORRESPONDENCE: 16, T.LINK: 9, T.LOOKUP: 6, T.BROKER: 5, T.COLLABORATION: 4,
    T.DELEGATION_SCHEME: 3, T.CONSENT: 2,
}  # fmt: skip
# Owners whose portfolios lean to one kind of service (SSB: statistics forms; NAV: messages and broker).
OWNER_TYPE_BIAS: dict[str, dict[str, float]] = {
    "ssb": {T.FORM_TASK: 4},
    "skd": {T.CORRESPONDENCE: 1.5, T.DELEGATION_SCHEME: 2},
    "nav": {T.CORRESPONDENCE: 1.8, T.BROKER: 2},
    "brg": {T.LOOKUP: 2.5, T.CORRESPONDENCE: 1.5},
}
# Log-shift of the yearly volume by type.
TYPE_VOLUME_SHIFT: dict[str, float] = {T.CORRESPONDENCE: 1.0, T.BROKER: 0.3, T.LINK: -0.5, T.DELEGATION_SCHEME: -1.0}
# Where the portfolio stands today ("mid-programme"); each owner's maturity tilts it.
STATUS_WEIGHTS: dict[str, float] = {
    S.NOT_STARTED: 14, S.ANALYSIS: 10, S.DEVELOPMENT: 13, S.TESTING: 8, S.IN_PRODUCTION: 30,
    S.ALTINN2_CLOSED: 10, S.DECOMMISSIONED: 5, S.REIMPLEMENTED_ELSEWHERE: 4,
}  # fmt: skip
STATUS_LEVEL: dict[str, float] = {
    **{s: float(i) for i, s in enumerate(FORWARD_ORDER)},
    **dict.fromkeys(TERMINAL_OUTCOMES, 2.5),
}
# Typical days spent before each step (lognormal around these means), used to space the history.
STEP_GAP_DAYS: dict[str, float] = {
    S.ANALYSIS: 20, S.DEVELOPMENT: 35, S.TESTING: 50, S.IN_PRODUCTION: 25, S.ALTINN2_CLOSED: 40,
    S.DECOMMISSIONED: 30, S.REIMPLEMENTED_ELSEWHERE: 30,
}  # fmt: skip
# What a service of each type needs from the platform: (capability key, probability, share of hard edges).
CAPABILITY_NEEDS: dict[str, list[tuple[str, float, float]]] = {
    T.FORM_TASK: [
        ("prefill", 0.40, 0.5), ("pdf-receipts", 0.30, 0.3), ("notifications", 0.30, 0.4),
        ("access-packages", 0.28, 0.7), ("system-users", 0.22, 0.8), ("sub-forms", 0.18, 0.9),
        ("eformidling", 0.12, 0.8), ("payment", 0.08, 0.95), ("parallel-signing", 0.07, 0.95),
        ("maskinporten", 0.08, 0.8), ("dialogporten", 0.08, 0.5), ("user-controlled-signing", 0.04, 0.95),
        ("instance-delegation", 0.04, 0.8), ("advanced-services", 0.02, 1.0),
    ],
    T.CORRESPONDENCE: [
        ("correspondence", 1.0, 1.0), ("notifications", 0.5, 0.6), ("dialogporten", 0.3, 0.5),
        ("maskinporten", 0.3, 0.8), ("eformidling", 0.1, 0.7),
    ],
    T.LINK: [("generic-access-resources", 1.0, 1.0), ("access-packages", 0.35, 0.7)],
    T.LOOKUP: [("prefill", 0.3, 0.5), ("maskinporten", 0.3, 0.8), ("access-packages", 0.2, 0.7), ("system-users", 0.15, 0.8)],
    T.BROKER: [("broker", 1.0, 1.0), ("maskinporten", 0.5, 0.9), ("system-users", 0.2, 0.8), ("eformidling", 0.1, 0.6)],
    T.COLLABORATION: [("multi-app", 1.0, 1.0), ("notifications", 0.3, 0.4), ("instance-delegation", 0.25, 0.8), ("parallel-signing", 0.2, 0.9)],
    T.CONSENT: [("consent", 1.0, 1.0), ("maskinporten", 0.4, 0.8)],
    T.DELEGATION_SCHEME: [("maskinporten", 1.0, 1.0), ("access-packages", 0.4, 0.7)],
}  # fmt: skip

# Platform capabilities (DOMAIN.md). Dates are absolute where Digdir published them and otherwise days
# relative to today, so there is always something delivered recently and something still to come. A
# capability counts as delivered only if its delivery date is before today; otherwise it has the
# pending status given here.
CapabilityDate = datetime.date | int | None
CAPABILITIES: list[tuple[str, str, str, str, str, CapabilityDate, CapabilityDate]] = [
    # (key, name_nb, name_en, description, pending status, planned, delivered)
    ("payment", "Betaling", "Payment", "Betaling i skjema før innsending.", CapabilityStatus.IN_PROGRESS,
     datetime.date(2024, 6, 30), datetime.date(2024, 6, 18)),
    ("parallel-signing", "Parallellsignering", "Parallel signing", "Flere signerer samme instans.",
     CapabilityStatus.IN_PROGRESS, datetime.date(2024, 9, 30), datetime.date(2024, 11, 12)),
    ("user-controlled-signing", "Brukerstyrt signering", "User-controlled signing",
     "Innsender velger selv hvem som skal signere.", CapabilityStatus.IN_PROGRESS,
     datetime.date(2024, 9, 30), datetime.date(2025, 3, 4)),
    ("multi-app", "Samhandlingstjenester og multi-app", "Collaboration services / multi-app",
     "Flerstegs samhandling mellom parter og apper.", CapabilityStatus.IN_PROGRESS,
     datetime.date(2024, 6, 30), datetime.date(2024, 8, 27)),
    ("generic-access-resources", "Lenketjenester som generiske tilgangsressurser",
     "Link services as generic access resources", "Lenketjenester importeres til ressursregisteret.",
     CapabilityStatus.IN_PROGRESS, datetime.date(2024, 6, 30), datetime.date(2024, 6, 25)),
    ("broker", "Formidling (Altinn 3 Broker)", "Broker (Altinn 3 Broker)",
     "Filoverføring med overgangsbro fra Altinn II.", CapabilityStatus.IN_PROGRESS,
     datetime.date(2024, 6, 30), datetime.date(2024, 10, 1)),
    ("correspondence", "Melding (Altinn 3 Correspondence)", "Correspondence (Altinn 3 Correspondence)",
     "Meldingstjenester reetableres i Altinn 3 Melding.", CapabilityStatus.IN_PROGRESS,
     datetime.date(2024, 9, 30), datetime.date(2025, 1, 14)),
    ("consent", "Samtykke", "Consent", "Samtykketjenester reetableres med samtykkene beholdt.",
     CapabilityStatus.IN_PROGRESS, datetime.date(2025, 9, 30), -110),
    ("advanced-services", "Avanserte tjenester", "Advanced services", "Behov som ikke dekkes av standardappene.",
     CapabilityStatus.UNDER_REVIEW, None, None),
    ("sub-forms", "Underskjema og skjemasett", "Sub-forms and form sets", "Underskjema og vedlegg i én innsending.",
     CapabilityStatus.IN_PROGRESS, -270, -240),
    ("prefill", "Preutfylling fra folkeregisteret og enhetsregisteret",
     "Prefill from the population and entity registers", "Data hentes inn før brukeren fyller ut.",
     CapabilityStatus.IN_PROGRESS, datetime.date(2022, 3, 31), datetime.date(2022, 3, 1)),
    ("eformidling", "eFormidling og Fiks Arkiv", "eFormidling / Fiks Arkiv integration",
     "Mottak til arkiv via eFormidling eller Fiks Arkiv.", CapabilityStatus.IN_PROGRESS, 45, None),
    ("pdf-receipts", "PDF-kvitteringer", "PDF receipts", "Kvittering som PDF etter innsending.",
     CapabilityStatus.IN_PROGRESS, datetime.date(2023, 6, 30), datetime.date(2023, 5, 10)),
    ("notifications", "Varsling på e-post og SMS", "E-mail and SMS notifications", "Varsling (varsling) av mottakere.",
     CapabilityStatus.IN_PROGRESS, datetime.date(2024, 3, 31), datetime.date(2024, 4, 9)),
    ("maskinporten", "Maskinporten for API", "Maskinporten authentication for APIs",
     "SOAP og virksomhetssertifikat videreføres ikke.", CapabilityStatus.IN_PROGRESS, None, datetime.date(2023, 1, 20)),
    ("system-users", "Systembruker for sluttbrukersystemer", "System users for end-user systems",
     "Sluttbrukersystemer handler på vegne av virksomheten.", CapabilityStatus.IN_PROGRESS, -90, -35),
    ("access-packages", "Tilgangspakker", "Access packages", "Erstatter Altinn II-roller.",
     CapabilityStatus.IN_PROGRESS, 30, None),
    ("instance-delegation", "Instansdelegering", "Instance delegation", "Deleger tilgang til én instans.",
     CapabilityStatus.BACKLOG, 150, None),
    ("dialogporten", "Dialogporten (ny innboks)", "Dialogporten (the new inbox)", "Felles innboks for dialoger.",
     CapabilityStatus.IN_PROGRESS, 75, None),
]  # fmt: skip

# Subjects (nb, en) for names. Big owners have their own; everyone else draws from the general list.
GENERAL_SUBJECTS: list[tuple[str, str]] = [
    ("tilskudd", "grants"), ("avfall", "waste"), ("utslipp til luft", "air emissions"), ("farlig gods", "dangerous goods"),
    ("brannsikkerhet", "fire safety"), ("el-tilsyn", "electrical safety"), ("kraftproduksjon", "power production"),
    ("luftfartøy", "aircraft"), ("droner", "drones"), ("lotteri", "lotteries"), ("stiftelser", "foundations"),
    ("patenter", "patents"), ("varemerker", "trademarks"), ("valg", "elections"), ("personvern", "data protection"),
    ("havner", "ports"), ("los", "pilotage"), ("kulturstøtte", "cultural grants"), ("inkasso", "debt collection"),
    ("revisjon", "auditing"), ("forsikring", "insurance"), ("finansforetak", "financial institutions"),
    ("energimerking", "energy labelling"), ("legemidler", "medicinal products"), ("helsepersonell", "health personnel"),
    ("smittevern", "infection control"), ("petroleumsvirksomhet", "petroleum activities"), ("skipsregister", "ship registry"),
    ("akvakultur", "aquaculture"), ("mineraluttak", "mineral extraction"), ("arbeidsmiljø", "working environment"),
    ("ekomtjenester", "electronic communications"), ("frekvenser", "radio frequencies"), ("vassdrag", "watercourses"),
]  # fmt: skip
OWNER_SUBJECTS: dict[str, list[tuple[str, str]]] = {
    "skd": [("merverdiavgift", "VAT"), ("formue og inntekt", "income and wealth"), ("arbeidsgiveravgift", "employer's contributions"),
            ("aksjonærer", "shareholders"), ("særavgifter", "excise duties"), ("arv og gave", "inheritance and gifts"),
            ("forskuddsskatt", "advance tax"), ("lønn og trekk", "pay and deductions"), ("utleie av bolig", "residential lettings")],
    "nav": [("sykepenger", "sickness benefit"), ("foreldrepenger", "parental benefit"), ("permittering", "lay-offs"),
            ("yrkesskade", "occupational injury"), ("dagpenger", "unemployment benefit"), ("pensjon", "pensions"),
            ("inntektsmelding", "income reports"), ("refusjon", "refunds"), ("arbeidsforhold", "employment")],
    "brg": [("årsregnskap", "annual accounts"), ("reelle rettighetshavere", "beneficial owners"), ("panterett", "liens"),
            ("foretak", "enterprises"), ("frivillige organisasjoner", "voluntary organisations"), ("konkurs", "bankruptcy")],
    "ssb": [("omsetning", "turnover"), ("lønnsstatistikk", "wage statistics"), ("investeringer", "investments"),
            ("energibruk", "energy use"), ("utenrikshandel", "foreign trade"), ("lagerbeholdning", "inventories"),
            ("jordbruk", "agriculture"), ("overnatting", "accommodation"), ("FoU", "R&D")],
    "svv": [("kjøretøy", "vehicles"), ("førerkort", "driving licences"), ("løyve for persontransport", "passenger transport licences"),
            ("vegtrafikk", "road traffic"), ("kjøretøykontroll", "roadworthiness tests"), ("trafikkskoler", "driving schools")],
    "mat": [("import av næringsmidler", "food imports"), ("dyrehelse", "animal health"), ("plantehelse", "plant health"),
            ("dyrevelferd", "animal welfare"), ("mattrygghet", "food safety")],
    "dat": [("arbeidsmiljø", "working environment"), ("ulykker", "accidents"), ("bemanningsforetak", "staffing agencies"),
            ("arbeidstid", "working hours")],
    "tad": [("tolldeklarasjon", "customs declarations"), ("tollkreditt", "customs credit"), ("grensepassering", "border crossing")],
    "udir": [("skoleresultater", "school results"), ("barnehager", "kindergartens"), ("fagprøver", "trade certificates")],
    "udi": [("arbeidstillatelse", "work permits"), ("oppholdstillatelse", "residence permits"), ("visum", "visas")],
    "fd": [("fiskefangst", "fish catches"), ("fiskefartøy", "fishing vessels"), ("akvakultur", "aquaculture")],
    "kv": [("eiendom", "property"), ("matrikkelen", "the cadastre"), ("tinglysing", "land registration")],
    "dibk": [("byggesak", "building applications"), ("ansvarsrett", "liability rights"), ("byggevarer", "building products")],
    "hdir": [("helsepersonell", "health personnel"), ("legemidler", "medicinal products"), ("helseregistre", "health registers")],
}  # fmt: skip
NAME_TEMPLATES: dict[str, list[tuple[str, str]]] = {
    T.FORM_TASK: [("Søknad om {nb}", "Application for {en}"), ("Melding om {nb}", "Notification of {en}"),
                  ("Rapportering av {nb}", "Reporting of {en}"), ("Egenerklæring om {nb}", "Self-declaration on {en}"),
                  ("Registrering av {nb}", "Registration of {en}"), ("Endringsmelding for {nb}", "Change notice for {en}"),
                  ("Oppgave over {nb}", "Statement of {en}"), ("Skjema for {nb}", "Form for {en}")],
    T.CORRESPONDENCE: [("Vedtak om {nb}", "Decision on {en}"), ("Varsel om {nb}", "Notice of {en}"),
                       ("Brev om {nb}", "Letter about {en}"), ("Kvittering for {nb}", "Receipt for {en}")],
    T.LOOKUP: [("Innsyn i {nb}", "Access to {en}"), ("Oppslag: {nb}", "Lookup: {en}")],
    T.LINK: [("Lenke til {nb}", "Link to {en}"), ("Tilgang til {nb}", "Access to {en} (link)")],
    T.BROKER: [("Formidling av {nb}", "Transfer of {en}"), ("Filoverføring: {nb}", "File transfer: {en}")],
    T.COLLABORATION: [("Samhandling om {nb}", "Collaboration on {en}"), ("Felles søknad om {nb}", "Joint application for {en}")],
    T.CONSENT: [("Samtykke til deling av {nb}", "Consent to share {en}")],
    T.DELEGATION_SCHEME: [("API-tilgang: {nb}", "API access: {en}")],
}  # fmt: skip
OWNER_TEMPLATES: dict[str, list[tuple[str, str]]] = {
    "skd": [("Skattemelding for {nb}", "Tax return for {en}")],
    "ssb": [("Statistikkoppgave: {nb}", "Statistical survey: {en}"), ("Kvartalsstatistikk for {nb}", "Quarterly statistics on {en}")],
}  # fmt: skip
QUALIFIERS: list[tuple[str, str]] = [
    (" – næringsdrivende", " – businesses"), (" for enkeltpersonforetak", " for sole proprietorships"),
    (" for kommuner", " for municipalities"), (" for frivillige lag", " for voluntary associations"),
    (" – utenlandske foretak", " – foreign enterprises"),
]  # fmt: skip
FIRST_NAMES = ["Kari", "Ola", "Ingrid", "Lars", "Nora", "Jonas", "Emma", "Henrik", "Sofie", "Magnus", "Ida", "Sindre",
               "Marte", "Eirik", "Hanne", "Trond", "Silje", "Anders", "Ragnhild", "Øystein", "Åse", "Bjørn", "Linn",
               "Per", "Tone", "Kristian", "Mona", "Espen", "Randi", "Vegard"]  # fmt: skip
LAST_NAMES = ["Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Jensen",
              "Karlsen", "Johnsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen", "Dahl", "Jørgensen", "Halvorsen",
              "Lund", "Sørensen", "Moen", "Gundersen", "Iversen", "Strand", "Solberg", "Bakken", "Lie", "Aas"]  # fmt: skip
NOTES = ["Integrasjon: nettjeneste (SOAP) – må over på REST med Maskinporten.", "Integrasjon: SFTP.",
         "Integrasjon: DownloadQueue hos mottaker.", "Kanal: kun portal.", "Kanal: kun sluttbrukersystemer.",
         "Kanal: portal og sluttbrukersystemer.", "Bruker underskjema.", "Mangler mottakssystem hos etaten.",
         "Mangler kapasitet hos tjenesteeier i første halvår.", "Høy sesongtopp i april.",
         "Avklaring med leverandør av fagsystem pågår."]  # fmt: skip
STEP_COMMENTS: dict[str, list[str]] = {
    S.ANALYSIS: ["Analyse startet", "Kartlegging av tjenesten startet", "Krav under avklaring med tjenesteeier"],
    S.DEVELOPMENT: ["Krav og design avklart", "Utvikling startet i Altinn Studio", "Datamodell og layout under arbeid"],
    S.TESTING: ["Klar for test i TT02", "Sendt til godkjenning i TT02", "Sikkerhetsinnstillinger satt, test startet"],
    S.IN_PRODUCTION: [
        "Verifisert i produksjon av tjenesteeier",
        "Produksatt i Altinn 3",
        "Sikkerhet validert, i produksjon",
    ],
    S.ALTINN2_CLOSED: ["Altinn II-utgaven stengt", "Sluttrapport levert, Altinn II-utgaven stengt"],
    S.DECOMMISSIONED: ["Avvikles – lite brukt", "Erstattet av nyere utgave", "Avvikles etter vedtak hos tjenesteeier"],
    S.REIMPLEMENTED_ELSEWHERE: ["Reimplementeres på etatens egen plattform", "Flyttes til etatens egen løsning"],
}
REGRESSION_COMMENTS = ["Feil funnet i TT02, tilbake til utvikling", "Tjenesteeier avviste testen – endringer i skjema"]
SERVICE_EDGE_NOTES = ["", "", "Bruker data fra denne tjenesten", "Felles datamodell", "Kvittering sendes videre"]


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
    from .importers import orgs_import  # the importer owns the org-list rules (MOD11, URLs, e-mail)

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

    from .tasks import recompute_portfolio_request

    recompute_portfolio_request()
    return SeedResult(len(ids), len(plan.dependencies), len(history), len(owner_ids), time.monotonic() - started)


def demo_snapshots_backfill(*, today: datetime.date) -> int:
    """Replay the seeded history into one progress snapshot per day of the window, so burn-up charts and
    week-on-week figures have a past. Returns the number of snapshot rows written."""
    from .services import progress_snapshot_backfill

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
