"""Importing a catalog file: all or nothing, into an empty catalog (or replacing it), checked row by row.

What the file does not carry, and why:

* Users, memberships, report preferences and API tokens. A catalog file is a document about services
  that gets copied between environments (production to a test server, one agency to another); accounts
  carry password hashes and memberships grant edit rights, and a name that matches in another
  environment is not the same person. Accounts come from the identity provider or the admin; a full
  backup of everything is the database's own (``pg_dump``, see docs/deployment.md).
* Engine results (readiness, portfolio results, the recompute state): a function of the catalog, so the
  import asks for one recompute when it commits instead of trusting stored verdicts.
* Weekly report digests and the delivery ledger: the e-mail machinery's record of what was sent to
  whom, tied to accounts.

History keeps its authors by username (``changed_by``). A name that has no account here is refused by
default, so a restore never loses an author silently; ``missing_users`` can create such accounts
inactive and without a password (attribution only: nobody can log in as them until an administrator
activates one) or leave those rows without an author.

``replace`` deletes the catalog in the same transaction and keeps the memberships of organisations
that the file has too (by org code), so the people of a restored tracker keep their rights.
"""

from __future__ import annotations

import datetime
import importlib
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from django.apps import apps as installed_apps
from django.apps.registry import Apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.management.color import no_style
from django.db import DataError, IntegrityError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.models import F, Field, Model
from django.utils.translation import gettext as _

from ..models import Membership, Milestone, ProgressSnapshot, ServiceReadiness
from ..services import recompute
from .export import applied_migration, code_migration
from .format import (
    APP_LABEL,
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_KEYS,
    SECTIONS,
    Section,
    concrete_field,
    is_user_model,
    natural_key_fields,
    natural_key_label,
    related_model,
    value_decoder,
)
from .jsonstream import JsonObjectReader, JsonStreamError

# Rows per INSERT round (SQLite lowers it further to stay under its limit on query parameters).
BATCH_SIZE = 1000
# Rows per DELETE round when replacing: a delete with cascades loads its rows, so it goes in slices.
DELETE_CHUNK = 2000
# An import stops collecting problems after this many: the first ones are what needs fixing.
MAX_PROBLEMS = 20
PROGRESS_EVERY = 50_000


class MissingUsers:
    """What to do with history naming a user that has no account in this tracker."""

    REFUSE = "refuse"
    CREATE = "create"  # inactive, unusable password: the history keeps its author's name
    BLANK = "blank"  # the row keeps no author

    choices = (REFUSE, CREATE, BLANK)


class CatalogImportError(Exception):
    """The file was not imported; ``problems`` name the section, row and field of each thing wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ImportSummary:
    """What ``catalog_import`` did (or, in a dry run, would have done)."""

    counts: dict[str, int]
    exported_at: str
    migration: str
    # Rows deleted before importing, by section (the catalog replaced, or what a fresh tracker is seeded with).
    deleted: dict[str, int]
    memberships_kept: int
    memberships_dropped: int
    users_created: tuple[str, ...]
    history_without_author: int
    # False when the database is at an older migration than the code: migrate, then recompute.
    recompute_requested: bool
    dry_run: bool
    seconds: float


def catalog_rows_present(apps: Apps = installed_apps) -> dict[str, int]:
    """Rows that make the catalog non-empty, by section (``apps``: the models of the database's migration).

    A freshly migrated tracker counts as empty: the milestones its migration seeds (as long as nobody
    changed them) and snapshots of an empty catalog (the daily task runs before anything is imported)
    are not the catalog; an import deletes them and brings the file's own.
    """
    seeded = _seeded_milestones()
    present: dict[str, int] = {}
    for section in SECTIONS:
        rows = _model(apps, section.model)._default_manager.all()
        if section.model is Milestone:
            columns = ("key", "name_nb", "name_en", "date", "is_deadline", "description")
            present[section.name] = sum(1 for row in rows.values_list(*columns) if row not in seeded)
        elif section.model is ProgressSnapshot:
            present[section.name] = rows.filter(total_count__gt=0).count()
        else:
            present[section.name] = rows.count()
    return present


def _model(apps: Apps, model: type[Model]) -> type[Model]:
    """``model`` as ``apps`` has it: itself, or its historical version at an older migration."""
    return apps.get_model(model._meta.label)


def _models_at(migration: str) -> tuple[Apps, bool]:
    """The models matching a database at ``migration``, and whether they are the code's own.

    At the code's latest migration they are the code's models. A database kept at an older migration
    (to import an older file, then migrate forward) gets the historical models of that migration, as
    data migrations do, so every row is written with exactly the columns the database has.
    """
    if migration == code_migration():
        return installed_apps, True
    return MigrationLoader(connection).project_state((APP_LABEL, migration), at_end=True).apps, False


def _seeded_milestones() -> set[tuple]:
    # The module name starts with a digit, so it cannot be imported with an import statement.
    seed = importlib.import_module(f"{APP_LABEL}.migrations.0002_seed_milestones_and_leads")
    return {
        (key, name_nb, name_en, date, is_deadline, "") for key, name_nb, name_en, date, is_deadline in seed.MILESTONES
    }


def catalog_import(
    *,
    source: TextIO,
    replace: bool = False,
    dry_run: bool = False,
    missing_users: str = MissingUsers.REFUSE,
    progress: Callable[[str], None] = lambda line: None,
) -> ImportSummary:
    """Import a catalog file in one transaction: everything in it, or nothing.

    Refuses a non-empty catalog unless ``replace``, a file of another format or version, a file
    exported at another migration, and any row that breaks a field's rules or a database constraint
    (CatalogImportError, naming section, row and field). Rows keep their ids; on PostgreSQL the id
    sequences are moved past them. One recompute of the engine results is queued when the transaction
    commits. ``dry_run`` does all of it, constraints included, then rolls back.
    """
    if missing_users not in MissingUsers.choices:
        raise ValueError(f"missing_users must be one of {MissingUsers.choices}")
    started = time.monotonic()
    run = _CatalogImport(
        replace=replace, dry_run=dry_run, missing_users=missing_users, progress=progress, started=started
    )
    with transaction.atomic():
        try:
            run.read(JsonObjectReader(source))
        except JsonStreamError as exc:
            raise CatalogImportError([_("The file is not valid JSON: %(error)s.") % {"error": exc}]) from None
        except UnicodeDecodeError as exc:
            raise CatalogImportError([_("The file is not UTF-8 text: %(error)s.") % {"error": exc}]) from None
        except (OSError, EOFError) as exc:
            # gzip reports a damaged or truncated archive this way.
            raise CatalogImportError([_("The file cannot be read: %(error)s.") % {"error": exc}]) from None
        if dry_run:
            transaction.set_rollback(True)
    return ImportSummary(
        counts=run.counts,
        exported_at=run.header.get("exported_at", ""),
        migration=run.header.get("migration", {}).get(APP_LABEL, ""),
        deleted=run.deleted,
        memberships_kept=run.memberships_kept,
        memberships_dropped=run.memberships_dropped,
        users_created=tuple(run.users_created),
        history_without_author=run.history_without_author,
        recompute_requested=run.recompute_requested,
        dry_run=dry_run,
        seconds=round(time.monotonic() - started, 3),
    )


@dataclass
class _CatalogImport:
    """The state of one import while the file streams past: the ids read so far and the problems found."""

    replace: bool
    dry_run: bool
    missing_users: str
    progress: Callable[[str], None]
    started: float
    header: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # {model: {natural key: id}} for the models other rows refer to, filled as their sections are read.
    ids_by_key: dict[type[Model], dict[Any, int]] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    # Rows naming a user with no account here, by (section, username).
    unknown_users: Counter[tuple[str, str]] = field(default_factory=Counter)
    users_created: list[str] = field(default_factory=list)
    history_without_author: int = 0
    memberships: list[dict[str, Any]] = field(default_factory=list)
    memberships_kept: int = 0
    memberships_dropped: int = 0
    # The models of the database's migration (see _models_at), set once the header is checked.
    apps: Apps = installed_apps
    models: dict[str, type[Model]] = field(default_factory=dict)
    recompute_requested: bool = False

    # --- The document ------------------------------------------------------------------------------

    def read(self, reader: JsonObjectReader) -> None:
        pending = list(SECTIONS)
        for key in reader.members():
            if key in HEADER_KEYS:
                if key in self.header or len(pending) < len(SECTIONS):
                    self._fail(_("“%(key)s” must appear once, before the data.") % {"key": key})
                self.header[key] = reader.value()
                continue
            if not pending or key != pending[0].name:
                known = [s.name for s in SECTIONS]
                if key not in known:
                    self._fail(_("The file has an unknown member “%(key)s”.") % {"key": key})
                self._fail(
                    _("The lists must come in this order: %(order)s; “%(key)s” is out of place.")
                    % {"order": ", ".join(known), "key": key}
                )
            if len(pending) == len(SECTIONS):
                self._check_header()
                self._prepare_target()
            self._import_section(pending.pop(0), reader.array())
        if len(pending) == len(SECTIONS):
            self._check_header()
        if pending:
            self._fail(_("The file has no “%(key)s” list.") % {"key": pending[0].name})
        self._finish()

    def _check_header(self) -> None:
        header = self.header
        if header.get("format") != FORMAT_NAME:
            self._fail(
                _("This is not a catalog file (format %(found)r, expected %(expected)r).")
                % {"found": header.get("format"), "expected": FORMAT_NAME}
            )
        if header.get("format_version") != FORMAT_VERSION:
            self._fail(
                _("The file is in catalog format version %(found)r; this tracker reads version %(expected)s.")
                % {"found": header.get("format_version"), "expected": FORMAT_VERSION}
            )
        exported_at = header.get("exported_at")
        try:
            # Anything but a string is refused like a string that is not a time.
            if not isinstance(exported_at, str) or datetime.datetime.fromisoformat(exported_at).tzinfo is None:
                raise ValueError
        except ValueError:
            self._fail(_("The file's “exported_at” is not a time with a UTC offset."))
        migration = header.get("migration")
        found = migration.get(APP_LABEL) if isinstance(migration, dict) else None
        here = applied_migration()
        known = {name for app, name in MigrationLoader(None, ignore_no_migrations=True).graph.nodes if app == APP_LABEL}
        if not isinstance(found, str):
            self._fail(_("The file does not say at which migration it was exported (“migration”)."))
        if found not in known:
            self._fail(
                _(
                    "The file was exported at migration %(found)r, which this tracker does not know: it comes "
                    "from a newer release. Upgrade this tracker first."
                )
                % {"found": found}
            )
        if found != here:
            # An older file: its rows fit the models of its migration. The database goes there (it
            # is empty), takes the file, and migrate then carries the rows forward like any data.
            self._fail(
                _(
                    "The file was exported at migration %(found)r; this database is at %(here)r. Bring the "
                    "empty database to the file's migration (manage.py migrate %(app)s %(found)s), import, "
                    "then run manage.py migrate."
                )
                % {"found": found, "here": here, "app": APP_LABEL}
            )
        counts = header.get("counts")
        if not isinstance(counts, dict) or any(
            not isinstance(counts.get(s.name), int) or counts[s.name] < 0 for s in SECTIONS
        ):
            self._fail(_("The file's “counts” must give the number of rows of every list."))
        self.apps, self.recompute_requested = _models_at(here)
        self.models = {s.name: _model(self.apps, s.model) for s in SECTIONS}

    def _prepare_target(self) -> None:
        """Lock the catalog against writers, check it is empty (or delete it), and load the usernames."""
        if connection.vendor == "postgresql":
            # Readers go on (they see the old catalog until this commits); writers wait, so nobody adds
            # a row under an id the file is about to use, or edits what is being replaced.
            tables = [s.model._meta.db_table for s in SECTIONS] + [
                Membership._meta.db_table,
                ServiceReadiness._meta.db_table,
            ]  # db_table does not change between migrations
            with connection.cursor() as cursor:
                cursor.execute(
                    f"LOCK TABLE {', '.join(connection.ops.quote_name(t) for t in tables)} IN EXCLUSIVE MODE"
                )
        present = {name: count for name, count in catalog_rows_present(self.apps).items() if count}
        if present and not self.replace:
            described = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in present.items())
            self._fail(
                _(
                    "The catalog is not empty (%(rows)s). Import into an empty tracker, or replace the "
                    "catalog (--replace), which deletes it in the same transaction."
                )
                % {"rows": described}
            )
        if self.replace:
            # Every field (role, source, ...) and the id, so a kept membership is the same row as before.
            memberships = _model(self.apps, Membership)._default_manager
            columns = [f.attname for f in memberships.model._meta.concrete_fields]
            self.memberships = list(memberships.values(*columns, owner_code=F("owner__code")))
        self.deleted = _catalog_delete(self.apps)
        users = self.apps.get_model(settings.AUTH_USER_MODEL)._default_manager
        self.user_ids = dict(users.values_list(get_user_model().USERNAME_FIELD, "pk"))
        referenced = {
            f.related_model for model in self.models.values() for f in model._meta.concrete_fields if f.is_relation
        }
        self.ids_by_key = {model: {} for model in self.models.values() if model in referenced}

    def _finish(self) -> None:
        for section in SECTIONS:
            expected, found = self.header["counts"][section.name], self.counts.get(section.name, 0)
            if expected != found:
                self._problem(
                    _(
                        "%(section)s: the header counts %(expected)s rows, the list has %(found)s; the file is incomplete or was edited."
                    )
                    % {"section": section.name, "expected": expected, "found": found}
                )
        for section in SECTIONS:
            unknown = {name: rows for (where, name), rows in self.unknown_users.items() if where == section.name}
            if unknown:
                self._problem(
                    _(
                        "%(section)s: %(rows)s rows name users who have no account here: %(names)s. Create "
                        "those accounts first, or pass --missing-users=create (inactive accounts without a "
                        "password) or --missing-users=blank (the rows keep no author)."
                    )
                    % {"section": section.name, "rows": sum(unknown.values()), "names": ", ".join(sorted(unknown))}
                )
        if self.problems:
            raise CatalogImportError(self.problems)
        self._memberships_restore()
        # Sequences are not transactional: a dry run that set them to the file's highest ids would leave
        # them there after its rollback, below the ids of a catalog it did not in the end replace.
        if not self.dry_run:
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), list(self.models.values())):
                    cursor.execute(statement)
        # Behind the code's migration the engine cannot read the database yet; after migrate, the
        # hourly recompute (or manage.py recompute) computes the results.
        if self.recompute_requested:
            recompute.portfolio_recompute_request()

    def _memberships_restore(self) -> None:
        membership = _model(self.apps, Membership)
        owner_ids = self.ids_by_key.get(related_model(concrete_field(membership, "owner")), {})
        kept = [
            membership(**{**row, "owner_id": owner_ids[code]})
            for row in self.memberships
            if (code := row.pop("owner_code")) in owner_ids
        ]
        membership._default_manager.bulk_create(kept, batch_size=BATCH_SIZE)
        self.memberships_kept = len(kept)
        self.memberships_dropped = len(self.memberships) - len(kept)

    # --- Rows ----------------------------------------------------------------------------------------

    def _import_section(self, section: Section, rows: Iterable[Any]) -> None:
        model = self.models[section.name]
        fields = list(model._meta.concrete_fields)
        names = {f.name for f in fields}
        decoders = [(f.name, self._decoder(section, f)) for f in fields]
        key_map = self.ids_by_key.get(model)
        key_positions = [fields.index(concrete_field(model, name)) for name in section.natural_key]
        batch: list[tuple[int, Model]] = []
        count = 0
        for count, raw in enumerate(rows, start=1):
            if not isinstance(raw, dict):
                self._problem(_("%(row)s: a row must be an object {…}.") % {"row": _row_label(section, count, raw)})
                continue
            if raw.keys() != names:
                self._problem(
                    _("%(row)s: unknown fields %(unknown)s, missing fields %(missing)s.")
                    % {
                        "row": _row_label(section, count, raw),
                        "unknown": sorted(raw.keys() - names) or "–",
                        "missing": sorted(names - raw.keys()) or "–",
                    }
                )
                continue
            values, valid = [], True
            for name, decode in decoders:
                try:
                    values.append(decode(raw[name]))
                except ValidationError as exc:
                    valid = False
                    self._problem(
                        _("%(row)s, %(field)s: %(error)s")
                        % {"row": _row_label(section, count, raw), "field": name, "error": " ".join(exc.messages)}
                    )
            if not valid:
                continue
            # Positional, in concrete-field order: the fast path of Model.__init__ (as when loading from the database).
            instance = model(*values)
            if key_map is not None:
                parts = tuple(values[position] for position in key_positions)
                key_map[parts[0] if len(parts) == 1 else parts] = instance.pk
            # After the first problem nothing more is inserted (it will all be rolled back), but the
            # rows are still checked, so one run lists every problem up to MAX_PROBLEMS.
            if not self.problems:
                batch.append((count, instance))
                if len(batch) >= BATCH_SIZE:
                    self._insert(section, batch)
                    batch = []
            if count % PROGRESS_EVERY == 0:
                self.progress(f"import_catalog: {section.name} {count:,}/{self.header['counts'][section.name]:,}")
        if batch and not self.problems:
            self._insert(section, batch)
        self.counts[section.name] = count
        self.progress(f"import_catalog: {section.name} {count:,} rows ({time.monotonic() - self.started:.1f} s)")

    def _decoder(self, section: Section, f: Field) -> Callable[[Any], Any]:
        """The decoder of one column: a value's, or for a foreign key the look-up of the natural key it holds."""
        if not f.is_relation:
            return value_decoder(f)
        target = related_model(f)
        width = len(natural_key_fields(target))
        is_user = is_user_model(target)
        ids = self.ids_by_key.get(target, {})
        scalar = (str, int)

        def decode(raw: Any) -> int | None:
            if raw is None:
                if not f.null:
                    raise ValidationError(_("This field cannot be empty (null)."))
                return None
            if is_user:  # by username
                return self._user_id(section, raw)
            if width == 1 and isinstance(raw, scalar) and not isinstance(raw, bool):
                key: Any = raw
            elif width > 1 and isinstance(raw, list) and len(raw) == width and all(isinstance(p, scalar) for p in raw):
                key = tuple(raw)
            else:
                raise ValidationError(
                    _("Expected the natural key of a %(target)s.") % {"target": target._meta.verbose_name}
                )
            pk = ids.get(key)
            if pk is None:
                raise ValidationError(
                    _("No %(target)s %(key)s comes before this row in the file.")
                    % {"target": target._meta.verbose_name, "key": natural_key_label(raw)}
                )
            return pk

        return decode

    def _user_id(self, section: Section, username: Any) -> int | None:
        if not isinstance(username, str) or not username:
            raise ValidationError(_("Expected a username."))
        pk = self.user_ids.get(username)
        if pk is not None:
            return pk
        if self.missing_users == MissingUsers.CREATE:
            # make_password(None) is an unusable password: nobody can sign in as this account.
            user = self.apps.get_model(settings.AUTH_USER_MODEL)(
                **{get_user_model().USERNAME_FIELD: username}, is_active=False, password=make_password(None)
            )
            user.save()
            created: int = user.pk
            self.user_ids[username] = created
            self.users_created.append(username)
            return created
        if self.missing_users == MissingUsers.BLANK:
            self.history_without_author += 1
        else:
            self.unknown_users[section.name, username] += 1
        return None

    def _insert(self, section: Section, batch: list[tuple[int, Model]]) -> None:
        """Insert a batch; if the database refuses it, find and name the row it refuses."""
        try:
            with transaction.atomic():
                _insert_as_recorded(self.models[section.name], [instance for _number, instance in batch])
            return
        except (IntegrityError, DataError) as exc:
            batch_error = exc
        for number, instance in batch:
            try:
                with transaction.atomic():
                    _insert_as_recorded(self.models[section.name], [instance])
            except (IntegrityError, DataError) as exc:
                self._problem(f"{_row_label(section, number, instance)}: {_refusal(instance, exc)}")
                return
        self._problem(
            _("%(section)s: the database refused rows %(first)s to %(last)s together: %(error)s")
            % {"section": section.name, "first": batch[0][0], "last": batch[-1][0], "error": batch_error}
        )

    # --- Problems --------------------------------------------------------------------------------------

    def _problem(self, message: str) -> None:
        self.problems.append(message)
        if len(self.problems) >= MAX_PROBLEMS:
            raise CatalogImportError([*self.problems, _("(stopped after %(n)s problems)") % {"n": MAX_PROBLEMS}])

    def _fail(self, message: str) -> None:
        raise CatalogImportError([*self.problems, message])


def _row_label(section: Section, number: int, row: Any) -> str:
    """``services row 17 (3906/1)``: the row's position and, where it has one readable, its key.

    ``row`` is the row as read from the file, or the instance made from it.
    """
    fields = section.natural_key or ("id",)
    if isinstance(row, Model):
        parts = [getattr(row, name) for name in fields]
    elif isinstance(row, dict) and all(name in row for name in fields):
        parts = [row[name] for name in fields]
    else:
        parts = None
    label = _("%(section)s row %(number)s") % {"section": section.name, "number": number}
    if parts is None:
        return label
    key = natural_key_label(parts) if section.natural_key else f"id {parts[0]}"
    return f"{label} ({key})"


def _refusal(instance: Model, exc: Exception) -> str:
    """Django's own words for a refused row where it has them (unique and check constraints), else the database's."""
    try:
        instance.validate_unique()
        instance.validate_constraints()
    except ValidationError as error:
        return " ".join(error.messages)
    return str(exc).strip().splitlines()[0]


def _insert_as_recorded(model: type[Model], instances: list[Model]) -> None:
    """INSERT the rows exactly as given, ids and timestamps included.

    ``bulk_create`` would stamp ``auto_now``/``auto_now_add`` fields with the import time; a restore must
    keep the recorded times. A raw insert is what ``loaddata`` uses for the same reason (``save_base(raw=True)``),
    here in batches. No signals are sent and nothing is recomputed per row: one recompute follows the import.
    """
    fields = model._meta.concrete_fields
    size = max(1, min(BATCH_SIZE, connection.ops.bulk_batch_size(fields, instances)))
    for start in range(0, len(instances), size):
        # The raw INSERT is QuerySet._insert, private to Django, so not in django-stubs.
        model._base_manager._insert(instances[start : start + size], fields=fields, raw=True)  # type: ignore[attr-defined]


def _catalog_delete(apps: Apps) -> dict[str, int]:
    """Delete every catalog row, and the readiness derived from it; returns rows deleted by section.

    Sections go in reverse order, so each one's dependants are already gone when it is deleted.
    Memberships and owner-scoped report digests go with their owners (CASCADE).
    """
    _model(apps, ServiceReadiness)._default_manager.all().delete()
    deleted = {}
    for section in reversed(SECTIONS):
        manager = _model(apps, section.model)._default_manager
        total = 0
        while ids := list(manager.order_by().values_list("pk", flat=True)[:DELETE_CHUNK]):
            total += manager.filter(pk__in=ids).delete()[1].get(section.model._meta.label, 0)
        deleted[section.name] = total
    return dict(reversed(deleted.items()))
