"""Service-owning organisations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..models import OWNER_EDITABLE_FIELDS, Service, ServiceOwner
from .checks import User, refuse_unknown_fields, require_lead


@transaction.atomic
def owner_save(*, data: Mapping[str, Any], owner: Any = None, user: User = None) -> Any:
    """Create (``owner=None``) or edit a service-owning organisation (leads only)."""

    require_lead(user)
    refuse_unknown_fields(data, OWNER_EDITABLE_FIELDS)
    owner = owner if owner is not None else ServiceOwner()
    for field, value in data.items():
        setattr(owner, field, value)
    owner.full_clean()
    owner.save()
    return owner


@transaction.atomic
def owner_delete(*, owner: Any, user: User = None) -> None:
    """Remove an organisation that owns no services (leads only); its memberships go with it."""
    require_lead(user)
    count = Service.objects.filter(owner=owner).count()
    if count:
        raise ValidationError(
            _("%(owner)s still owns %(count)s services; move them to another organisation first.")
            % {"owner": owner.code, "count": count},
            code="protected",
        )
    owner.delete()
