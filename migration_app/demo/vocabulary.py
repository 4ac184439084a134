"""The demo's constants, weights, word lists and tables: data only, no logic (see ``migration_app.demo``)."""

from __future__ import annotations

import datetime
from pathlib import Path

from ..choices import (
    CapabilityStatus,
)
from ..choices import MigrationStatus as S
from ..choices import ServiceType as T
from ..engine.lifecycle import FORWARD_ORDER, TERMINAL_OUTCOMES

# The app's own copy of Altinn's organisation list, so the demo works in a clean clone.
ORGS_FILE = Path(__file__).resolve().parent.parent / "data" / "altinn-orgs.json"
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
