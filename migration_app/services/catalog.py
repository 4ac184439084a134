"""Service editions: creating them, editing their fields and moving them through the lifecycle."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User as Account
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from ..choices import MigrationStatus
from ..engine.lifecycle import check_transition
from ..models import (
    SERVICE_EDITABLE_FIELDS,
    Service,
    StatusChange,
)
from ..selectors.access import user_can_edit_owner
from . import recompute
from .checks import StaleVersionError, User, refuse_unknown_fields, require_edit, versioned_update

# Translated explanations for engine.lifecycle's refusal codes.
TRANSITION_REFUSALS = {
    "same_status": _lazy("it is already in that status"),
    "final": _lazy("closing the Altinn II edition is final"),
    "reopen_only": _lazy("a resolved service can only be reopened to not started or analysis"),
    "one_step": _lazy("forward moves go one step at a time"),
}


@transaction.atomic
def service_change_status(
    *,
    service: Service,
    to_status: str,
    user: User = None,
    comment: str = "",
    expected_version: int | None = None,
    at: datetime.datetime | None = None,
) -> Service:
    """Move a service through the lifecycle: check the transition, bump the version, write history.

    ``user=None`` means a system actor (imports, seeding) and skips the permission check.
    ``expected_version`` makes the change compare-and-set: a stale caller gets StaleVersionError.
    """
    require_edit(user, service)
    if to_status not in MigrationStatus.values:
        raise ValidationError({"status": _("Unknown status %(status)r.") % {"status": to_status}})
    locked = Service.objects.select_for_update().get(pk=service.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersionError(expected=expected_version, current=locked.version)
    from_status = locked.status
    check = check_transition(from_status, to_status)
    labels = {"from": MigrationStatus(from_status).label, "to": MigrationStatus(to_status).label}
    if not check.allowed:
        raise ValidationError(
            {
                "status": _("Cannot move from “%(from)s” to “%(to)s”: %(reason)s.")
                % {**labels, "reason": TRANSITION_REFUSALS[check.reason]}
            },
            code="illegal_transition",
        )
    if check.needs_comment and not comment.strip():
        raise ValidationError(
            {"comment": _("Moving back from “%(from)s” to “%(to)s” needs a comment explaining why.") % labels},
            code="comment_required",
        )
    now = at or timezone.now()
    updates: dict[str, Any] = {"status": to_status, "status_changed_at": now, "version": F("version") + 1}
    today = timezone.localdate(now)
    if from_status == MigrationStatus.NOT_STARTED and locked.actual_start is None:
        updates["actual_start"] = today
    if to_status == MigrationStatus.IN_PRODUCTION and locked.actual_done is None:
        updates["actual_done"] = today
    Service.objects.filter(pk=locked.pk).update(**updates, updated_at=now)
    StatusChange.objects.create(
        service=locked,
        from_status=from_status,
        to_status=to_status,
        changed_by=user if isinstance(user, Account) else None,
        changed_at=now,
        comment=comment.strip(),
    )
    recompute.portfolio_recompute_request()
    service.refresh_from_db()
    return service


@transaction.atomic
def service_update(
    *, service: Service, data: Mapping[str, Any], user: User = None, expected_version: int | None = None
) -> Service:
    """Save edited fields with a compare-and-set on ``version`` so concurrent edits never overwrite.

    ``data`` holds only fields from SERVICE_EDITABLE_FIELDS (plus ``owner`` for leads); validation of
    each field is done by ``full_clean`` so the same messages reach forms, API and imports.
    """
    require_edit(user, service)
    unknown = set(data) - set(SERVICE_EDITABLE_FIELDS) - {"owner"}
    if unknown:
        raise ValidationError(_("These fields cannot be edited here: %(f)s.") % {"f": ", ".join(sorted(unknown))})
    if "owner" in data and user is not None and not user_can_edit_owner(user, data["owner"].pk):
        raise PermissionDenied(_("You may only move services to an organisation you can edit."))
    for field, value in data.items():
        setattr(service, field, value)
    service.full_clean(exclude=["version"])
    versioned_update(
        service, fields={field: getattr(service, field) for field in data}, expected_version=expected_version
    )
    recompute.portfolio_recompute_request()
    service.refresh_from_db()
    return service


@transaction.atomic
def service_create(*, data: Mapping[str, Any], user: User = None) -> Service:
    """Add a service edition (status "not started", version 1) to the catalog.

    ``data`` holds ``service_code``, ``edition_code``, ``owner`` (a ServiceOwner) and any of
    SERVICE_EDITABLE_FIELDS. The edit rule is the one for changes: an editor creates services only for
    their own organisation, a lead for any. A natural key that exists already is a ValidationError,
    also when a concurrent request inserted it first.
    """

    refuse_unknown_fields(data, {*SERVICE_EDITABLE_FIELDS, "owner", "service_code", "edition_code"})
    owner = data.get("owner")
    if owner is None:
        raise ValidationError({"owner": _("A service needs an owner.")})
    if user is not None and not user_can_edit_owner(user, owner.pk):
        raise PermissionDenied(_("You may only create services for your own organisation."))
    service = Service(**data)
    service.full_clean(exclude=["version"])
    try:
        with transaction.atomic():
            service.save()
    except IntegrityError:
        message = _("Service %(code)s edition %(edition)s already exists.") % {
            "code": service.service_code,
            "edition": service.edition_code,
        }
        raise ValidationError({"edition_code": ValidationError(message, code="unique")}) from None
    recompute.portfolio_recompute_request()
    return service
