"""Writing service owners from Altinn's organisation list: ``orgs_import`` and ``OrgImportResult``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ServiceOwner
from ..validators import ORG_CODE_RE, orgnr_is_valid
from .parse import BULK_BATCH_SIZE, ImportFileError, field_max_length

# --- Altinn's organisation list ---------------------------------------------------------------------------


@dataclass
class OrgImportResult:
    """The outcome of ``orgs_import``: org codes per outcome, and values that were not stored and why."""

    dry_run: bool
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        params = {
            "n": len(self.created) + len(self.updated) + len(self.unchanged),
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
        }
        if self.dry_run:
            return (
                _(
                    "Dry run, nothing written. Would import %(n)s organisations: %(created)s created, "
                    "%(updated)s updated, %(unchanged)s unchanged."
                )
                % params
            )
        return (
            _("Imported %(n)s organisations: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.")
            % params
        )


def _org_values(code: str, entry: Any, warnings: list[str]) -> dict[str, str]:
    """The ServiceOwner fields one entry of altinn-orgs.json states. Keys the entry lacks are left out,
    so a value typed into the tracker survives; a value that fails validation is stored empty."""
    if not isinstance(entry, dict):
        raise ImportFileError([_("%(code)s: expected an object, got %(value)r.") % {"code": code, "value": entry}])
    names = entry.get("name")
    if not isinstance(names, dict):
        names = {"nb": names} if isinstance(names, str) else {}
    names = {lang: v.strip() for lang, v in names.items() if isinstance(v, str) and v.strip()}
    name_nb = names.get("nb") or names.get("nn") or names.get("en") or code.upper()
    values = {"name_nb": name_nb, "name_nn": names.get("nn", ""), "name_en": names.get("en", "")}
    for name, value in values.items():
        if len(value) > field_max_length(ServiceOwner, name):
            raise ImportFileError([_("%(code)s: the name is too long.") % {"code": code}])

    if "orgnr" in entry:
        orgnr = str(entry["orgnr"] or "").strip()
        if orgnr and not orgnr_is_valid(orgnr):
            # Altinn's list gives test organisations made-up numbers such as 999999990.
            warnings.append(
                _("%(code)s: organisation number %(orgnr)s fails the MOD11 check; stored empty.")
                % {"code": code, "orgnr": orgnr}
            )
            orgnr = ""
        values["orgnr"] = orgnr
    if "homepage" in entry:
        homepage = str(entry["homepage"] or "").strip()
        try:
            if homepage:
                URLValidator()(homepage)
                if len(homepage) > field_max_length(ServiceOwner, "homepage"):
                    raise ValidationError("too long")
        except ValidationError:
            warnings.append(
                _("%(code)s: homepage %(url)r is not a valid URL; stored empty.") % {"code": code, "url": homepage}
            )
            homepage = ""
        values["homepage"] = homepage
    # Today's file has contact phone numbers and URLs, no e-mail; take one if a future file adds it.
    contact = entry.get("contact")
    if isinstance(contact, dict) and "email" in contact:
        email = str(contact["email"] or "").strip()
        try:
            if email:
                EmailValidator()(email)
        except ValidationError:
            warnings.append(
                _("%(code)s: contact e-mail %(email)r is not valid; stored empty.") % {"code": code, "email": email}
            )
            email = ""
        values["contact_email"] = email
    return values


@transaction.atomic
def orgs_import(*, data: Mapping[str, Any], dry_run: bool = False) -> OrgImportResult:
    """Upsert service owners from Altinn's organisation list (``{"orgs": {code: {...}}}``) on the
    lower-case code. Idempotent: a second run writes nothing. ``active`` is the tracker's own flag and is
    not touched. Raises ImportFileError, writing nothing, when the data is not in that shape.

    Queries: owners by code, then at most one insert and one update per batch.
    """
    orgs = data.get("orgs") if isinstance(data, Mapping) else None
    if not isinstance(orgs, dict):
        raise ImportFileError([_('Expected Altinn\'s organisation list: an object with an "orgs" object.')])
    result = OrgImportResult(dry_run=dry_run)
    wanted: dict[str, dict[str, str]] = {}
    for raw_code, entry in orgs.items():
        code = str(raw_code).strip().lower()
        if not ORG_CODE_RE.match(code) or len(code) > field_max_length(ServiceOwner, "code"):
            raise ImportFileError([_("%(code)r is not an organisation code.") % {"code": raw_code}])
        if code in wanted:
            raise ImportFileError([_("%(code)s appears more than once.") % {"code": code}])
        wanted[code] = _org_values(code, entry, result.warnings)

    existing = {o.code: o for o in ServiceOwner.objects.filter(code__in=wanted)}
    to_create: list[ServiceOwner] = []
    to_update: list[ServiceOwner] = []
    update_fields: set[str] = set()
    for code, values in wanted.items():
        owner = existing.get(code)
        if owner is None:
            to_create.append(ServiceOwner(code=code, **values))
            result.created.append(code)
            continue
        changed = [name for name, value in values.items() if getattr(owner, name) != value]
        if not changed:
            result.unchanged.append(code)
            continue
        for name in changed:
            setattr(owner, name, values[name])
        update_fields.update(changed)
        to_update.append(owner)
        result.updated.append(code)

    if not dry_run:
        if to_create:
            ServiceOwner.objects.bulk_create(to_create, batch_size=BULK_BATCH_SIZE)
        if to_update:
            now = timezone.now()
            for owner in to_update:
                owner.updated_at = now
            ServiceOwner.objects.bulk_update(
                to_update, [*sorted(update_fields), "updated_at"], batch_size=BULK_BATCH_SIZE
            )
    return result
