"""Weekly report delivery: headers, exactly once per recipient and week (also under concurrent
triggers), retry after an SMTP failure, a crash after the SMTP server accepted, catch-up later in the
week, the management command and the beat schedule."""

from __future__ import annotations

import datetime
import threading
from email.utils import format_datetime
from smtplib import SMTPServerDisconnected

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings
from django.core import mail
from django.core.mail.backends import locmem
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import override_settings

from migration_app import emails, tasks
from migration_app.models import Membership, ReportPreference, WeeklyReportDelivery, WeeklyReportDigest
from migration_app.reports import weekly_report
from migration_app.selectors.weekly_reports import weekly_report_recipients
from migration_app.services.weekly_reports import (
    WEEKLY_CLAIM_TIMEOUT,
    WEEKLY_MAX_ATTEMPTS,
    DeliveryOutcome,
    weekly_report_claim,
    weekly_report_deliver,
    weekly_report_digests,
    weekly_report_mark_failed,
    weekly_report_mark_sent,
)
from tests.conftest import require_service
from tests.factories import FAST_HASHER, MONDAY_MORNING, SITE, WEEK, ServiceOwnerFactory, build_week
from tracker.celery import app

RECIPIENTS = {"kari", "ola", "siri", "per", "ingrid"}  # not: nomail (no address), optout (opted out)


class FlakyBackend(locmem.EmailBackend):
    """The locmem outbox behind an SMTP server that drops the connection ``failures`` times first."""

    failures = 0

    def send_messages(self, messages):
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHER


@pytest.fixture
def week(db):
    with time_machine.travel(MONDAY_MORNING, tick=False), override_settings(SITE_URL=SITE):
        yield build_week()


@pytest.fixture
def queued(monkeypatch):
    """Deliveries the fan-out queues run in-process with ``.apply()``, as a worker would run them
    (retries included; a failed delivery does not fail the fan-out that queued it)."""
    calls = []

    def apply_async(args, **options):
        calls.append(tuple(args))
        return tasks.weekly_report_deliver.apply(args=args, throw=False)

    monkeypatch.setattr(tasks.weekly_report_deliver, "apply_async", apply_async)
    # Celery re-applies an eager retry with the app's propagate setting; a worker would not raise.
    # (The app reads Django settings with the CELERY_ namespace, so the override uses that key.)
    propagates = app.conf.task_eager_propagates
    app.conf.update(CELERY_TASK_EAGER_PROPAGATES=False)
    yield calls
    app.conf.update(CELERY_TASK_EAGER_PROPAGATES=propagates)


def outbox_by_recipient() -> dict[str, list]:
    by: dict[str, list] = {}
    for message in mail.outbox:
        by.setdefault(message.to[0].split("@")[0], []).append(message)
    return by


# --- The message ---------------------------------------------------------------------------------------


def test_the_message_has_both_parts_a_stable_message_id_and_unsubscribe_headers(week):
    kari = week.users["kari"]
    assert weekly_report_deliver(user_id=kari.pk, iso_week="2026-W48") == DeliveryOutcome.SENT
    (message,) = mail.outbox
    ledger = WeeklyReportDelivery.objects.get(recipient=kari, iso_week="2026-W48")
    assert message.to == ["kari@skd.example"]
    assert message.subject == "Uke 48: Skatteetaten, 2 av 7 tjenester ferdige (+1)"
    assert message.extra_headers["Message-ID"] == f"<weekly-2026-W48-u{kari.pk}@tracker.tracker.example.no>"
    assert message.extra_headers["Message-ID"] == ledger.message_id
    assert message.extra_headers["Date"] == format_datetime(MONDAY_MORNING) == "Mon, 30 Nov 2026 07:00:00 +0100"
    unsubscribe = message.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{SITE}/reports/unsubscribe/") and unsubscribe.endswith("/>")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert unsubscribe[1:-1] in message.body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html" and unsubscribe[1:-1] in html
    assert ledger.status == "sent" and ledger.attempts == 1 and ledger.sent_at == MONDAY_MORNING
    rendered = message.message().as_bytes()
    assert b"Message-ID: <weekly-2026-W48-u" in rendered


def test_rendering_twice_gives_the_same_content(week):
    kari = week.users["kari"]
    weekly_report_deliver(user_id=kari.pk, iso_week="2026-W48")
    (recipient,) = weekly_report_recipients(user_ids=[kari.pk])
    digests = weekly_report_digests(week=WEEK, owner_ids=recipient.owner_ids, programme=False)
    again = emails.weekly_report_render(weekly_report(recipient, WEEK, programme=None, owners=digests.owners))
    assert again.content_hash == WeeklyReportDelivery.objects.get(recipient=kari).content_hash


# --- Exactly once --------------------------------------------------------------------------------------


def test_the_trigger_fired_five_times_sends_one_message_per_recipient(week, queued):
    for _ in range(5):
        tasks.weekly_reports_fan_out.apply(throw=True)
    by = outbox_by_recipient()
    assert set(by) == RECIPIENTS
    assert all(len(messages) == 1 for messages in by.values())
    assert len(queued) == len(RECIPIENTS)  # later runs found nothing left to queue
    assert set(WeeklyReportDelivery.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_the_claim_is_a_compare_and_set(week):
    kari = week.users["kari"].pk
    first = weekly_report_claim(recipient_id=kari, iso_week="2026-W48", kind="owner")
    assert first is not None and first.attempts == 1
    # While the first delivery holds a live claim, nobody else may send.
    assert weekly_report_claim(recipient_id=kari, iso_week="2026-W48", kind="owner") is None
    # A claim older than the timeout belongs to a delivery that died: it may be taken over.
    later = MONDAY_MORNING + WEEKLY_CLAIM_TIMEOUT + datetime.timedelta(seconds=1)
    second = weekly_report_claim(recipient_id=kari, iso_week="2026-W48", kind="owner", now=later)
    assert second is not None and second.attempts == 2 and second.message_id == first.message_id
    # The first attempt lost its claim: it can neither mark the row sent nor failed.
    assert not weekly_report_mark_sent(delivery=first, content_hash="x")
    assert not weekly_report_mark_failed(delivery=first, error="x")
    assert weekly_report_mark_sent(delivery=second, content_hash="y")
    assert weekly_report_claim(recipient_id=kari, iso_week="2026-W48", kind="owner", now=later) is None
    # Another week is another row.
    assert weekly_report_claim(recipient_id=kari, iso_week="2026-W49", kind="owner") is not None


def test_a_failed_delivery_is_retried_until_the_attempt_limit(week):
    ola = week.users["ola"].pk
    for attempt in range(1, WEEKLY_MAX_ATTEMPTS + 1):
        claim = weekly_report_claim(recipient_id=ola, iso_week="2026-W48", kind="owner")
        assert claim is not None and claim.attempts == attempt
        assert weekly_report_mark_failed(delivery=claim, error="SMTPServerDisconnected")
    assert weekly_report_claim(recipient_id=ola, iso_week="2026-W48", kind="owner") is None
    assert weekly_report_deliver(user_id=ola, iso_week="2026-W48") == DeliveryOutcome.GAVE_UP
    assert mail.outbox == []


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_triggers_on_postgresql_send_one_message_per_recipient(queued):
    require_service("PostgreSQL", connection.vendor == "postgresql", "SQLite serialises writers; threads need a server")
    with time_machine.travel(MONDAY_MORNING, tick=False), override_settings(SITE_URL=SITE):
        build_week()
        start = threading.Barrier(3)
        errors: list[BaseException] = []

        def trigger() -> None:
            try:
                start.wait(timeout=10)
                tasks.weekly_reports_fan_out.apply(throw=True)
            except BaseException as exc:  # reported below: an assertion in a thread would be lost
                errors.append(exc)
            finally:
                connection.close()

        # Three triggers at once, then two more after them: five in all.
        threads = [threading.Thread(target=trigger) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        tasks.weekly_reports_fan_out.apply(throw=True)
        tasks.weekly_reports_fan_out.apply(throw=True)

    assert errors == []
    by = outbox_by_recipient()
    assert set(by) == RECIPIENTS
    assert {name: len(messages) for name, messages in by.items()} == dict.fromkeys(RECIPIENTS, 1)
    assert set(WeeklyReportDelivery.objects.values_list("status", "attempts")) == {("sent", 1)}
    # The week's digests were built once: one row per organisation and the programme's.
    assert WeeklyReportDigest.objects.filter(iso_week="2026-W48").count() == 4


# --- Failures ------------------------------------------------------------------------------------------


def test_a_delivery_retries_after_an_smtp_failure_and_sends_the_same_message(week, settings):
    settings.EMAIL_BACKEND = "tests.test_emails.FlakyBackend"
    FlakyBackend.failures = 1
    kari = week.users["kari"]
    result = tasks.weekly_report_deliver.apply(args=(kari.pk, "2026-W48"), throw=False)
    assert result.get() == DeliveryOutcome.SENT
    (message,) = mail.outbox
    ledger = WeeklyReportDelivery.objects.get(recipient=kari)
    assert (ledger.status, ledger.attempts, ledger.last_error) == ("sent", 2, "")
    assert message.extra_headers["Message-ID"] == ledger.message_id
    # What was sent is what the first attempt would have sent: the same stored digests, headers and date.
    assert message.extra_headers["Date"] == format_datetime(MONDAY_MORNING)


def test_a_failed_attempt_records_the_error_for_the_admin(week, settings):
    settings.EMAIL_BACKEND = "tests.test_emails.FlakyBackend"
    FlakyBackend.failures = 1
    with pytest.raises(SMTPServerDisconnected):
        weekly_report_deliver(user_id=week.users["kari"].pk, iso_week="2026-W48")
    ledger = WeeklyReportDelivery.objects.get(recipient=week.users["kari"])
    assert ledger.status == "failed" and "SMTPServerDisconnected" in ledger.last_error
    assert weekly_report_deliver(user_id=week.users["kari"].pk, iso_week="2026-W48") == DeliveryOutcome.SENT
    assert len(mail.outbox) == 1


def test_a_crash_between_smtp_acceptance_and_the_ledger_update_gives_one_recognisable_duplicate(week, queued):
    kari = week.users["kari"]

    def killed(**kwargs):
        raise SystemExit("worker killed after the SMTP server accepted")

    with pytest.MonkeyPatch.context() as patch, pytest.raises(SystemExit):
        patch.setattr("migration_app.services.weekly_reports.weekly_report_mark_sent", killed)
        weekly_report_deliver(user_id=kari.pk, iso_week="2026-W48")
    assert WeeklyReportDelivery.objects.get(recipient=kari).status == "claimed"
    # A trigger while the claim is fresh sends nothing to Kari (the claim may belong to a live worker).
    assert weekly_report_deliver(user_id=kari.pk, iso_week="2026-W48") == DeliveryOutcome.IN_PROGRESS
    with time_machine.travel(MONDAY_MORNING + WEEKLY_CLAIM_TIMEOUT + datetime.timedelta(minutes=1), tick=False):
        tasks.weekly_reports_fan_out.apply(throw=True)
        tasks.weekly_reports_fan_out.apply(throw=True)
    first, second = outbox_by_recipient()["kari"]
    # The duplicate is the same message: same Message-ID, Date, subject and both parts.
    for header in ("Message-ID", "Date", "List-Unsubscribe"):
        assert first.extra_headers[header] == second.extra_headers[header]
    assert (first.subject, first.body, first.alternatives) == (second.subject, second.body, second.alternatives)
    ledger = WeeklyReportDelivery.objects.get(recipient=kari)
    assert (ledger.status, ledger.attempts) == ("sent", 2)
    assert all(len(messages) == 1 for name, messages in outbox_by_recipient().items() if name != "kari")


def test_someone_who_opted_out_after_the_fan_out_gets_nothing(week):
    ola = week.users["ola"]
    ReportPreference.objects.filter(user=ola).update(receive_weekly=False)
    assert weekly_report_deliver(user_id=ola.pk, iso_week="2026-W48") == DeliveryOutcome.NOT_A_RECIPIENT
    assert mail.outbox == [] and not WeeklyReportDelivery.objects.exists()


# --- Catch-up ------------------------------------------------------------------------------------------


def test_a_missed_monday_is_caught_up_later_the_same_week(week, queued):
    # Workers were down on Monday: nothing ran. Wednesday's catch-up sends week 48 to everyone.
    with time_machine.travel(datetime.datetime(2026, 12, 2, 10, 30, tzinfo=MONDAY_MORNING.tzinfo), tick=False):
        assert tasks.weekly_reports_fan_out.apply(throw=True).get() == {"week": "2026-W48", "queued": 5}
    assert set(outbox_by_recipient()) == RECIPIENTS
    assert {m.subject.split(":")[0] for m in mail.outbox} <= {"Uke 48", "Week 48"}
    # Thursday's catch-up finds nothing left to send.
    with time_machine.travel(datetime.datetime(2026, 12, 3, 10, 30, tzinfo=MONDAY_MORNING.tzinfo), tick=False):
        assert tasks.weekly_reports_fan_out.apply(throw=True).get() == {"week": "2026-W48", "queued": 0}
    assert len(mail.outbox) == 5
    # The next Monday moves on to week 49.
    with time_machine.travel(datetime.datetime(2026, 12, 7, 7, 0, tzinfo=MONDAY_MORNING.tzinfo), tick=False):
        assert tasks.weekly_reports_fan_out.apply(throw=True).get()["week"] == "2026-W49"


def test_a_report_that_failed_on_monday_goes_out_with_tuesdays_catch_up(week, queued, settings):
    settings.EMAIL_BACKEND = "tests.test_emails.FlakyBackend"
    FlakyBackend.failures = 10**6  # the mail server is down all Monday
    tasks.weekly_reports_fan_out.apply(throw=True)
    assert mail.outbox == []
    assert set(WeeklyReportDelivery.objects.values_list("status", flat=True)) == {"failed"}
    FlakyBackend.failures = 0
    with time_machine.travel(datetime.datetime(2026, 12, 1, 8, 30, tzinfo=MONDAY_MORNING.tzinfo), tick=False):
        tasks.weekly_reports_fan_out.apply(throw=True)
    assert {name: len(m) for name, m in outbox_by_recipient().items()} == dict.fromkeys(RECIPIENTS, 1)
    assert set(WeeklyReportDelivery.objects.values_list("status", flat=True)) == {"sent"}


def test_the_beat_schedule_sends_on_monday_morning_and_catches_up_hourly():
    schedule = settings.CELERY_BEAT_SCHEDULE
    monday, catch_up = schedule["weekly-reports-monday"], schedule["weekly-reports-catch-up"]
    assert monday["task"] == catch_up["task"] == tasks.weekly_reports_fan_out.name
    assert monday["schedule"] == crontab(minute=0, hour=7, day_of_week="mon")
    assert settings.CELERY_TIMEZONE == "Europe/Oslo"
    assert catch_up["schedule"].day_of_week == set(range(7))
    assert monday["options"]["expires"] and catch_up["options"]["expires"] <= 3600
    assert tasks.weekly_report_deliver.name in app.tasks


# --- Queries per delivery ------------------------------------------------------------------------------


@pytest.mark.parametrize("organisations", [1, 3])
def test_a_delivery_takes_the_same_queries_whatever_the_recipients_organisations(
    week, organisations, django_assert_num_queries
):
    kari = week.users["kari"]
    for code in ["org-a", "org-b"][: organisations - 1]:
        Membership.objects.create(user=kari, owner=ServiceOwnerFactory(code=code), role="viewer")
    weekly_report_digests(week=WEEK)  # the fan-out stores the week's digests first
    # The recipient (1) and its memberships (1); the claim: savepoint, insert, release (3); the
    # recipient's digests (1); marking the row sent (1).
    with django_assert_num_queries(7):
        assert weekly_report_deliver(user_id=kari.pk, iso_week="2026-W48") == DeliveryOutcome.SENT
    assert len(mail.outbox[0].subject) > 0


# --- The command ---------------------------------------------------------------------------------------


def test_the_command_sends_once_and_a_second_run_sends_nothing(week, capsys):
    call_command("send_weekly_reports")
    assert len(mail.outbox) == 5
    call_command("send_weekly_reports")
    assert len(mail.outbox) == 5
    assert "nothing to send" in capsys.readouterr().out


def test_the_command_dry_run_sends_and_stores_nothing(week, capsys):
    call_command("send_weekly_reports", "--week", "2026-W48", "--dry-run")
    out = capsys.readouterr().out
    assert "2026-W48 → kari@skd.example (owner, nb): Uke 48: Skatteetaten" in out
    assert "2026-W48 → ingrid@digdir.example (programme, nb)" in out
    assert mail.outbox == []
    assert not WeeklyReportDelivery.objects.exists() and not WeeklyReportDigest.objects.exists()


def test_the_command_sends_every_report_to_one_address_without_touching_the_ledger(week):
    call_command("send_weekly_reports", "--to", "me@digdir.example")
    assert len(mail.outbox) == 5 and {m.to[0] for m in mail.outbox} == {"me@digdir.example"}
    assert len({m.extra_headers["Message-ID"] for m in mail.outbox}) == 5
    assert not any(m.extra_headers["Message-ID"].startswith("<weekly-") for m in mail.outbox)
    assert not WeeklyReportDelivery.objects.exists()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--week", "2026-W49"], "not over yet"),
        (["--week", "48"], "not an ISO week"),
        (["--to", "not-an-address"], "not an e-mail address"),
    ],
)
def test_the_command_refuses_bad_arguments(week, args, error):
    with pytest.raises(CommandError, match=error):
        call_command("send_weekly_reports", *args)


def test_message_ids_name_the_recipient_and_the_week(settings):
    settings.SITE_URL = "https://sporing.digdir.no"
    assert emails.message_id_for(user_id=42, iso_week="2026-W48") == "<weekly-2026-W48-u42@tracker.sporing.digdir.no>"
