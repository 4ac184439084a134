"""The checks every write makes first: who may write, which fields, which version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import PlatformCapability, Service
from ..selectors.access import User as RequestUser
from ..selectors.access import user_can_edit_owner, user_is_lead

# Who makes a change: the request's user, or None for the system (imports, seeding), which skips the
# permission checks.
User = RequestUser | None


class StaleVersionError(Exception):
    """The caller edited an older version than the one stored: someone else saved in between."""

    def __init__(self, *, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        super().__init__(
            _("This service was changed by someone else (you edited version %(expected)s, it is now %(current)s).")
            % {"expected": expected, "current": current}
        )


def require_edit(user: User, service: Service) -> None:
    """Refuse unless the user may change this service's organisation (a lead, or one of its editors)."""
    if user is not None and not user_can_edit_owner(user, service.owner_id):
        raise PermissionDenied(_("You may only change your own organisation's services."))


def require_lead(user: User) -> None:
    if user is not None and not user_is_lead(user):
        raise PermissionDenied(_("Only project leads may change this."))


def refuse_unknown_fields(data: Mapping[str, Any], allowed: tuple[str, ...] | set[str]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError(_("These fields cannot be edited here: %(f)s.") % {"f": ", ".join(sorted(unknown))})


def versioned_update(
    instance: Service | PlatformCapability,
    *,
    fields: Mapping[str, Any],
    expected_version: int | None,
    stale: type[StaleVersionError] = StaleVersionError,
) -> None:
    """Compare-and-set: ``UPDATE ... SET fields, version = version + 1 WHERE pk = ? AND version = n``.

    ``n`` is ``expected_version`` (what the caller read), else the instance's own. Nothing is written when
    someone else saved in between: the caller gets ``stale`` with the version stored now.
    """
    manager = type(instance)._default_manager
    version = instance.version if expected_version is None else expected_version
    changed = manager.filter(pk=instance.pk, version=version).update(
        **fields, version=F("version") + 1, updated_at=timezone.now()
    )
    if changed == 0:
        current = manager.filter(pk=instance.pk).values_list("version", flat=True).first()
        raise stale(expected=version, current=current or 0)
