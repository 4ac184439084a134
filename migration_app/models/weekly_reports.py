"""Weekly e-mail reports: preferences, the week's digests and the delivery ledger."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import (
    ReportLanguage,
)
from .catalog import ServiceOwner


class ReportPreference(models.Model):
    """A user's choices for the weekly e-mail report. A user without a row receives it, in bokmål."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="report_preference"
    )
    receive_weekly = models.BooleanField(_("receive the weekly report"), default=True)
    language = models.CharField(_("language"), max_length=2, choices=ReportLanguage.choices, default=ReportLanguage.NB)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The primary key (user) serves every read: the recipient list joins on it.
        verbose_name = _("report preference")
        verbose_name_plural = _("report preferences")

    def __str__(self) -> str:
        return f"{self.user_id}: {'weekly' if self.receive_weekly else 'no reports'} ({self.language})"


class WeeklyReportDigest(models.Model):
    """The figures of one ISO week for one organisation, or for the whole programme, computed once.

    Every recipient's report for the week is rendered from these rows, so the members of one
    organisation read the same numbers and a retry sends the same content. ``blocked_service_ids``
    is the organisation's readiness digest at the end of the week: the next week's report compares
    against it to list the services that became blocked or unblocked.
    """

    class Scope(models.TextChoices):
        OWNER = "owner", _("Service owner")
        PROGRAMME = "programme", _("Programme")

    iso_week = models.CharField(_("ISO week"), max_length=8, help_text=_("For example 2026-W48."))
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices)
    owner = models.ForeignKey(ServiceOwner, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # reports.data.OwnerSection or ProgrammeSection as JSON (reports.data.to_jsonable).
    data = models.JSONField(default=dict)
    blocked_service_ids = models.JSONField(default=list)
    built_at = models.DateTimeField()

    class Meta:
        ordering = ["iso_week", "scope", "owner"]
        verbose_name = _("weekly report digest")
        verbose_name_plural = _("weekly report digests")
        constraints = [
            models.UniqueConstraint(
                fields=["iso_week", "owner"], condition=Q(scope="owner"), name="weekly_digest_unique_owner_week"
            ),
            models.UniqueConstraint(
                fields=["iso_week"], condition=Q(scope="programme"), name="weekly_digest_unique_programme_week"
            ),
            models.CheckConstraint(
                condition=Q(scope="owner", owner__isnull=False) | Q(scope="programme", owner__isnull=True),
                name="weekly_digest_owner_matches_scope",
            ),
        ]
        indexes = [
            # A delivery reads its recipient's digests of one week (and the ordering above).
            models.Index(fields=["iso_week", "scope", "owner"], name="weekly_digest_week_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.iso_week} {self.scope}:{self.owner_id or ''}"


class WeeklyReportDelivery(models.Model):
    """The delivery ledger: at most one weekly report per recipient and ISO week.

    A delivery inserts its row as ``claimed`` (or takes over a ``failed`` row, or a ``claimed`` row
    whose worker died, with a compare-and-set on the status and claim time), sends, then marks it
    ``sent`` if it still holds the claim. ``message_id`` is the same for every attempt, so the one
    duplicate a crash between the SMTP server's acceptance and the ``sent`` update can cause is
    recognisable as such.
    """

    class Kind(models.TextChoices):
        OWNER = "owner", _("Owner report")
        PROGRAMME = "programme", _("Programme report")

    class Status(models.TextChoices):
        CLAIMED = "claimed", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    iso_week = models.CharField(_("ISO week"), max_length=8)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices)
    message_id = models.CharField(_("Message-ID"), max_length=255)
    # Identifies the attempt that holds the claim; only that attempt may mark the row sent or failed.
    claim_token = models.CharField(max_length=32)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # SHA-256 of the subject and both parts as last sent: a retry that sent the same content has the same hash.
    content_hash = models.CharField(max_length=64, blank=True)
    # The first claim; also the message's Date header, so every attempt sends the same message.
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        # The unique index (iso_week, recipient) serves this ordering, the claim's look-up and the
        # fan-out's "who has this week's report already" (iso_week, then status on the few rows).
        ordering = ["iso_week", "recipient"]
        verbose_name = _("weekly report delivery")
        verbose_name_plural = _("weekly report deliveries")
        constraints = [
            models.UniqueConstraint(fields=["iso_week", "recipient"], name="weekly_delivery_unique_recipient_week"),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="weekly_delivery_sent_has_sent_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.iso_week} → user {self.recipient_id}: {self.status} ({self.attempts} attempts)"
