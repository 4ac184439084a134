"""Weekly reports: the content of a constructed week (every section, both languages), the privacy
canary, snapshot fallback, the JSON round trip, and a constant number of queries per recipient.

The constructed week is ISO week 48 of 2026 (Monday 23 to Sunday 29 November), reported on Monday
30 November at 07:00 Oslo time, built by ``build_week`` in tests/factories.py.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

import pytest
import time_machine
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import translation

from migration_app import emails
from migration_app.choices import MigrationStatus as S
from migration_app.engine.history import statuses_at
from migration_app.models import (
    Dependency,
    ProgressSnapshot,
    Service,
    WeeklyReportDigest,
)
from migration_app.reports import ReportWeek, from_jsonable, to_jsonable, week_digests
from migration_app.reports.data import OwnerSection, ProgrammeSection
from migration_app.reports.inputs import ChangeRow
from migration_app.selectors.weekly_reports import weekly_report_inputs_load, weekly_report_recipients
from migration_app.services.catalog import service_change_status
from migration_app.services.weekly_reports import weekly_report_digests, weekly_reports_build
from tests.factories import (
    FAST_HASHER,
    MONDAY_MORNING,
    SITE,
    WEEK,
    CapabilityFactory,
    DependencyFactory,
    MembershipFactory,
    ServiceFactory,
    ServiceOwnerFactory,
    UserFactory,
    at,
    build_week,
    make_lead,
)


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHER


@pytest.fixture
def monday():
    with time_machine.travel(MONDAY_MORNING, tick=False):
        yield


@pytest.fixture
def week(db, monday):
    with override_settings(SITE_URL=SITE):
        yield build_week()


def rendered_for(username: str, language: str | None = None):
    """(report, rendered e-mail) for one user, as a delivery would render it (digests stored)."""
    for recipient, report in weekly_reports_build(week=WEEK, store=True):
        if recipient.email.startswith(username + "@"):
            if language:
                report = dataclasses.replace(report, language=language)
            return report, emails.weekly_report_render(report)
    raise AssertionError(f"{username} is not a recipient")


# --- Weeks -------------------------------------------------------------------------------------------


def test_iso_weeks_parse_and_name_their_days():
    week = ReportWeek.parse("2026-W48")
    assert (week.monday, week.sunday, week.report_day) == (
        datetime.date(2026, 11, 23),
        datetime.date(2026, 11, 29),
        datetime.date(2026, 11, 30),
    )
    assert week.previous.label == "2026-W47"
    assert ReportWeek.parse("2027-W01").previous.label == "2026-W53"
    assert ReportWeek.due(datetime.date(2026, 11, 30)) == week  # Monday: the week that just ended
    assert ReportWeek.due(datetime.date(2026, 12, 6)) == week  # ... and all through the next week
    assert ReportWeek.due(datetime.date(2026, 12, 7)).label == "2026-W49"
    for bad in ["2026-48", "2026-W54", "2025-W53", "W48", ""]:
        with pytest.raises(ValueError):
            ReportWeek.parse(bad)


def test_statuses_at_the_end_of_a_day_undo_later_changes():
    changes = [
        ChangeRow(1, at(24), datetime.date(2026, 11, 24), "analysis", "development", ""),
        ChangeRow(1, at(26), datetime.date(2026, 11, 26), "development", "testing", ""),
        ChangeRow(2, at(20), datetime.date(2026, 11, 20), "not_started", "analysis", ""),
    ]
    current = {1: "testing", 2: "analysis", 3: "not_started"}
    assert statuses_at(current, changes, datetime.date(2026, 11, 19)) == {
        1: "analysis",
        2: "not_started",
        3: "not_started",
    }
    assert statuses_at(current, changes, datetime.date(2026, 11, 24)) == {
        1: "development",
        2: "analysis",
        3: "not_started",
    }
    assert statuses_at(current, changes, datetime.date(2026, 11, 29)) == current


# --- Content of the constructed week -----------------------------------------------------------------


def test_owner_report_in_english_has_every_section(week):
    report, mail = rendered_for("kari", language="en")
    s = week.services
    assert mail.subject == "Week 48: Norwegian Tax Administration, 2 of 7 services done (+1)"
    text = mail.text
    # Progress this week against last week: F moved this week, G the week before.
    assert "End of this week: 2 of 7 services done (28.6 %), 13,000 of 1,261,567 yearly volume done (1.0 %)" in text
    assert "End of last week: 1 of 7 (14.3 %), 7,000 of 1,261,567 (0.6 %)" in text
    assert "Done this week: +1 (last week +1), yearly volume +6,000 (last week +7,000)" in text
    # Status changes this week and by whom, with links into the UI.
    assert "Tue 24.11. 10:15 3906/1 Tax return: Development → Testing (TT02) (Kari Nordmann)" in text
    assert "Thu 26.11. 14:00 4005/1 Moved this week: Testing (TT02) → In production on Altinn 3 (Ingrid Lund)" in text
    assert f"<{SITE}/services/{s['A'].pk}/>" in text
    assert "4006/1" not in text.split("Status changes this week")[1].split("Became blocked")[0]  # last week's
    # Became blocked (a new edge) and unblocked (a capability delivered).
    assert "Now blocked: 4003/1 Waits for brg (1 blocker)" in text
    assert "Unblocked: 4001/1 Sub-form user (Ready)" in text
    # What blocks us: the capability with its (passed) date, and the other organisation's service.
    assert "Platform capability Payment, planned ready Oct. 1, 2026 (date passed): 1 of our services waits" in text
    assert "- 5001/1 Register lookup (Brønnøysund Register Centre): 1 of our services waits" in text
    # Whom we block.
    assert "- 3906/1 Tax return" in text.split("Whom we block")[1]
    assert "5002/1 Company form (Brønnøysund Register Centre)" in text.split("Whom we block")[1]
    # Overdue and due soon, counted from the report day (Monday 30 November).
    assert "4002/1 Payment user: Nov. 1, 2026, Development, 29 days overdue" in text
    assert "4004/1 Due soon: Dec. 10, 2026, Testing (TT02), 10 days left" in text
    # The forecast against the deadline (the deadline milestone, 31 May 2026, has passed).
    assert "Late. 5 services are open." in text
    assert "Deadline: May 31, 2026." in text
    # Unsubscribe and preferences.
    assert f"{SITE}/reports/unsubscribe/" in text
    assert f"<{SITE}/reports/preferences/>" in text
    # The HTML part says the same, as tables, with links and nothing a mail client would block.
    html = mail.html
    for fact in ["Tax return", "Kari Nordmann", "Now blocked", "Unblocked", "Payment", "date passed",
                 "Register lookup", "Company form", "29", "Late", f"{SITE}/services/{s['C'].pk}/"]:  # fmt: skip
        assert fact in html, fact
    assert "<script" not in html.lower()
    assert "<style" not in html.lower()
    assert not re.search(r"<img|url\(", html, re.I)
    assert report.kind == "owner" and [o.owner.code for o in report.owners] == ["skd"]


def test_owner_report_in_norwegian(week):
    report, mail = rendered_for("kari")
    assert report.language == "nb"
    assert mail.subject == "Uke 48: Skatteetaten, 2 av 7 tjenester ferdige (+1)"
    text = mail.text
    for fact in [
        "Ukerapport, uke 48",
        "Hei Kari Nordmann,",
        "Framdrift denne uka",
        "Slutten av denne uka: 2 av 7 tjenester ferdige (28,6 %)",
        "Statusendringer denne uka",
        "3906/1 Skattemelding",
        "Nå blokkert: 4003/1 Venter på brg",
        "Frigjort: 4001/1 Bruker av underskjema",
        "Hva som blokkerer oss",
        "Plattformfunksjonalitet Betaling",
        "5001/1 Registeroppslag (Brønnøysundregistrene)",
        "Hvem vi blokkerer",
        "29 dager forsinket",
        "10 dager igjen",
        "Prognose mot fristen",
        "Meld av",
    ]:
        assert fact in text, fact
    assert "Hva som blokkerer oss" in mail.html and "Hvem vi blokkerer" in mail.html


def test_a_member_reads_the_report_in_the_language_they_chose(week):
    report, mail = rendered_for("ola")
    assert report.language == "en"
    assert mail.subject.startswith("Week 48: Norwegian Tax Administration")


def test_programme_report_for_leads(week):
    report, mail = rendered_for("ingrid", language="en")
    assert report.kind == "programme" and report.owners == ()
    assert mail.subject == "Week 48: the programme is 18.2 % done, forecast late (+1)"
    text = mail.text
    assert "End of this week: 2 of 11 services done (18.2 %)" in text
    assert "Status changes: 3" in text  # A, F and Z
    assert "Reached done: 1 (Their yearly volume: 6,000)" in text
    assert "Organisations with changes: 2" in text
    assert "Became blocked: 1" in text and "Became unblocked: 1" in text
    assert "Capabilities delivered this week: Sub-forms." in text
    assert "Organisations furthest behind" in text
    behind = text.split("Organisations furthest behind")[1].split("Top capabilities")[0]
    # Nothing reached done at brg and nav in 26 weeks (no data); skd is late, so it comes first.
    assert behind.index("Norwegian Tax Administration") < behind.index("Brønnøysund Register Centre")
    assert "- Payment (planned ready Oct. 1, 2026): Services held back 1" in text
    assert "4002/1 Payment user (Norwegian Tax Administration): Nov. 1, 2026" in text


def test_sections_are_the_same_data_after_a_json_round_trip(week):
    built = week_digests(weekly_report_inputs_load(week=WEEK, today=datetime.date(2026, 11, 30)))
    for section in built.owners.values():
        assert from_jsonable(OwnerSection, to_jsonable(section)) == section
    assert from_jsonable(ProgrammeSection, to_jsonable(built.programme)) == built.programme


def test_missing_snapshots_are_counted_from_the_history_with_the_same_figures(week):
    with_snapshots = week_digests(weekly_report_inputs_load(week=WEEK, today=datetime.date(2026, 11, 30)))
    ProgressSnapshot.objects.all().delete()
    without = week_digests(weekly_report_inputs_load(week=WEEK, today=datetime.date(2026, 11, 30)))
    skd = week.owners["skd"].pk
    stored, replayed = with_snapshots.owners[skd].progress, without.owners[skd].progress
    assert stored.this_week.from_snapshot and not replayed.this_week.from_snapshot
    for when in ("this_week", "last_week", "week_before"):
        a, b = getattr(stored, when), getattr(replayed, when)
        assert (a.done_count, a.total_count, a.done_volume, a.by_status) == (
            b.done_count,
            b.total_count,
            b.done_volume,
            b.by_status,
        )
    _, mail = rendered_for("kari", language="en")
    assert "(28.6 %)*" in mail.text  # the footnote marks figures counted from history


def test_last_weeks_stored_digest_is_what_blocked_and_unblocked_compare_with(week):
    # Last week's digest said C and D were blocked (say D's edge was added, then deleted, in week 47):
    # this week D is still blocked (nothing new) and C is not listed at all.
    skd = week.owners["skd"]
    s = week.services
    WeeklyReportDigest.objects.create(
        iso_week="2026-W47", scope="programme", data={}, blocked_service_ids=[], built_at=MONDAY_MORNING
    )
    WeeklyReportDigest.objects.create(
        iso_week="2026-W47",
        scope="owner",
        owner=skd,
        data={},
        blocked_service_ids=[s["C"].pk, s["D"].pk, s["B"].pk],
        built_at=MONDAY_MORNING,
    )
    section = weekly_report_digests(week=WEEK, owner_ids=[skd.pk], store=False).owners[skd.pk]
    assert [line.service.key for line in section.became_blocked] == []
    assert [line.service.key for line in section.became_unblocked] == ["4001/1"]


def test_digests_are_built_once_and_reused(week):
    first = weekly_report_digests(week=WEEK, today=datetime.date(2026, 11, 30))
    assert WeeklyReportDigest.objects.filter(iso_week=WEEK.label).count() == 3 + 1  # three owners, the programme
    # Later changes do not alter the week's report: it is read back, not rebuilt.
    service_change_status(service=Service.objects.get(service_code="4004"), to_status=S.IN_PRODUCTION)
    again = weekly_report_digests(week=WEEK, today=datetime.date(2026, 11, 30))
    assert again.owners == first.owners and again.programme == first.programme


def test_an_unfinished_week_is_previewed_but_never_stored(week):
    current = ReportWeek(2026, 49)
    digests = weekly_report_digests(week=current, today=datetime.date(2026, 11, 30))
    assert digests.programme is not None
    assert not WeeklyReportDigest.objects.filter(iso_week=current.label).exists()


# --- Privacy: the canary check -----------------------------------------------------------------------


def _volume_patterns(volume: int) -> list[str]:
    digits = str(volume)
    # 7654321, 7,654,321, 7 654 321 (any separator, including a no-break space)
    return [
        digits,
        r"\D?".join([digits[: len(digits) % 3 or 3], *re.findall(r"\d{3}", digits[len(digits) % 3 or 3 :])]),
    ]


def test_no_recipient_ever_receives_another_organisations_private_details(week):
    """Render every recipient's report in both languages. Private fields (notes, contacts, edition
    names, volumes, who changed what) of another organisation's services never appear. Another
    organisation's service is named (key, name, owner) only when a hard dependency links it to one of
    the recipient's services; project leads read the whole programme but no private fields either."""
    services = list(Service.objects.select_related("owner"))
    edges = list(
        Dependency.objects.filter(depends_on_service__isnull=False).values_list("service_id", "depends_on_service_id")
    )
    recipients = weekly_report_recipients()
    assert {r.email.split("@")[0] for r in recipients} == {"kari", "ola", "siri", "per", "ingrid"}
    for recipient, report in weekly_reports_build(week=WEEK, recipients=recipients, store=True):
        mine = set(recipient.owner_ids)
        linked = {a for a, b in edges if b in {x.pk for x in services if x.owner_id in mine}} | {
            b for a, b in edges if a in {x.pk for x in services if x.owner_id in mine}
        }
        for language in ("nb", "en"):
            mail = emails.weekly_report_render(dataclasses.replace(report, language=language))
            whole = "\n".join([mail.subject, mail.text, mail.html])
            assert "CANARY-" not in whole and "canary-" not in whole, recipient.email
            if week.owners["brg"].pk not in mine:
                assert "Brgperson" not in whole, recipient.email  # who changed brg's services
            for service in services:
                if service.owner_id in mine:
                    continue
                # The volumes of 1,000,000 and more are canaries (no total can equal one by chance).
                if service.yearly_volume >= 1_000_000:
                    with translation.override(language):
                        formatted = intcomma(service.yearly_volume)
                    for pattern in [*_volume_patterns(service.yearly_volume), re.escape(formatted)]:
                        assert not re.search(pattern, whole), (recipient.email, service.service_code)
                if recipient.is_lead or service.pk in linked:
                    continue
                assert f"{service.service_code}/1" not in whole, (recipient.email, service.service_code)
                assert service.name_en not in whole and service.name_nb not in whole, (recipient.email, service)
    # And the allowed cross-organisation names do appear where they should.
    _, kari = rendered_for("kari", language="en")
    assert "5001/1 Register lookup" in kari.text and "5002/1 Company form" in kari.text
    _, siri = rendered_for("siri", language="en")
    assert "3906/1 Tax return" in siri.text  # brg's Y waits for skd's A
    assert "Kari Nordmann" not in siri.text  # ... but not who changed it
    _, per = rendered_for("per", language="en")
    assert "3906/1" not in per.text and "Skatteetaten" not in per.text


# --- Speed: a constant number of queries per recipient -----------------------------------------------


def _organisations(n: int) -> None:
    for i in range(n):
        owner = ServiceOwnerFactory(code=f"org{i}")
        member = UserFactory(username=f"member{i}", email=f"member{i}@example.no")
        MembershipFactory(user=member, owner=owner, role="viewer")
        for j in range(3):
            service = ServiceFactory(owner=owner, status=S.ANALYSIS, target_date=datetime.date(2026, 11, 1 + j))
            service_change_status(service=service, to_status=S.DEVELOPMENT, at=at(24 + j))
        DependencyFactory(service=service, depends_on_capability=CapabilityFactory(key="payment"))


@pytest.mark.parametrize("organisations", [2, 5])
def test_building_and_rendering_every_report_takes_the_same_queries_for_2_and_5_organisations(
    db, monday, organisations, django_assert_num_queries
):
    _organisations(organisations)
    make_lead()
    # Recipients: users with lead and member flags and preferences (1), their memberships (1).
    # Digests: the stored ones for the week (1), then the loader: stored forecast (1), last week's
    # digests (1), owners (1), services (1), capabilities (1), edges (1), status changes with who
    # made them (1), snapshots (1), the deadline milestone (1). Rendering: none.
    with django_assert_num_queries(12):
        pairs = weekly_reports_build(week=WEEK, today=datetime.date(2026, 11, 30))
        for _recipient, report in pairs:
            emails.weekly_report_render(report)
    assert len(pairs) == organisations + 1


@pytest.mark.parametrize("organisations", [2, 5])
def test_storing_the_weeks_digests_takes_the_same_queries_for_2_and_5_organisations(db, monday, organisations):
    _organisations(organisations)
    with CaptureQueriesContext(connection) as queries:
        weekly_report_digests(week=WEEK, today=datetime.date(2026, 11, 30))
    # The 10 reads above, the insert (one statement: under 500 rows), its savepoint pair, the re-read.
    assert len(queries) == 14, [q["sql"][:80] for q in queries]
