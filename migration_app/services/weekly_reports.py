"""Weekly e-mail reports: digests computed once a week, a delivery ledger claimed with compare-and-set."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import secrets
from collections.abc import Iterable, Sequence

from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.query import QuerySet
from django.utils import timezone

from .. import emails
from ..models import (
    WeeklyReportDelivery,
    WeeklyReportDigest,
)
from ..reports import (
    OwnerSection,
    ProgrammeSection,
    Recipient,
    ReportWeek,
    WeekDigests,
    WeeklyReport,
    from_jsonable,
    to_jsonable,
    week_digests,
    weekly_report,
)
from ..selectors.weekly_reports import weekly_report_inputs_load, weekly_report_recipients

logger = logging.getLogger(__name__)


# A claim older than this belongs to a delivery that died (worker killed, machine lost) and may be taken
# over. Well above the delivery task's hard time limit, so a live delivery never loses its claim.
WEEKLY_CLAIM_TIMEOUT = datetime.timedelta(minutes=15)


# Attempts per recipient and week (the first send and every retry, across fan-outs) before giving up.
WEEKLY_MAX_ATTEMPTS = 6


class DeliveryOutcome:
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    IN_PROGRESS = "in_progress"  # another delivery holds a live claim
    GAVE_UP = "gave_up"  # WEEKLY_MAX_ATTEMPTS reached
    NOT_A_RECIPIENT = "not_a_recipient"  # opted out, no address, inactive, or no longer a member or lead


def _weekly_digests_decode(week: ReportWeek, rows: QuerySet[WeeklyReportDigest]) -> WeekDigests:
    programme, owners, blocked = None, {}, {}
    for row in rows:
        if row.scope == WeeklyReportDigest.Scope.PROGRAMME:
            programme = from_jsonable(ProgrammeSection, row.data)
        elif row.owner_id is not None:
            owners[row.owner_id] = from_jsonable(OwnerSection, row.data)
            blocked[row.owner_id] = tuple(row.blocked_service_ids)
    return WeekDigests(week=week, programme=programme, owners=owners, blocked=blocked)


def weekly_report_digests(
    *,
    week: ReportWeek,
    owner_ids: Iterable[int] | None = None,
    programme: bool = True,
    store: bool = True,
    today: datetime.date | None = None,
) -> WeekDigests:
    """The week's sections: the stored ones, or else built once from the history.

    ``owner_ids=None`` asks for every organisation. A complete week's freshly built digests are stored
    (``store=False`` only previews) with insert-or-ignore, so concurrent builders keep the first
    one's figures and every later reader, retry included, renders exactly those. Queries: one read;
    after a build also the loader's nine, the insert and a re-read.
    """
    today = today or timezone.localdate()
    wanted = None if owner_ids is None else set(owner_ids)
    rows = WeeklyReportDigest.objects.filter(iso_week=week.label)
    if wanted is not None:
        scope = Q(scope=WeeklyReportDigest.Scope.OWNER, owner_id__in=wanted)
        if programme:
            scope |= Q(scope=WeeklyReportDigest.Scope.PROGRAMME)
        rows = rows.filter(scope)
    stored = _weekly_digests_decode(week, rows)
    # The programme row is written together with every owner's, so it marks a complete build.
    has_owners = stored.programme is not None if wanted is None else wanted <= set(stored.owners)
    if has_owners and (stored.programme is not None or not programme):
        return stored

    built = week_digests(weekly_report_inputs_load(week=week, today=today))
    if store and week.is_complete(today):
        now = timezone.now()
        new_rows = [
            WeeklyReportDigest(
                iso_week=week.label,
                scope=WeeklyReportDigest.Scope.PROGRAMME,
                data=to_jsonable(built.programme),
                blocked_service_ids=sorted({sid for ids in built.blocked.values() for sid in ids}),
                built_at=now,
            ),
            *(
                WeeklyReportDigest(
                    iso_week=week.label,
                    scope=WeeklyReportDigest.Scope.OWNER,
                    owner_id=owner_id,
                    data=to_jsonable(section),
                    blocked_service_ids=list(built.blocked.get(owner_id, ())),
                    built_at=now,
                )
                for owner_id, section in sorted(built.owners.items())
            ),
        ]
        # Rows go in owner order in one transaction: a concurrent builder waits on the first row this
        # one holds and then finds every row taken, so a week's digests all come from one build.
        with transaction.atomic():
            WeeklyReportDigest.objects.bulk_create(new_rows, batch_size=500, ignore_conflicts=True)
        return _weekly_digests_decode(week, rows.all())
    if wanted is None:
        return built
    return dataclasses.replace(
        built,
        programme=built.programme if programme else None,
        owners={owner_id: s for owner_id, s in built.owners.items() if owner_id in wanted},
    )


def weekly_reports_prepare(*, week: ReportWeek, today: datetime.date | None = None) -> list[int]:
    """Build and store the week's digests (once), and return the recipients whose report is not sent yet."""
    if not WeeklyReportDigest.objects.filter(iso_week=week.label, scope=WeeklyReportDigest.Scope.PROGRAMME).exists():
        weekly_report_digests(week=week, today=today)
    return [recipient.user_id for recipient in weekly_report_recipients(unsent_week=week.label)]


def weekly_reports_build(
    *,
    week: ReportWeek,
    recipients: Sequence[Recipient] | None = None,
    store: bool = False,
    today: datetime.date | None = None,
) -> list[tuple[Recipient, WeeklyReport]]:
    """(recipient, report) for every recipient (or those given), from one read of the week's digests."""
    recipients = weekly_report_recipients() if recipients is None else recipients
    digests = weekly_report_digests(week=week, store=store, today=today)
    return [(r, weekly_report(r, week, programme=digests.programme, owners=digests.owners)) for r in recipients]


def weekly_report_claim(
    *, recipient_id: int, iso_week: str, kind: str, now: datetime.datetime | None = None
) -> WeeklyReportDelivery | None:
    """Claim the right to send ``recipient_id`` the report for ``iso_week``; None when it is not ours to send.

    Insert-or-claim: the first delivery inserts the ledger row (the unique constraint lets exactly
    one insert win); later ones may take the row over only with a compare-and-set from ``failed``,
    or from a ``claimed`` older than WEEKLY_CLAIM_TIMEOUT, and only below WEEKLY_MAX_ATTEMPTS.
    """

    now = now or timezone.now()
    token = secrets.token_hex(16)
    try:
        with transaction.atomic():
            return WeeklyReportDelivery.objects.create(
                recipient_id=recipient_id,
                iso_week=iso_week,
                kind=kind,
                status=WeeklyReportDelivery.Status.CLAIMED,
                message_id=emails.message_id_for(user_id=recipient_id, iso_week=iso_week),
                claim_token=token,
                attempts=1,
                created_at=now,
                claimed_at=now,
            )
    except IntegrityError:
        pass
    taken = WeeklyReportDelivery.objects.filter(
        Q(status=WeeklyReportDelivery.Status.FAILED)
        | Q(status=WeeklyReportDelivery.Status.CLAIMED, claimed_at__lt=now - WEEKLY_CLAIM_TIMEOUT),
        recipient_id=recipient_id,
        iso_week=iso_week,
        attempts__lt=WEEKLY_MAX_ATTEMPTS,
    ).update(status=WeeklyReportDelivery.Status.CLAIMED, claim_token=token, claimed_at=now, attempts=F("attempts") + 1)
    if not taken:
        return None
    return WeeklyReportDelivery.objects.get(recipient_id=recipient_id, iso_week=iso_week)


def weekly_report_mark_sent(
    *, delivery: WeeklyReportDelivery, content_hash: str, now: datetime.datetime | None = None
) -> bool:
    """Record the send if this attempt still holds the claim; False means another attempt took it over."""
    return bool(
        WeeklyReportDelivery.objects.filter(
            pk=delivery.pk, claim_token=delivery.claim_token, status=WeeklyReportDelivery.Status.CLAIMED
        ).update(
            status=WeeklyReportDelivery.Status.SENT,
            sent_at=now or timezone.now(),
            content_hash=content_hash,
            last_error="",
        )
    )


def weekly_report_mark_failed(*, delivery: WeeklyReportDelivery, error: str) -> bool:
    """Release the claim as ``failed`` (a retry may take it over), keeping the error for the admin."""
    return bool(
        WeeklyReportDelivery.objects.filter(
            pk=delivery.pk, claim_token=delivery.claim_token, status=WeeklyReportDelivery.Status.CLAIMED
        ).update(status=WeeklyReportDelivery.Status.FAILED, last_error=error[:2000])
    )


def weekly_report_deliver(
    *,
    user_id: int,
    iso_week: str,
    connection: BaseEmailBackend | None = None,
    today: datetime.date | None = None,
) -> str:
    """Send one recipient's report for one week, at most once: claim, render, send, mark (a DeliveryOutcome).

    A failure marks the row failed and re-raises, so the task retries with backoff; the retry renders
    the same stored digests under the same Message-ID and Date. Queries, whatever the recipient's
    organisations: the recipient (two), the claim (one to three), the digests (one), the mark (one).
    """
    week = ReportWeek.parse(iso_week)
    found = weekly_report_recipients(user_ids=[user_id])
    if not found:
        return DeliveryOutcome.NOT_A_RECIPIENT
    recipient = found[0]
    delivery = weekly_report_claim(recipient_id=user_id, iso_week=week.label, kind=recipient.kind)
    if delivery is None:
        status = (
            WeeklyReportDelivery.objects.filter(recipient_id=user_id, iso_week=week.label)
            .values_list("status", flat=True)
            .first()
        )
        if status == WeeklyReportDelivery.Status.SENT:
            return DeliveryOutcome.ALREADY_SENT
        if status == WeeklyReportDelivery.Status.CLAIMED:
            return DeliveryOutcome.IN_PROGRESS
        return DeliveryOutcome.GAVE_UP
    try:
        digests = weekly_report_digests(
            week=week, owner_ids=recipient.owner_ids, programme=recipient.is_lead, today=today
        )
        report = weekly_report(recipient, week, programme=digests.programme, owners=digests.owners)
        rendered = emails.weekly_report_render(report)
        emails.weekly_report_message(
            report,
            rendered,
            to=recipient.email,
            message_id=delivery.message_id,
            date=delivery.created_at,
            connection=connection,
        ).send()
    except Exception as exc:
        weekly_report_mark_failed(delivery=delivery, error=f"{type(exc).__name__}: {exc}")
        raise
    if not weekly_report_mark_sent(delivery=delivery, content_hash=rendered.content_hash):
        logger.warning(
            "Weekly report %s for user %s was sent after its claim was taken over; a second copy with "
            "Message-ID %s may follow.",
            week.label,
            user_id,
            delivery.message_id,
        )
    return DeliveryOutcome.SENT
