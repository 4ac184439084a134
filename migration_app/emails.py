"""E-mails: the weekly report rendered from its three templates (subject, text, HTML) and sent with
headers that make every attempt the same message.

* ``Message-ID`` is a function of (recipient, week), and ``Date`` is the ledger row's first claim, so a
  second copy after a crash is the same message twice, recognisable (and de-duplicated by many
  clients) as such.
* ``List-Unsubscribe`` points at a signed link that needs no login, and ``List-Unsubscribe-Post``
  offers one-click unsubscribing (RFC 8058) to the mail clients that support it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from .reports.data import WeeklyReport

UNSUBSCRIBE_SALT = "migration_app.weekly-report.unsubscribe"

# Inline styles: many mail clients drop <style> blocks and classes, so every element carries its own.
STYLES = {
    "h2": "margin:8px 0 4px 0;font-size:20px;line-height:1.3;color:#1a1d21;",
    "h3": (
        "margin:22px 0 8px 0;padding-bottom:4px;font-size:16px;line-height:1.3;color:#0a3a6b;"
        "border-bottom:2px solid #e3ecf7;"
    ),
    "p": "margin:0 0 8px 0;font-size:14px;line-height:1.5;",
    "muted": "margin:0 0 8px 0;font-size:12px;line-height:1.5;color:#5b616b;",
    "table": "border-collapse:collapse;width:100%;font-size:13px;line-height:1.4;",
    "th": (
        "text-align:left;padding:6px 8px;border-bottom:1px solid #c9ced6;color:#5b616b;font-size:12px;font-weight:bold;"
    ),
    "th_num": (
        "text-align:right;padding:6px 8px;border-bottom:1px solid #c9ced6;color:#5b616b;font-size:12px;"
        "font-weight:bold;"
    ),
    "td": "padding:6px 8px;border-bottom:1px solid #eef0f3;vertical-align:top;",
    "td_num": "padding:6px 8px;border-bottom:1px solid #eef0f3;vertical-align:top;text-align:right;white-space:nowrap;",
    "a": "color:#0062ba;text-decoration:underline;",
    "key": "font-family:Consolas,Menlo,monospace;font-size:12px;color:#3b4048;white-space:nowrap;",
    "tag": (
        "display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:bold;"
        "color:#ffffff;white-space:nowrap;"
    ),
    "late": "color:#b42318;font-weight:bold;",
    "good": "color:#1b6e3c;font-weight:bold;",
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256("\0".join((self.subject, self.text, self.html)).encode()).hexdigest()


def site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def message_id_for(*, user_id: int, iso_week: str) -> str:
    """The one Message-ID of a recipient's report for a week, e.g. ``<weekly-2026-W48-u42@tracker.example.no>``."""
    return f"<weekly-{iso_week}-u{user_id}@tracker.{site_host()}>"


def unsubscribe_token(user_id: int) -> str:
    """A signed token naming the user, the same every time (no timestamp): every attempt at a week's
    message carries the same link, and an old report's link keeps working."""
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"u": user_id})


def unsubscribe_token_user_id(token: str) -> int | None:
    """The user id in a valid token; None for a forged, truncated or otherwise broken one."""
    try:
        payload = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        return None
    user_id = payload.get("u") if isinstance(payload, dict) else None
    return user_id if isinstance(user_id, int) else None


def unsubscribe_url(user_id: int) -> str:
    return settings.SITE_URL + reverse("reports:unsubscribe", args=[unsubscribe_token(user_id)])


def _tidy_text(text: str) -> str:
    """Template loops leave trailing spaces and runs of blank lines; a plain-text part should not."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def weekly_report_render(report: WeeklyReport) -> RenderedEmail:
    """Subject, plain text and HTML in the recipient's language, from ``templates/emails/weekly_<kind>_*``."""
    with translation.override(report.language):
        context = {
            "report": report,
            "site_url": settings.SITE_URL,
            "unsubscribe_url": unsubscribe_url(report.recipient_id),
            "preferences_url": settings.SITE_URL + reverse("reports:preferences"),
            "programme_url": settings.SITE_URL + reverse("migration_app:programme"),
            "catalog_url": settings.SITE_URL + reverse("migration_app:service_list"),
            "st": STYLES,
        }
        prefix = f"emails/weekly_{report.kind}"
        subject = " ".join(render_to_string(f"{prefix}_subject.txt", context).split())
        text = _tidy_text(render_to_string(f"{prefix}_body.txt", context))
        html = render_to_string(f"{prefix}_body.html", context)
    return RenderedEmail(subject=subject, text=text, html=html)


def weekly_report_message(
    report: WeeklyReport,
    rendered: RenderedEmail,
    *,
    to: str,
    message_id: str,
    date: datetime,
    connection: BaseEmailBackend | None = None,
) -> EmailMultiAlternatives:
    """The message with both parts and the headers that make a resend recognisable and unsubscribing easy."""
    one_click = unsubscribe_url(report.recipient_id)
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        connection=connection,
        headers={
            "Message-ID": message_id,
            "Date": format_datetime(timezone.localtime(date)),
            "List-Id": f"<weekly-report.tracker.{site_host()}>",
            "List-Unsubscribe": f"<{one_click}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # RFC 3834: an automatic message; out-of-office replies should not answer it.
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
            "Content-Language": report.language,
        },
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
