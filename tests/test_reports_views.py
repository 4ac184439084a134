"""The weekly report's pages: unsubscribe by signed link (no login, one-click POST), preferences,
and the leads' preview of any recipient's report for any week."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.test.utils import override_settings

from migration_app import emails
from migration_app.models import ReportPreference, WeeklyReportDelivery, WeeklyReportDigest
from migration_app.selectors.weekly_reports import weekly_report_recipients
from migration_app.services.weekly_reports import DeliveryOutcome, weekly_report_deliver
from tests.factories import FAST_HASHER, MONDAY_MORNING, SITE, build_week


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHER


@pytest.fixture
def week(db):
    with time_machine.travel(MONDAY_MORNING, tick=False), override_settings(SITE_URL=SITE):
        yield build_week()


def unsubscribe_path(message) -> str:
    url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert url.startswith(SITE)
    return url.removeprefix(SITE)


# --- Unsubscribe ---------------------------------------------------------------------------------------


def test_the_unsubscribe_link_asks_first_then_unsubscribes_without_login(week):
    kari = week.users["kari"]
    weekly_report_deliver(user_id=kari.pk, iso_week="2026-W48")
    path = unsubscribe_path(mail.outbox[0])
    assert path in mail.outbox[0].body  # the same link in the text part
    client = Client(enforce_csrf_checks=True)
    # Opening the link (or a mail scanner fetching it) only asks.
    page = client.get(path)
    assert page.status_code == 200 and b'<form method="post">' in page.content
    assert not ReportPreference.objects.filter(user=kari, receive_weekly=False).exists()
    # Confirming unsubscribes, with no login and no CSRF token: the signature is the credential.
    done = client.post(path)
    assert done.status_code == 200
    assert ReportPreference.objects.get(user=kari).receive_weekly is False
    assert kari.pk not in [r.user_id for r in weekly_report_recipients()]
    # Idempotent.
    assert client.post(path).status_code == 200


def test_one_click_unsubscribe_from_the_mail_client(week):
    """RFC 8058: the client POSTs "List-Unsubscribe=One-Click" to the List-Unsubscribe URL."""
    ola = week.users["ola"]
    weekly_report_deliver(user_id=ola.pk, iso_week="2026-W48")
    response = Client(enforce_csrf_checks=True).post(
        unsubscribe_path(mail.outbox[0]),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    pref = ReportPreference.objects.get(user=ola)
    assert pref.receive_weekly is False and pref.language == "en"  # the language choice is kept
    # Next week nothing goes to Ola.
    assert weekly_report_deliver(user_id=ola.pk, iso_week="2026-W49") == DeliveryOutcome.NOT_A_RECIPIENT


@pytest.mark.parametrize("mangle", [lambda t: t[:-3] + "abc", lambda t: t[: len(t) // 2], lambda t: "x" + t])
def test_a_forged_or_truncated_link_changes_nothing(week, client, mangle):
    token = emails.unsubscribe_token(week.users["kari"].pk)
    response = client.post(f"/reports/unsubscribe/{mangle(token)}/")
    assert response.status_code == 400
    assert not ReportPreference.objects.filter(user=week.users["kari"]).exists()


def test_a_link_for_someone_else_cannot_be_made_from_mine(week):
    mine = emails.unsubscribe_token(week.users["kari"].pk)
    forged = re.sub(r"\d+", str(week.users["ola"].pk), mine, count=1)
    assert emails.unsubscribe_token_user_id(forged) is None
    assert emails.unsubscribe_token_user_id(mine) == week.users["kari"].pk


# --- Preferences ---------------------------------------------------------------------------------------


def test_preferences_need_a_login(client, db):
    response = client.get("/reports/preferences/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_preferences_turn_the_report_off_and_on_and_change_its_language(week, client):
    kari = week.users["kari"]
    client.force_login(kari)
    page = client.get("/reports/preferences/")
    assert page.status_code == 200
    assert b'name="receive_weekly"' in page.content and b" checked" in page.content
    response = client.post("/reports/preferences/", {"language": "en"})  # unchecked box: off
    assert response.status_code == 302
    assert (
        ReportPreference.objects.get(user=kari).receive_weekly,
        ReportPreference.objects.get(user=kari).language,
    ) == (
        False,
        "en",
    )
    assert weekly_report_deliver(user_id=kari.pk, iso_week="2026-W48") == DeliveryOutcome.NOT_A_RECIPIENT
    client.post("/reports/preferences/", {"receive_weekly": "on", "language": "en"})
    assert weekly_report_deliver(user_id=kari.pk, iso_week="2026-W48") == DeliveryOutcome.SENT
    assert mail.outbox[0].subject.startswith("Week 48: Norwegian Tax Administration")


def test_preferences_refuse_an_unknown_language(week, client):
    client.force_login(week.users["kari"])
    response = client.post("/reports/preferences/", {"receive_weekly": "on", "language": "sv"})
    assert response.status_code == 200
    assert not ReportPreference.objects.filter(user=week.users["kari"]).exists()


def test_the_nav_links_to_the_preferences(week, client):
    client.force_login(week.users["kari"])
    assert b'href="/reports/preferences/"' in client.get("/reports/preferences/").content


# --- Preview -------------------------------------------------------------------------------------------


def test_leads_preview_any_recipients_report_for_any_week(week, client):
    client.force_login(week.users["lead"])
    kari = week.users["kari"]
    response = client.get("/reports/preview/", {"user": kari.pk, "week": "2026-W48"})
    assert response.status_code == 200
    rendered = response.context["rendered"]
    assert rendered.subject == "Uke 48: Skatteetaten, 2 av 7 tjenester ferdige (+1)"
    frame = re.search(rb'<iframe[^>]*\bsandbox\s[^>]*src="([^"]+)"', response.content)
    assert frame, "the e-mail's HTML is shown in a sandboxed frame"
    html = client.get(frame.group(1).decode().replace("&amp;", "&"))
    assert html.status_code == 200 and html.content.decode() == rendered.html
    # A past week, built from the history and not stored.
    older = client.get("/reports/preview/", {"user": kari.pk, "week": "2026-W46"})
    assert older.status_code == 200 and older.context["rendered"].subject.startswith("Uke 46: Skatteetaten")
    assert not WeeklyReportDigest.objects.exists() and not WeeklyReportDelivery.objects.exists()
    assert mail.outbox == []


def test_the_preview_of_a_sent_week_shows_what_was_sent(week, client):
    kari = week.users["kari"]
    weekly_report_deliver(user_id=kari.pk, iso_week="2026-W48")
    client.force_login(week.users["lead"])
    response = client.get("/reports/preview/", {"user": kari.pk, "week": "2026-W48"})
    assert response.context["rendered"].html == mail.outbox[0].alternatives[0][0]


def test_a_bad_week_falls_back_to_the_due_week_with_a_message(week, client):
    client.force_login(week.users["lead"])
    response = client.get("/reports/preview/", {"week": "2026-48"})
    assert response.status_code == 200 and response.context["week"].label == "2026-W48"
    assert "er ikke en ISO-uke" in str(response.context["error"])  # the lead has not chosen English
    future = client.get("/reports/preview/", {"week": "2027-W10"})
    assert future.context["week"].label == "2026-W48" and future.context["error"]


def test_members_may_not_preview_other_peoples_reports(week, client):
    client.force_login(week.users["kari"])
    assert client.get("/reports/preview/", {"user": week.users["siri"].pk}).status_code == 403
