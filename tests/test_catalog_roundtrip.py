"""``export_catalog`` / ``import_catalog``: the whole catalog survives a round trip through one file, field by field.

The comparison here reads the database through the ORM on its own terms (every concrete field of every
exported model, foreign keys by the target's natural key), not through the exporter's code, so a mistake
shared by the export and the import cannot cancel out.
"""

from __future__ import annotations

import datetime
import gzip
import importlib
import io
import json
import re
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from migration_app.choices import MembershipRole
from migration_app.models import (
    Dependency,
    Membership,
    Milestone,
    PlatformCapability,
    ProgressSnapshot,
    Service,
    ServiceOwner,
    StatusChange,
)
from migration_app.services.snapshots import progress_snapshot_backfill, progress_snapshot_take
from migration_app.transfer import SECTIONS, jsonstream
from tests.conftest import require_service
from tests.factories import MembershipFactory, ServiceOwnerFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 28)
OSLO = datetime.timezone(datetime.timedelta(hours=1))
CATALOG_MODELS = (ServiceOwner, PlatformCapability, Service, Dependency, StatusChange, Milestone, ProgressSnapshot)
# How rows are matched across the trip; rows without a natural key (edges, history) by id, which the import keeps.
NATURAL_KEYS: dict[type, tuple[str, ...]] = {
    ServiceOwner: ("code",),
    PlatformCapability: ("key",),
    Service: ("service_code", "edition_code"),
    Milestone: ("key",),
    ProgressSnapshot: ("day", "scope", "scope_key"),
    get_user_model(): ("username",),
}


# --- The catalog: the demo programme, with every field of every exported model given a value ----------


@pytest.fixture(scope="module")
def catalog(module_db) -> None:
    """Seeded once for the module (each test's changes are rolled back with its savepoint)."""
    call_command(
        "seed_demo", "--services", "60", "--seed", "7", "--today", TODAY.isoformat(), "--no-snapshots",
        stdout=StringIO(), stderr=StringIO(),
    )  # fmt: skip
    # A week of daily snapshots (the demo's full year is 365 days of rows, slow to no purpose here).
    progress_snapshot_backfill(first=TODAY - datetime.timedelta(days=7), last=TODAY - datetime.timedelta(days=1))
    # Fields the demo leaves empty everywhere.
    ServiceOwner.objects.filter(code__in=["skd", "nav", "brg"]).update(contact_email="postmottak@etat.example")
    Milestone.objects.filter(key="altinn2-shutdown").update(description="Siste dag – «Altinn II» slås av.\nLinje to.")
    # Version counters above their start, and times with microseconds in another UTC offset.
    capability = PlatformCapability.objects.order_by("key").first()
    PlatformCapability.objects.filter(pk=capability.pk).update(
        version=4, updated_at=datetime.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=OSLO)
    )
    Dependency.objects.filter(pk=Dependency.objects.order_by("pk").first().pk).update(version=3)
    Service.objects.filter(pk=Service.objects.order_by("pk").first().pk).update(
        updated_at=datetime.datetime(2026, 11, 27, 23, 59, 59, 999999, tzinfo=OSLO),
        notes="<script>alert(1)</script> 🚀",
    )
    _every_field_has_a_value()


def _every_field_has_a_value() -> None:
    """Guard the fixture: a field that is empty in every row would make its round trip prove nothing."""
    for model in CATALOG_MODELS:
        for field in model._meta.concrete_fields:
            filled = model.objects.exclude(**{f"{field.attname}__isnull": True})
            if field.get_internal_type() in {"CharField", "TextField", "SlugField", "EmailField", "URLField"}:
                filled = filled.exclude(**{field.attname: ""})
            assert filled.exists(), f"{model.__name__}.{field.name} is empty in every row of the test catalog"


def catalog_state() -> dict[str, dict[Any, dict[str, Any]]]:
    """Every concrete field of every row of every exported model; foreign keys by the target's natural key."""
    state = {}
    for model in CATALOG_MODELS:
        fields = model._meta.concrete_fields
        relations = [f.name for f in fields if f.is_relation]
        rows = {}
        for obj in model.objects.select_related(*relations):
            row = {}
            for field in fields:
                if field.is_relation:
                    target = getattr(obj, field.name)
                    row[field.name] = None if target is None else _natural_key(target)
                else:
                    row[field.name] = _exact(getattr(obj, field.attname))
            rows[_natural_key(obj) if model in NATURAL_KEYS else obj.pk] = row
        state[model.__name__] = rows
    return state


def _natural_key(obj: Any) -> tuple:
    return tuple(getattr(obj, name) for name in NATURAL_KEYS[type(obj)])


def _exact(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        assert value.tzinfo is not None, "times are stored aware"
        # Equal instants compare equal across offsets; UTC makes the microseconds visible in a failure.
        return value.astimezone(datetime.UTC)
    return value


def catalog_delete() -> None:
    for model in reversed(CATALOG_MODELS):
        model.objects.all().delete()
    for model in CATALOG_MODELS:
        assert not model.objects.exists()


def export(path: Path) -> str:
    out = StringIO()
    call_command("export_catalog", str(path), stdout=out, stderr=StringIO())
    return out.getvalue()


def import_catalog(path: Path | str, *args: str) -> str:
    out = StringIO()
    call_command("import_catalog", str(path), *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def document_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def without_export_time(text: str) -> str:
    return re.sub(r'^"exported_at": ".*",$', '"exported_at": …,', text, count=1, flags=re.MULTILINE)


def edit_document(path: Path, change: Any) -> Path:
    """Rewrite a catalog file through ``change(document)``; the result is pretty-printed, not one row a line."""
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    edited = path.with_name("edited.json")
    edited.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    return edited


# --- The round trip --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["catalog.json", "catalog.json.gz"])
def test_round_trip_into_an_empty_catalog_gives_back_every_field_of_every_row(catalog, tmp_path, name):
    before = catalog_state()
    path = tmp_path / name
    export(path)
    catalog_delete()

    output = import_catalog(path)

    assert "Imported: 106 service owners, 19 platform capabilities, 60 services" in output
    after = catalog_state()
    for model in CATALOG_MODELS:
        assert after[model.__name__] == before[model.__name__], f"{model.__name__} differs after the round trip"
    # And exported again, the catalog is the same document, byte for byte but for the export time.
    again = tmp_path / f"again-{name}"
    export(again)
    assert without_export_time(document_text(again)) == without_export_time(document_text(path))


def test_gzip_export_is_the_plain_document_compressed(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    export(tmp_path / "catalog.json.gz")
    assert (tmp_path / "catalog.json.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert without_export_time(document_text(tmp_path / "catalog.json.gz")) == without_export_time(
        document_text(tmp_path / "catalog.json")
    )


def test_file_names_its_format_export_time_and_migration_and_keeps_ids(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    document = json.loads((tmp_path / "catalog.json").read_text(encoding="utf-8"))

    assert document["format"] == "altinn-migration-tracker/catalog"
    assert document["format_version"] == 1
    assert datetime.datetime.fromisoformat(document["exported_at"]).tzinfo is not None
    latest = max(name for app, name in _applied() if app == "migration_app")
    assert document["migration"] == {"migration_app": latest}
    assert document["counts"]["services"] == len(document["services"]) == 60
    service = Service.objects.select_related("owner").order_by("pk").first()
    row = document["services"][0]
    assert (row["id"], row["service_code"], row["owner"]) == (service.pk, service.service_code, service.owner.code)
    edge = Dependency.objects.filter(depends_on_service__isnull=False).select_related("depends_on_service").first()
    row = next(r for r in document["dependencies"] if r["id"] == edge.pk)
    assert row["depends_on_service"] == [edge.depends_on_service.service_code, edge.depends_on_service.edition_code]
    # No accounts: history names its author, nothing more.
    assert not {"users", "memberships"} & document.keys()
    assert {r["changed_by"] for r in document["status_changes"]} <= {
        *get_user_model().objects.values_list("username", flat=True),
        None,
    }


def _applied() -> set[tuple[str, str]]:
    from django.db.migrations.recorder import MigrationRecorder

    return set(MigrationRecorder(connection).applied_migrations())


def test_export_to_standard_output_is_the_same_document(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    out, err = StringIO(), StringIO()
    call_command("export_catalog", "-", stdout=out, stderr=err)
    assert without_export_time(out.getvalue()) == without_export_time(document_text(tmp_path / "catalog.json"))
    assert "Exported" in err.getvalue()


def test_import_reads_gzip_from_standard_input(catalog, tmp_path, monkeypatch):
    before = catalog_state()
    export(tmp_path / "catalog.json.gz")
    catalog_delete()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((tmp_path / "catalog.json.gz").read_bytes())))

    import_catalog("-")

    assert catalog_state() == before


def test_any_json_layout_imports_whatever_the_chunk_boundaries(catalog, tmp_path, monkeypatch):
    before = catalog_state()
    export(tmp_path / "catalog.json")
    pretty = edit_document(tmp_path / "catalog.json", lambda document: None)
    catalog_delete()
    # Seven characters a read: every value of the file is split across reads somewhere.
    monkeypatch.setattr(jsonstream, "READ_SIZE", 7)

    import_catalog(pretty)

    assert catalog_state() == before


def test_ids_continue_after_the_imported_ones(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    highest = Service.objects.order_by("-pk").values_list("pk", flat=True).first()
    catalog_delete()
    import_catalog(tmp_path / "catalog.json")

    created = Service.objects.create(
        service_code="9999",
        edition_code=1,
        name_nb="Ny",
        owner=ServiceOwner.objects.get(code="skd"),
        service_type="Lookup",
    )
    assert created.pk > highest


def test_import_asks_for_one_recompute_when_it_commits(catalog, tmp_path, django_capture_on_commit_callbacks):
    export(tmp_path / "catalog.json")
    catalog_delete()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        import_catalog(tmp_path / "catalog.json")
    # One callback, the coalesced recompute request (services.recompute.portfolio_recompute_request), not one per row.
    assert len(callbacks) == 1
    assert callbacks[0].__module__ == "migration_app.services.recompute"


def test_a_freshly_migrated_tracker_counts_as_empty(catalog, tmp_path):
    """A new installation has the migration's milestones and, after a day, a snapshot of nothing."""
    before = catalog_state()
    export(tmp_path / "catalog.json")
    catalog_delete()
    seed = importlib.import_module("migration_app.migrations.0002_seed_milestones_and_leads")
    for key, name_nb, name_en, date, is_deadline in seed.MILESTONES:
        Milestone.objects.create(key=key, name_nb=name_nb, name_en=name_en, date=date, is_deadline=is_deadline)
    progress_snapshot_take(day=timezone.localdate())

    import_catalog(tmp_path / "catalog.json")

    assert catalog_state() == before


# --- Refusals: each leaves the database as it was ------------------------------------------------------


def test_a_non_empty_catalog_is_refused(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    Service.objects.filter(pk=Service.objects.order_by("pk").first().pk).update(name_nb="Endret etter eksporten")
    before = catalog_state()

    with pytest.raises(CommandError, match=r"The catalog is not empty \(106 service owners, .*60 services.*--replace"):
        import_catalog(tmp_path / "catalog.json")
    assert catalog_state() == before


def test_replace_swaps_the_catalog_and_keeps_memberships_of_owners_in_the_file(catalog, tmp_path):
    exported = catalog_state()
    export(tmp_path / "catalog.json")
    kari = UserFactory(username="kari")
    kept = MembershipFactory(user=kari, owner=ServiceOwner.objects.get(code="skd"), role=MembershipRole.EDITOR)
    MembershipFactory(user=kari, owner=ServiceOwnerFactory(code="nyetat"), role=MembershipRole.VIEWER)
    Service.objects.update(notes="changed after the export")

    output = import_catalog(tmp_path / "catalog.json", "--replace")

    assert catalog_state() == exported
    assert "dropped 1 (their organisations are not in the file)" in output
    memberships = Membership.objects.filter(user=kari)
    assert list(memberships.values_list("pk", "owner__code", "role")) == [(kept.pk, "skd", MembershipRole.EDITOR)]


def test_dry_run_checks_everything_and_changes_nothing(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    catalog_delete()

    output = import_catalog(tmp_path / "catalog.json", "--dry-run")

    assert "Checked (dry run, nothing changed): 106 service owners" in output
    assert not any(model.objects.exists() for model in CATALOG_MODELS)


def test_another_format_version_is_refused(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    catalog_delete()
    edited = edit_document(tmp_path / "catalog.json", lambda document: document.update(format_version=2))

    with pytest.raises(CommandError, match="format version 2; this tracker reads version 1"):
        import_catalog(edited)
    assert not Service.objects.exists()


def test_a_file_from_another_migration_is_refused_with_the_way_to_import_it(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    catalog_delete()
    older = edit_document(
        tmp_path / "catalog.json", lambda d: d.update(migration={"migration_app": "0003_engine_results"})
    )
    with pytest.raises(
        CommandError,
        match=r"exported at migration '0003_engine_results'; this database is at .*manage.py migrate migration_app 0003_engine_results",
    ):
        import_catalog(older)
    newer = edit_document(tmp_path / "catalog.json", lambda d: d.update(migration={"migration_app": "0999_future"}))
    with pytest.raises(CommandError, match=r"newer release\. Upgrade this tracker first"):
        import_catalog(newer)
    assert not Service.objects.exists()


def test_an_older_file_imports_at_its_migration_and_migrate_carries_it_forward(catalog, tmp_path):
    """A file from the previous release: the empty database is taken back to the file's migration, the
    rows go in through that migration's (historical) models, and migrate brings them to this release."""
    require_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "migrating back and forth inside a test needs transactional DDL",
    )
    before = catalog_state()
    export(tmp_path / "catalog.json")
    loader = MigrationLoader(connection)
    latest = loader.graph.leaf_nodes("migration_app")[0]
    older = next(parent for parent in loader.graph.node_map[latest].parents if parent[0] == "migration_app")
    historical = loader.project_state(older, at_end=True).apps

    def as_exported_by_the_older_release(document: dict) -> None:
        document["migration"] = {"migration_app": older[1]}
        for model in CATALOG_MODELS:
            section = next(s for s in SECTIONS if s.model is model)
            names = {f.name for f in historical.get_model(model._meta.label)._meta.concrete_fields}
            document[section.name] = [{k: v for k, v in row.items() if k in names} for row in document[section.name]]

    older_file = edit_document(tmp_path / "catalog.json", as_exported_by_the_older_release)
    catalog_delete()
    migrate_to([older])

    output = import_catalog(older_file)

    assert "run manage.py migrate, then manage.py recompute" in output
    migrate_to(MigrationLoader(connection).graph.leaf_nodes())
    kept = json.loads(older_file.read_text(encoding="utf-8"))
    after = catalog_state()
    for model in CATALOG_MODELS:
        names = next(iter(kept[next(s.name for s in SECTIONS if s.model is model)]), {}).keys()
        assert {k: {f: row[f] for f in names} for k, row in after[model.__name__].items()} == {
            k: {f: row[f] for f in names} for k, row in before[model.__name__].items()
        }


def migrate_to(targets: list[tuple[str, str]]) -> None:
    # Rows written earlier in this transaction have deferred foreign-key checks pending, and PostgreSQL
    # will not ALTER a table with pending trigger events: run the checks now.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    MigrationExecutor(connection).migrate(targets)


def test_broken_rows_are_named_by_list_row_and_field_and_nothing_is_imported(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    catalog_delete()

    def damage(document: dict) -> None:
        document["services"][4]["valid_to"] = "next spring"
        document["services"][9]["contact_email"] = "not an address"
        document["service_owners"][2]["orgnr"] = "123456789"
        document["dependencies"][0]["depends_on_capability"] = "teleportation"
        document["dependencies"][0]["depends_on_service"] = None

    edited = edit_document(tmp_path / "catalog.json", damage)
    document = json.loads(edited.read_text(encoding="utf-8"))
    fifth, tenth = document["services"][4], document["services"][9]

    with pytest.raises(CommandError) as refused:
        import_catalog(edited)

    message = str(refused.value)
    assert message.startswith("Nothing was imported:")
    owner = document["service_owners"][2]["code"]
    assert f"service_owners row 3 ({owner}), orgnr: 123456789 is not a valid organisation number" in message
    assert (
        f"services row 5 ({fifth['service_code']}/{fifth['edition_code']}), valid_to: 'next spring' is not a date"
        in message
    )
    assert (
        f"services row 10 ({tenth['service_code']}/{tenth['edition_code']}), contact_email: Enter a valid email address."
        in message
    )
    assert "dependencies row 1 (id " in message
    assert "depends_on_capability: No platform capability teleportation comes before this row" in message
    assert not any(model.objects.exists() for model in CATALOG_MODELS)


def test_a_row_the_database_refuses_is_named_and_nothing_is_imported(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    catalog_delete()

    def invert_validity(document: dict) -> None:
        row = document["services"][20]
        row["valid_from"], row["valid_to"] = "2030-01-01T00:00:00+00:00", "2020-01-01T00:00:00+00:00"

    edited = edit_document(tmp_path / "catalog.json", invert_validity)
    row = json.loads(edited.read_text(encoding="utf-8"))["services"][20]

    with pytest.raises(
        CommandError,
        match=rf"services row 21 \({row['service_code']}/{row['edition_code']}\): .*service_valid_to_after_valid_from",
    ):
        import_catalog(edited)
    assert not any(model.objects.exists() for model in CATALOG_MODELS)


def test_a_duplicate_row_is_named(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    catalog_delete()
    edited = edit_document(
        tmp_path / "catalog.json", lambda d: d["milestones"].append(dict(d["milestones"][0], id=999))
    )

    with pytest.raises(CommandError, match=r"milestones row 4 \(.+\): Milestone with this Key already exists"):
        import_catalog(edited)
    assert not Milestone.objects.exists()


def test_a_truncated_file_is_refused_and_nothing_is_imported(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    catalog_delete()
    text = (tmp_path / "catalog.json").read_text(encoding="utf-8")
    truncated = tmp_path / "truncated.json"
    truncated.write_text(text[: len(text) * 2 // 3], encoding="utf-8")

    with pytest.raises(CommandError, match="The file is not valid JSON"):
        import_catalog(truncated)
    assert not any(model.objects.exists() for model in CATALOG_MODELS)


def test_a_header_count_that_does_not_match_is_refused(catalog, tmp_path):
    export(tmp_path / "catalog.json")
    catalog_delete()
    edited = edit_document(tmp_path / "catalog.json", lambda d: d["status_changes"].pop())

    with pytest.raises(CommandError, match="status_changes: the header counts 157 rows, the list has 156"):
        import_catalog(edited)


# --- History authors without an account here --------------------------------------------------------------


@pytest.fixture
def exported_without_an_author(catalog, tmp_path) -> tuple[Path, str, dict]:
    """A catalog file whose history names a user that the importing tracker does not have."""
    author = (
        StatusChange.objects.filter(changed_by__isnull=False).values_list("changed_by__username", flat=True).first()
    )
    before = catalog_state()
    export(tmp_path / "catalog.json")
    catalog_delete()
    get_user_model().objects.filter(username=author).delete()
    return tmp_path / "catalog.json", author, before


def test_history_naming_an_unknown_user_is_refused_by_default(exported_without_an_author):
    path, author, _before = exported_without_an_author
    with pytest.raises(
        CommandError, match=rf"status_changes: \d+ rows name users who have no account here: {author}\."
    ):
        import_catalog(path)
    assert not StatusChange.objects.exists()


def test_missing_authors_can_be_created_inactive_without_a_password(exported_without_an_author):
    path, author, before = exported_without_an_author

    output = import_catalog(path, "--missing-users=create")

    assert f"Created 1 inactive accounts without a password for history authors: {author}" in output
    user = get_user_model().objects.get(username=author)
    assert not user.is_active
    assert not user.has_usable_password()
    assert catalog_state() == before


def test_missing_authors_can_be_left_blank(exported_without_an_author):
    path, author, before = exported_without_an_author
    authored = sum(1 for row in before["StatusChange"].values() if row["changed_by"] == (author,))

    output = import_catalog(path, "--missing-users=blank")

    assert f"{authored} status changes have no author" in output
    assert StatusChange.objects.filter(changed_by__isnull=True).count() == sum(
        1 for row in before["StatusChange"].values() if row["changed_by"] in {None, (author,)}
    )
