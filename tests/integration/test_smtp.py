"""The weekly reports through a real SMTP server (aiosmtpd on 127.0.0.1, a free port, in a thread).

The messages are parsed as a mail client would: both parts, the headers, the encoded subject. The
server needs nothing installed beyond the aiosmtpd package, so this runs wherever it is importable
(and fails, rather than skips, without it under REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import email
import importlib.util
import socket
from email import policy
from email.message import EmailMessage

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.test.utils import override_settings

from migration_app.models import ReportPreference, WeeklyReportDelivery
from tests.conftest import require_service
from tests.factories import FAST_HASHER, MONDAY_MORNING, SITE, build_week

pytestmark = pytest.mark.services


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts, and can refuse the next N messages."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.refuse = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Mailbox temporarily unavailable"
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK: queued"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    require_service("aiosmtpd", importlib.util.find_spec("aiosmtpd") is not None, "pip install aiosmtpd")
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
            EMAIL_USE_TLS=False,
            EMAIL_USE_SSL=False,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
            EMAIL_TIMEOUT=10,
            DEFAULT_FROM_EMAIL="Migreringssporing <tracker@tracker.example.no>",
        ):
            yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def week(db, settings):
    settings.PASSWORD_HASHERS = FAST_HASHER
    with time_machine.travel(MONDAY_MORNING, tick=False), override_settings(SITE_URL=SITE):
        yield build_week()


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_reports_go_through_a_real_smtp_server_once(week, smtp_server):
    call_command("send_weekly_reports")
    by_rcpt = {rcpts[0]: message for rcpts, message in smtp_server.received}
    assert set(by_rcpt) == {
        "kari@skd.example",
        "ola@skd.example",
        "siri@brg.example",
        "per@nav.example",
        "ingrid@digdir.example",
    }
    kari = by_rcpt["kari@skd.example"]
    # Headers, decoded as a client decodes them (the subject has non-ASCII letters in other reports).
    assert kari["Subject"] == "Uke 48: Skatteetaten, 2 av 7 tjenester ferdige (+1)"
    assert kari["From"] == "Migreringssporing <tracker@tracker.example.no>"
    assert kari["To"] == "kari@skd.example"
    assert kari["Message-ID"] == f"<weekly-2026-W48-u{week.users['kari'].pk}@tracker.tracker.example.no>"
    assert kari["Date"] == "Mon, 30 Nov 2026 07:00:00 +0100"
    # A long header is folded onto a continuation line; unfolded, it keeps the leading blank.
    unsubscribe = str(kari["List-Unsubscribe"]).strip()
    assert unsubscribe.startswith(f"<{SITE}/reports/unsubscribe/") and unsubscribe.endswith("/>")
    assert kari["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert kari["Auto-Submitted"] == "auto-generated"
    # Both parts carry the same facts.
    text, html = parts(kari)
    for fact in ["Skattemelding", "Kari Nordmann", "Betaling", "Registeroppslag", "Hva som blokkerer oss", "4002/1"]:
        assert fact in text and fact in html, fact
    assert unsubscribe.strip("<>") in text
    assert "<script" not in html.lower()
    ola_text, _ = parts(by_rcpt["ola@skd.example"])
    assert "What blocks us" in ola_text  # Ola chose English
    # Non-ASCII subjects travel as encoded words on a folded line (Django's compat32 folding); decoded,
    # they read right, after the folding blank.
    assert (
        by_rcpt["siri@brg.example"]["Subject"].strip() == "Uke 48: Brønnøysundregistrene, 0 av 3 tjenester ferdige (±0)"
    )
    assert by_rcpt["ingrid@digdir.example"]["Subject"].strip().startswith("Uke 48: programmet er 18,2 % ferdig")
    # Running again sends nothing: the ledger says every report is sent.
    call_command("send_weekly_reports")
    assert len(smtp_server.received) == 5
    # The header's link works as a mail client's one-click unsubscribe.
    response = Client(enforce_csrf_checks=True).post(
        unsubscribe.strip("<>").removeprefix(SITE),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert ReportPreference.objects.get(user=week.users["kari"]).receive_weekly is False


def test_a_refused_message_is_sent_by_the_next_run_with_the_same_message_id(week, smtp_server):
    smtp_server.refuse = 1
    with pytest.raises(CommandError, match="1 report"):
        call_command("send_weekly_reports")
    assert len(smtp_server.received) == 4
    (failed,) = WeeklyReportDelivery.objects.filter(status="failed")
    assert "451" in failed.last_error
    call_command("send_weekly_reports")
    assert len(smtp_server.received) == 5
    last_rcpts, last = smtp_server.received[-1]
    assert last_rcpts == [failed.recipient.email]
    assert last["Message-ID"] == failed.message_id
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("sent", 2)
