"""The platform roadmap: capabilities services wait for, and the programme's milestones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ..choices import CapabilityStatus
from ..models import (
    CAPABILITY_EDITABLE_FIELDS,
    MILESTONE_EDITABLE_FIELDS,
    Dependency,
    Milestone,
    PlatformCapability,
    Service,
)
from . import recompute
from .checks import StaleVersionError, User, refuse_unknown_fields, require_lead, versioned_update


class StaleCapabilityError(StaleVersionError):
    """Someone else changed this platform capability since the caller read it."""

    def __init__(self, *, expected: int, current: int) -> None:
        super().__init__(expected=expected, current=current)
        self.args = (
            _("This capability was changed by someone else (you edited version %(expected)s, it is now %(current)s).")
            % {"expected": expected, "current": current},
        )


def _capability_apply(capability: PlatformCapability, data: Mapping[str, Any]) -> None:
    """Set fields and keep the delivered date consistent with the roadmap status.

    Moving to "delivered" without a date records today; moving away from it clears the date.
    """

    for field, value in data.items():
        setattr(capability, field, value)
    if "delivered_date" not in data:
        if capability.status == CapabilityStatus.DELIVERED and capability.delivered_date is None:
            capability.delivered_date = timezone.localdate()
        elif capability.status != CapabilityStatus.DELIVERED:
            capability.delivered_date = None


@transaction.atomic
def capability_create(*, data: Mapping[str, Any], user: User = None) -> PlatformCapability:
    """Add a platform capability to the roadmap (leads only)."""
    require_lead(user)
    refuse_unknown_fields(data, CAPABILITY_EDITABLE_FIELDS)
    capability = PlatformCapability()
    _capability_apply(capability, data)
    capability.full_clean(exclude=["version"])
    capability.save()
    recompute.portfolio_recompute_request()
    return capability


@transaction.atomic
def capability_update(
    *,
    capability: PlatformCapability,
    data: Mapping[str, Any],
    user: User = None,
    expected_version: int | None = None,
) -> PlatformCapability:
    """Edit a capability with a compare-and-set on ``version`` (leads only); queues a recompute, since a
    delivery or a new planned date changes readiness and slip impact across the portfolio."""
    require_lead(user)
    refuse_unknown_fields(data, CAPABILITY_EDITABLE_FIELDS)
    _capability_apply(capability, data)
    capability.full_clean(exclude=["version"])
    versioned_update(
        capability,
        fields={name: getattr(capability, name) for name in CAPABILITY_EDITABLE_FIELDS},
        expected_version=expected_version,
        stale=StaleCapabilityError,
    )
    recompute.portfolio_recompute_request()
    capability.refresh_from_db()
    return capability


@transaction.atomic
def capability_delete(
    *, capability: PlatformCapability, user: User = None, expected_version: int | None = None
) -> None:
    """Remove a capability and the dependency edges on it (leads only); the services that needed it get
    a new version, as when one of their edges is removed."""
    require_lead(user)
    locked = PlatformCapability.objects.select_for_update().get(pk=capability.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleCapabilityError(expected=expected_version, current=locked.version)
    dependents = Dependency.objects.filter(depends_on_capability=locked).values("service_id")
    Service.objects.filter(pk__in=dependents).update(version=F("version") + 1, updated_at=timezone.now())
    locked.delete()
    recompute.portfolio_recompute_request()


@transaction.atomic
def milestone_save(*, data: Mapping[str, Any], milestone: Any = None, user: User = None) -> Any:
    """Create (``milestone=None``) or edit a programme milestone (leads only).

    Marking one milestone as the deadline unmarks the previous one in the same transaction, since
    forecasts are measured against exactly one. Queues a recompute: the forecast reads the deadline.
    """

    require_lead(user)
    refuse_unknown_fields(data, MILESTONE_EDITABLE_FIELDS)
    milestone = milestone if milestone is not None else Milestone()
    for field, value in data.items():
        setattr(milestone, field, value)
    if milestone.is_deadline:
        Milestone.objects.select_for_update().filter(is_deadline=True).exclude(pk=milestone.pk).update(
            is_deadline=False
        )
    milestone.full_clean()
    milestone.save()
    recompute.portfolio_recompute_request()
    return milestone


@transaction.atomic
def milestone_delete(*, milestone: Any, user: User = None) -> None:
    """Remove a milestone (leads only); the forecast falls back to the latest remaining one."""
    require_lead(user)
    milestone.delete()
    recompute.portfolio_recompute_request()
