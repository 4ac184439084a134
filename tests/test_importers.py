"""Importers: Altinn's organisation list and the three Altinn II service formats, through the service
functions and the management commands."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from migration_app.choices import Altinn3Target, Criticality, MigrationStatus, ServiceType
from migration_app.importers import ImportFormat, altinn2_import, orgs_import, parse_services
from migration_app.models import Service, ServiceOwner
from tests.factories import ServiceFactory, ServiceOwnerFactory

DATA = Path(__file__).parent / "data"
ORGS_FILE = DATA / "altinn-orgs.json"
METADATA_FILE = DATA / "altinn2-metadata.json"
AVAILABLE_FILE = DATA / "altinn2-available-services.json"
CSV_FILE = DATA / "services.csv"
OSLO = ZoneInfo("Europe/Oslo")


def run(command: str, *args: Any, **options: Any) -> tuple[str, str]:
    """Run a management command; return (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *[str(a) for a in args], stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def metadata_row(code: str = "3906", edition: Any = 1, **overrides: Any) -> dict[str, Any]:
    """One object of the Altinn II metadata API list; override or drop (value ...) fields per test."""
    row = {
        "ServiceOwnerCode": "SKD",
        "ServiceOwnerName": "Skatteetaten",
        "ServiceName": f"Tjeneste {code}",
        "ServiceCode": code,
        "ServiceEditionName": f"Utgave {edition}",
        "ServiceEditionCode": edition,
        "ValidFrom": "2020-01-01T00:00:00",
        "ValidTo": "2100-01-01T00:00:00",
        "ServiceType": "FormTask",
        "_links": {"self": {"href": f"https://www.altinn.no/api/metadata/{code}/{edition}"}},
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not ...}


def write_json(tmp_path: Path, rows: Any, name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def catalog_state() -> list[tuple]:
    """Everything an import may change, to prove a failed import changed nothing."""
    services = list(
        Service.objects.order_by("pk").values_list(
            "service_code", "edition_code", "owner_id", "name_nb", "edition_name", "service_type", "version"
        )
    )
    owners = list(ServiceOwner.objects.order_by("pk").values_list("code", "name_nb"))
    return [*services, *owners]


# --- The three formats ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metadata_api_export_creates_services_and_unknown_owners(owner, other_owner):
    out, _err = run("import_altinn2", METADATA_FILE)

    assert "Imported 4 rows: 4 created, 0 updated, 0 unchanged; owners created: difi." in out
    tax = Service.objects.get(service_code="3906", edition_code=230101)
    assert tax.owner == owner
    assert tax.name_nb == "Skattemelding for formues- og inntektsskatt"
    assert tax.edition_name == "Skattemelding 2023"
    assert tax.service_type == ServiceType.FORM_TASK
    # Altinn II's naive date-times are Norwegian local time.
    assert tax.valid_from == datetime.datetime(2023, 1, 1, tzinfo=OSLO)
    # The import never decides the outcome nor moves the lifecycle.
    assert tax.target == Altinn3Target.UNDECIDED
    assert tax.status == MigrationStatus.NOT_STARTED
    assert tax.version == 1
    message = Service.objects.get(service_code="5229")
    assert (message.owner, message.service_type, message.valid_to) == (other_owner, ServiceType.CORRESPONDENCE, None)
    scheme = Service.objects.get(service_code="AppId:64")
    assert scheme.service_type == ServiceType.DELEGATION_SCHEME
    assert (scheme.owner.code, scheme.owner.name_nb) == ("difi", "Direktoratet for forvaltning og IKT")
    # AltinnApp entries are tracked as forms (documented in importers.METADATA_API_TYPES).
    app = Service.objects.get(service_code="SKDSK")
    assert app.service_type == ServiceType.FORM_TASK
    assert app.valid_to == datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)


@pytest.mark.django_db
def test_available_service_export_maps_integer_types_and_nulls():
    out, _err = run("import_altinn2", AVAILABLE_FILE)

    assert "3 created" in out
    assert "owners created: difi, nav, ssb." in out
    types = dict(Service.objects.values_list("service_code", "service_type"))
    assert types == {"4936": ServiceType.FORM_TASK, "BOABA": ServiceType.BROKER, "4711": ServiceType.LINK}
    broker = Service.objects.get(service_code="BOABA")
    assert (broker.edition_code, broker.edition_name, broker.valid_from, broker.valid_to) == (3, "", None, None)
    assert Service.objects.get(service_code="4936").edition_name == "Inntektsmelding sykepenger"


@pytest.mark.django_db
def test_tracker_csv_sets_every_column_but_never_status(owner, other_owner):
    out, err = run("import_altinn2", CSV_FILE)

    assert "2 created" in out
    assert "Ignored columns: status" in err
    tax = Service.objects.get(service_code="3906", edition_code=230101)
    assert tax.status == MigrationStatus.NOT_STARTED
    assert (tax.name_en, tax.edition_name, tax.yearly_volume) == ("Tax return", "2023", 2_500_000)
    assert (tax.criticality, tax.target, tax.altinn3_reference) == ("critical", "AltinnApp", "skd/skattemelding")
    assert (tax.planned_start, tax.target_date) == (datetime.date(2024, 1, 15), datetime.date(2025, 12, 31))
    assert (tax.contact_name, tax.contact_email) == ("Kari Nordmann", "kari@skatteetaten.no")
    assert tax.notes == 'Prefill from the register, "big" one'
    message = Service.objects.get(service_code="5229")
    # Choice values are matched case-insensitively ("correspondence").
    assert (message.service_type, message.criticality) == (ServiceType.CORRESPONDENCE, Criticality.LOW)


@pytest.mark.django_db
def test_csv_from_norwegian_excel_with_semicolons_and_dotted_dates(owner):
    content = "\ufeffservice_code;edition_code;owner;name_nb;service_type;target_date;yearly_volume\n4000;1;SKD;Skjema;Lookup;31.12.2025;12 000\n"

    result = altinn2_import(content=content.encode())

    assert result.created == [("4000", 1)]
    service = Service.objects.get()
    assert (service.owner, service.target_date, service.yearly_volume) == (owner, datetime.date(2025, 12, 31), 12000)


@pytest.mark.django_db
def test_csv_with_only_some_columns_updates_just_those():
    service = ServiceFactory(service_code="4000", edition_code=1, name_nb="Skjema", yearly_volume=5)

    result = altinn2_import(content="service_code,edition_code,target_date\n4000,1,2026-04-30\n")

    assert result.updated == [("4000", 1)]
    service.refresh_from_db()
    assert (service.target_date, service.name_nb, service.yearly_volume) == (datetime.date(2026, 4, 30), "Skjema", 5)


def test_format_is_detected_from_content():
    metadata = json.dumps([metadata_row()])
    available = json.dumps([{"ExternalServiceCode": "1", "ExternalServiceEditionCode": 1, "ServiceType": 2}])
    assert parse_services(metadata.encode()).format == ImportFormat.METADATA_API
    assert parse_services(available).format == ImportFormat.AVAILABLE_SERVICE
    assert parse_services("service_code,edition_code\n1,1\n").format == ImportFormat.CSV
    # The REST API may hand over a JSON body it has already decoded.
    assert parse_services([metadata_row()]).format == ImportFormat.METADATA_API


@pytest.mark.django_db
def test_api_can_pass_decoded_json_and_serialise_the_result(owner):
    result = altinn2_import(content=[metadata_row("3906", 1), metadata_row("3906", "x")], skip_invalid=True)

    data = result.as_dict()
    assert data["format"] == "metadata-api"
    assert data["created"] == [{"service_code": "3906", "edition_code": 1}]
    assert data["errors"] == [
        {"row": 2, "field": "ServiceEditionCode", "service_code": "3906", "message": mock.ANY},
    ]
    json.dumps(data)


# --- Idempotency and updates --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "rows"), [(METADATA_FILE, 4), (AVAILABLE_FILE, 3), (CSV_FILE, 2)])
def test_importing_the_same_file_twice_changes_nothing(owner, other_owner, path, rows):
    run("import_altinn2", path)
    before = list(Service.objects.order_by("pk").values_list("pk", "version", "updated_at"))

    with mock.patch("migration_app.services.recompute.portfolio_recompute_request") as changed:
        out, _err = run("import_altinn2", path)

    assert f"Imported {rows} rows: 0 created, 0 updated, {rows} unchanged; owners created: none." in out
    assert list(Service.objects.order_by("pk").values_list("pk", "version", "updated_at")) == before
    assert all(version == 1 for _pk, version, _at in before)
    changed.assert_not_called()


@pytest.mark.django_db
def test_changed_row_updates_imported_fields_bumps_version_and_keeps_the_rest(owner, other_owner):
    service = ServiceFactory(
        service_code="3906",
        edition_code=1,
        owner=owner,
        name_nb="Gammelt navn",
        status=MigrationStatus.DEVELOPMENT,
        target=Altinn3Target.ALTINN_APP,
        yearly_volume=123,
        notes="Owner's notes",
    )
    Service.objects.filter(pk=service.pk).update(version=3)
    rows = [metadata_row("3906", 1, ServiceName="Nytt navn", ServiceOwnerCode="BRG", ValidTo=None)]

    with mock.patch("migration_app.services.recompute.portfolio_recompute_request") as changed:
        result = altinn2_import(content=json.dumps(rows))

    assert (result.created, result.updated, result.unchanged) == ([], [("3906", 1)], [])
    service.refresh_from_db()
    assert (service.name_nb, service.owner, service.valid_to, service.version) == ("Nytt navn", other_owner, None, 4)
    assert (service.status, service.target, service.yearly_volume, service.notes) == (
        MigrationStatus.DEVELOPMENT,
        Altinn3Target.ALTINN_APP,
        123,
        "Owner's notes",
    )
    changed.assert_called_once_with()


@pytest.mark.django_db
def test_unknown_owner_codes_are_created_once_and_reported(tmp_path):
    rows = [
        metadata_row("1", 1, ServiceOwnerCode="DIFI", ServiceOwnerName="Difi"),
        metadata_row("2", 1, ServiceOwnerCode="difi", ServiceOwnerName="Difi"),
        metadata_row("3", 1, ServiceOwnerCode="NKOM", ServiceOwnerName=None),
    ]

    out, _err = run("import_altinn2", write_json(tmp_path, rows))

    assert "owners created: difi, nkom." in out
    assert dict(ServiceOwner.objects.values_list("code", "name_nb")) == {"difi": "Difi", "nkom": "NKOM"}
    assert set(Service.objects.values_list("owner__code", flat=True)) == {"difi", "nkom"}


# --- Bad input: all or nothing ------------------------------------------------------------------------


BAD_ROWS = [
    pytest.param({"ServiceCode": None}, "ServiceCode", "missing", id="missing-code"),
    pytest.param({"ServiceCode": ...}, "ServiceCode", "missing", id="absent-code"),
    pytest.param({"ServiceEditionCode": "abc"}, "ServiceEditionCode", "whole number", id="non-integer-edition"),
    pytest.param({"ServiceEditionCode": 1.5}, "ServiceEditionCode", "whole number", id="fractional-edition"),
    pytest.param({"ServiceType": "Fax"}, "ServiceType", "Unknown service type", id="unknown-type"),
    pytest.param({"ValidFrom": "2020-13-45"}, "ValidFrom", "not a date", id="bad-date"),
    pytest.param({"ValidTo": "2019-01-01T00:00:00"}, "ValidTo", "before", id="valid-to-before-from"),
    pytest.param({"ServiceName": None}, "ServiceName", "new service needs", id="new-service-without-name"),
    pytest.param({"ServiceOwnerCode": "S K D"}, "ServiceOwnerCode", "organisation code", id="bad-owner-code"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "field", "message"), BAD_ROWS)
def test_a_bad_row_fails_the_whole_import_naming_row_and_field(owner, tmp_path, overrides, field, message):
    ServiceFactory(service_code="5229", edition_code=1, owner=owner, name_nb="Uendret")
    rows = [metadata_row("5229", 1, ServiceName="Endret"), metadata_row("3906", 2, **overrides)]
    before = catalog_state()

    with pytest.raises(CommandError) as exc_info:
        run("import_altinn2", write_json(tmp_path, rows))

    error = str(exc_info.value)
    assert "nothing imported" in error
    assert f"Row 2 (service 3906), {field}:" in error or f"Row 2, {field}:" in error
    assert message in error
    assert "Row 1" not in error
    assert catalog_state() == before


@pytest.mark.django_db
def test_duplicate_key_in_one_file_names_both_rows(tmp_path):
    rows = [metadata_row("3906", 1), metadata_row("4000", 1), metadata_row("3906", 1, ServiceName="Annet")]

    with pytest.raises(CommandError, match=r"Row 1 \(service 3906\), ServiceEditionCode: .*rows 1, 3") as exc_info:
        run("import_altinn2", write_json(tmp_path, rows))

    assert "Row 3 (service 3906), ServiceEditionCode" in str(exc_info.value)
    assert not Service.objects.exists()


@pytest.mark.django_db
def test_csv_errors_name_data_row_and_column(owner, tmp_path):
    path = tmp_path / "services.csv"
    path.write_text(
        "service_code,edition_code,owner,name_nb,service_type,target_date,criticality\n"
        "4000,1,skd,Skjema,FormTask,2025-12-31,high\n"
        "4001,x,skd,Skjema,FormTask,2025-12-31,high\n"
        "4002,1,skd,Skjema,FormTask,someday,urgent\n"
        "4003,1,nosuchorg,Skjema,FormTask,,\n",
        encoding="utf-8",
    )

    with pytest.raises(CommandError) as exc_info:
        run("import_altinn2", path)

    error = str(exc_info.value)
    assert "Row 2 (service 4001), edition_code:" in error
    assert "Row 3 (service 4002), target_date:" in error
    assert "Row 3 (service 4002), criticality:" in error
    assert "Row 4 (service 4003), owner: Unknown organisation 'nosuchorg'" in error
    assert not Service.objects.exists()


BAD_FILES = [
    pytest.param(b'{"ServiceCode": "3906"}', "JSON list", id="object-not-list"),
    pytest.param(b'[{"Code": 1}]', "neither ServiceCode nor ExternalServiceCode", id="unknown-json-list"),
    pytest.param(b"[1, 2", "Not valid JSON", id="truncated-json"),
    pytest.param("tjenestekode;utgave\n3906;1\n".encode("latin-1"), "header lacks", id="not-our-csv"),
    pytest.param('[{"ServiceName": "Søknad"}]'.encode("latin-1"), "not UTF-8", id="not-utf8"),
    pytest.param(b"SQLite format 3\x00\x10\x00", "binary", id="binary"),
    pytest.param(b"   \n", "empty", id="empty"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("content", "message"), BAD_FILES)
def test_unreadable_or_wrongly_shaped_file_is_refused(owner, tmp_path, content, message):
    path = tmp_path / "export.dat"
    path.write_bytes(content)
    before = catalog_state()

    with pytest.raises(CommandError, match=f"File: .*{message}"):
        run("import_altinn2", path)
    # --skip-invalid cannot rescue a file that cannot be read at all.
    with pytest.raises(CommandError):
        run("import_altinn2", path, skip_invalid=True)
    assert catalog_state() == before


@pytest.mark.django_db
def test_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_altinn2", tmp_path / "nope.json")


@pytest.mark.django_db
def test_skip_invalid_imports_the_good_rows_and_reports_the_rest(tmp_path):
    rows = [metadata_row("1", 1), metadata_row("2", "x"), metadata_row("3", 1, ServiceType="Fax")]

    out, err = run("import_altinn2", write_json(tmp_path, rows), skip_invalid=True)

    assert "Imported 1 rows: 1 created" in out
    assert "Skipped 2 invalid rows." in out
    assert "Skipped: Row 2 (service 2), ServiceEditionCode" in err
    assert "Skipped: Row 3 (service 3), ServiceType" in err
    assert list(Service.objects.values_list("service_code", flat=True)) == ["1"]


@pytest.mark.django_db
def test_dry_run_reports_changes_and_writes_nothing(owner, tmp_path):
    ServiceFactory(service_code="3906", edition_code=1, owner=owner, name_nb="Gammelt")
    rows = [metadata_row("3906", 1, ServiceName="Nytt"), metadata_row("4000", 1, ServiceOwnerCode="NEW")]
    before = catalog_state()

    with mock.patch("migration_app.services.recompute.portfolio_recompute_request") as changed:
        out, _err = run("import_altinn2", write_json(tmp_path, rows), dry_run=True)

    assert "Would update 3906/1" in out
    assert "Would create 4000/1" in out
    assert "Dry run, nothing written. Would import 2 rows: 1 created, 1 updated, 0 unchanged" in out
    assert "owners created: new." in out
    assert catalog_state() == before
    changed.assert_not_called()


# --- Speed: a constant number of queries -------------------------------------------------------------------


def _rows(count: int, *, name: str = "Tjeneste") -> str:
    return json.dumps(
        [metadata_row(str(5000 + i), 1, ServiceName=f"{name} {i}", ServiceOwnerCode="NEWORG") for i in range(count)]
    )


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 30])
def test_import_runs_a_constant_number_of_queries(django_assert_num_queries, count):
    # Fewer rows than one bulk batch (SQLite allows ~35 service rows per INSERT, PostgreSQL 500).
    with mock.patch("migration_app.services.recompute.portfolio_recompute_request") as changed:
        # SAVEPOINT; SELECT owners by code; SELECT services by code (FOR UPDATE); INSERT owners;
        # INSERT services; RELEASE SAVEPOINT.
        with django_assert_num_queries(6):
            result = altinn2_import(content=_rows(count))
        assert len(result.created) == count
        # SAVEPOINT; SELECT owners; SELECT services; UPDATE services (CASE per row); RELEASE SAVEPOINT.
        with django_assert_num_queries(5):
            result = altinn2_import(content=_rows(count, name="Endret"))
        assert len(result.updated) == count
        # SAVEPOINT; SELECT owners; SELECT services; RELEASE SAVEPOINT: nothing to write.
        with django_assert_num_queries(4):
            result = altinn2_import(content=_rows(count, name="Endret"))
        assert len(result.unchanged) == count
    assert changed.call_count == 2


# --- Altinn's organisation list ----------------------------------------------------------------------------


def test_committed_copy_of_the_org_list_matches_shared():
    shared = Path(settings.BASE_DIR).parent / "shared" / "data" / "altinn-orgs.json"
    if not shared.exists():
        pytest.skip(f"{shared} is not beside this checkout")
    assert json.loads(ORGS_FILE.read_bytes()) == json.loads(shared.read_bytes())


@pytest.mark.django_db
def test_import_orgs_loads_altinns_list_and_is_idempotent():
    out, err = run("import_orgs", ORGS_FILE)

    assert "Imported 106 organisations: 106 created, 0 updated, 0 unchanged." in out
    assert ServiceOwner.objects.count() == 106
    skd = ServiceOwner.objects.get(code="skd")
    assert (skd.name_nb, skd.name_en, skd.orgnr) == ("Skatteetaten", "Norwegian Tax Administration", "974761076")
    assert skd.homepage == "https://www.skatteetaten.no"
    # Test organisations keep their place but not their made-up organisation numbers.
    assert ServiceOwner.objects.get(code="acn").orgnr == ""
    assert "acn: organisation number 999999990 fails the MOD11 check" in err
    assert ServiceOwner.objects.get(code="ttd").orgnr == ""

    before = list(ServiceOwner.objects.order_by("pk").values_list("pk", "updated_at"))
    out, _err = run("import_orgs", ORGS_FILE)

    assert "Imported 106 organisations: 0 created, 0 updated, 106 unchanged." in out
    assert list(ServiceOwner.objects.order_by("pk").values_list("pk", "updated_at")) == before


@pytest.mark.django_db
def test_org_list_refreshes_an_owner_created_by_a_service_import():
    altinn2_import(content=json.dumps([metadata_row(ServiceOwnerCode="SKD", ServiceOwnerName="SKATTEETATEN")]))

    result = orgs_import(data=json.loads(ORGS_FILE.read_bytes()))

    assert result.updated == ["skd"]
    assert ServiceOwner.objects.get(code="skd").name_nb == "Skatteetaten"


@pytest.mark.django_db
def test_org_list_keeps_values_it_does_not_state():
    ServiceOwnerFactory(code="skd", name_nb="Skatteetaten", contact_email="migrering@skatteetaten.no")
    data = {"orgs": {"SKD": {"name": {"nb": "Skatteetaten", "en": "Tax"}, "orgnr": "974761076"}}}

    result = orgs_import(data=data)

    assert result.updated == ["skd"]
    owner = ServiceOwner.objects.get(code="skd")
    assert (owner.name_en, owner.contact_email) == ("Tax", "migrering@skatteetaten.no")


@pytest.mark.django_db
def test_org_contact_email_is_taken_when_present_and_valid():
    data = {
        "orgs": {
            "abc": {"name": {"nb": "ABC"}, "orgnr": "", "contact": {"email": "post@abc.no", "phone": "+47"}},
            "def": {"name": {"nb": "DEF"}, "orgnr": "", "contact": {"email": "not an e-mail"}},
        }
    }

    result = orgs_import(data=data)

    assert dict(ServiceOwner.objects.values_list("code", "contact_email")) == {"abc": "post@abc.no", "def": ""}
    assert any("def: contact e-mail" in warning for warning in result.warnings)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content", [b'["skd"]', b'{"orgs": ["skd"]}', b'{"orgs": {"skd": "Skatteetaten"}}', b"{", b"\xff\xfe"]
)
def test_import_orgs_refuses_a_file_of_the_wrong_shape(tmp_path, content):
    path = tmp_path / "orgs.json"
    path.write_bytes(content)

    with pytest.raises(CommandError):
        run("import_orgs", path)
    assert not ServiceOwner.objects.exists()


@pytest.mark.django_db
def test_org_import_runs_a_constant_number_of_queries(django_assert_num_queries):
    # 50 organisations fit in one INSERT on every backend (SQLite takes 999 parameters, ~99 owners).
    orgs = json.loads(ORGS_FILE.read_bytes())["orgs"]
    data = {"orgs": dict(list(orgs.items())[:50])}
    # SAVEPOINT; SELECT owners by code; INSERT owners (one batch); RELEASE SAVEPOINT.
    with django_assert_num_queries(4):
        orgs_import(data=data)
    # SAVEPOINT; SELECT owners by code; RELEASE SAVEPOINT: nothing changed, nothing written.
    with django_assert_num_queries(3):
        orgs_import(data=data)


@pytest.mark.django_db
def test_a_csv_of_nothing_but_separators_is_an_empty_file():
    from migration_app.importers import altinn2_import

    result = altinn2_import(content=b";\n;;\n", format_hint="csv")
    assert result.aborted
    assert "empty" in str(result.errors[0])
