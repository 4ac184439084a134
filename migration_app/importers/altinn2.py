"""Writing Altinn II service editions: ``altinn2_import`` upserts what ``parse_services`` read, and
``ImportResult`` reports the outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Service, ServiceOwner
from ..services import recompute
from .parse import BULK_BATCH_SIZE, REQUIRED_FOR_NEW, ImportFormat, NaturalKey, RowError, ServiceRow, parse_services


@dataclass
class ImportResult:
    """The outcome of ``altinn2_import``. With ``aborted`` nothing was written and the key lists are
    empty; with ``dry_run`` the lists say what would have happened."""

    format: str
    total_rows: int
    dry_run: bool
    aborted: bool = False
    created: list[NaturalKey] = field(default_factory=list)
    updated: list[NaturalKey] = field(default_factory=list)
    unchanged: list[NaturalKey] = field(default_factory=list)
    owners_created: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def imported_rows(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)

    @property
    def skipped_rows(self) -> int:
        return len({e.row_number for e in self.errors if e.row_number})

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data for the REST API's bulk import response."""

        def keys(items: list[NaturalKey]) -> list[dict[str, Any]]:
            return [{"service_code": code, "edition_code": edition} for code, edition in items]

        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "aborted": self.aborted,
            "total_rows": self.total_rows,
            "created": keys(self.created),
            "updated": keys(self.updated),
            "unchanged": keys(self.unchanged),
            "owners_created": self.owners_created,
            "ignored_columns": self.ignored_columns,
            "errors": [
                {"row": e.row_number, "field": e.field, "service_code": e.service_code, "message": e.message}
                for e in self.errors
            ],
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """The one-line report: "Imported N rows: X created, Y updated, Z unchanged; owners created: ..."."""
        params = {
            "n": self.imported_rows,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "owners": ", ".join(self.owners_created) or _("none"),
        }
        if self.aborted:
            return _("Nothing imported: %(count)s errors.") % {"count": len(self.errors)}
        if self.dry_run:
            line = _(
                "Dry run, nothing written. Would import %(n)s rows: %(created)s created, %(updated)s updated, "
                "%(unchanged)s unchanged; owners created: %(owners)s."
            )
        else:
            line = _(
                "Imported %(n)s rows: %(created)s created, %(updated)s updated, %(unchanged)s unchanged; "
                "owners created: %(owners)s."
            )
        line %= params
        if self.skipped_rows:
            line += " " + _("Skipped %(count)s invalid rows.") % {"count": self.skipped_rows}
        return line


# --- Writing ------------------------------------------------------------------------------------------


def _planned_changes(row: ServiceRow, service: Service, owner: ServiceOwner | None) -> list[str]:
    changed = [name for name, value in row.values.items() if getattr(service, name) != value]
    if owner is not None and (owner.pk is None or owner.pk != service.owner_id):
        changed.append("owner")
    return changed


@transaction.atomic
def altinn2_import(
    *,
    content: bytes | str | Sequence[Any],
    format_hint: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
) -> ImportResult:
    """Upsert Altinn II service editions on (service code, edition code) from a file in any accepted format.

    New editions are created with status "not started"; changed ones are updated and their ``version``
    bumped; identical ones are not written at all. Owners the tracker does not know yet are created from
    ServiceOwnerCode/ServiceOwnerName (JSON formats only: in the tracker's CSV an unknown owner is more
    likely a typo, so it is an error). With errors, nothing is written unless ``skip_invalid``; a file
    that cannot be read at all is never imported. ``dry_run`` reports without writing.

    Queries: owners by code, services by code (locked), then one insert of owners, and per batch of
    BULK_BATCH_SIZE rows one insert and one update of services.
    """
    parsed = parse_services(content, format_hint)
    result = ImportResult(
        format=str(parsed.format or ""),
        total_rows=parsed.total_rows,
        dry_run=dry_run,
        errors=list(parsed.errors),
        ignored_columns=parsed.ignored_columns,
    )
    if any(e.row_number == 0 for e in parsed.errors):
        result.aborted = True
        return result

    owners = {o.code: o for o in ServiceOwner.objects.filter(code__in={r.owner_code for r in parsed.rows} - {None})}
    # One query for every edition of the codes in the file; editions not in the file are simply unused.
    # FOR UPDATE (PostgreSQL) keeps a concurrent edit from landing between this read and our write.
    existing = {
        (s.service_code, s.edition_code): s
        for s in Service.objects.select_for_update().filter(service_code__in={r.service_code for r in parsed.rows})
    }

    new_owners: dict[str, ServiceOwner] = {}
    to_create: list[tuple[ServiceRow, Service]] = []
    to_update: list[tuple[ServiceRow, Service]] = []
    update_fields: set[str] = set()
    # Services whose owner is created by this import and so has no id until it is inserted.
    pending_owner: list[tuple[Service, ServiceOwner]] = []
    for row in parsed.rows:
        service = existing.get(row.key)
        owner: ServiceOwner | None = None
        if row.owner_code is not None:
            owner = owners.get(row.owner_code) or new_owners.get(row.owner_code)
            if owner is None and row.format == ImportFormat.CSV:
                result.errors.append(
                    row.error(
                        "owner",
                        _("Unknown organisation %(code)r; import the organisation list first.")
                        % {"code": row.owner_code},
                    )
                )
                continue
            if owner is None:
                owner = ServiceOwner(code=row.owner_code, name_nb=(row.owner_name or row.owner_code.upper())[:200])
        if service is None:
            missing = [f for f in REQUIRED_FOR_NEW if (owner is None if f == "owner" else f not in row.values)]
            if missing:
                for name in missing:
                    result.errors.append(row.error(name, _("A new service needs this field.")))
                continue
            service = Service(service_code=row.service_code, edition_code=row.edition_code)
            changed = ["owner", *row.values]
        else:
            changed = _planned_changes(row, service, owner)
            if not changed:
                result.unchanged.append(row.key)
                continue
        valid_from = row.values.get("valid_from", service.valid_from)
        valid_to = row.values.get("valid_to", service.valid_to)
        if valid_from is not None and valid_to is not None and valid_to < valid_from:
            result.errors.append(row.error("valid_to", _("Valid to is before valid from.")))
            continue
        if owner is not None and owner.pk is None:
            new_owners[owner.code] = owner
            pending_owner.append((service, owner))
        for name in changed:
            setattr(service, name, owner if name == "owner" else row.values[name])
        if service.pk is None:
            to_create.append((row, service))
        else:
            to_update.append((row, service))
            update_fields.update(changed)

    result.errors.sort(key=lambda e: e.row_number)
    if result.errors and not skip_invalid:
        result.aborted = True
        result.unchanged = []
        return result

    result.created = [row.key for row, _service in to_create]
    result.updated = [row.key for row, _service in to_update]
    result.owners_created = sorted(new_owners)
    if dry_run or not result.changed:
        return result

    if new_owners:
        created_owners = ServiceOwner.objects.bulk_create(new_owners.values(), batch_size=BULK_BATCH_SIZE)
        if any(o.pk is None for o in created_owners):
            # Backends that cannot return ids from a bulk insert: fetch them.
            by_code = {o.code: o for o in ServiceOwner.objects.filter(code__in=new_owners)}
            for o in created_owners:
                o.pk = by_code[o.code].pk
        for service, owner in pending_owner:
            # Re-assign so the foreign key column picks up the id the insert gave the owner.
            service.owner = owner
    if to_create:
        Service.objects.bulk_create([s for _row, s in to_create], batch_size=BULK_BATCH_SIZE)
    if to_update:
        now = timezone.now()
        for _row, service in to_update:
            service.version = F("version") + 1
            service.updated_at = now
        Service.objects.bulk_update(
            [s for _row, s in to_update],
            [*sorted(update_fields), "version", "updated_at"],
            batch_size=BULK_BATCH_SIZE,
        )
    recompute.portfolio_recompute_request()
    return result
