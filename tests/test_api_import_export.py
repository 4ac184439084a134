"""Bulk import (JSON in both Altinn II formats, CSV as body or upload; dry run; all-or-nothing) and
export (CSV and XLSX of the filtered list, safe against spreadsheet formula injection)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest

from migration_app.exports import EXPORT_COLUMNS, neutralise
from migration_app.importers import CSV_COLUMNS
from migration_app.models import Service, ServiceOwner
from tests.factories import API, ServiceFactory, api_test_setup, client_for, make_world

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
IMPORT = f"{API}/services/import/"


@pytest.fixture(autouse=True)
def _api_setup(settings):
    api_test_setup(settings)


def snapshot() -> list[tuple]:
    """Everything an import could change."""
    return list(Service.objects.order_by("pk").values_list()) + list(ServiceOwner.objects.order_by("pk").values_list())


# --- Import -----------------------------------------------------------------------------------------------


def test_metadata_api_json_dry_run_reports_and_writes_nothing(owner, lead):
    before = snapshot()
    rows = json.loads((DATA / "altinn2-metadata.json").read_text())
    response = client_for(lead).post(f"{IMPORT}?dry_run=1", rows, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] is True
    assert body["format"] == "metadata-api"
    assert len(body["created"]) == len(rows)
    assert {"service_code": "3906", "edition_code": 230101} in body["created"]
    assert body["summary"].startswith("Dry run, nothing written")
    assert snapshot() == before


def test_available_service_json_imports(owner, lead):
    rows = json.loads((DATA / "altinn2-available-services.json").read_text())
    response = client_for(lead).post(IMPORT, rows, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["format"] == "available-service"
    assert body["aborted"] is False
    assert Service.objects.count() == len(body["created"]) > 0
    # Importing the same file again changes nothing.
    again = client_for(lead).post(IMPORT, rows, format="json").json()
    assert (again["created"], again["updated"]) == ([], [])


def test_csv_body_and_csv_upload(owner, other_owner, lead):
    content = (DATA / "services.csv").read_bytes()
    client = client_for(lead)
    as_body = client.generic("POST", f"{IMPORT}?dry_run=true", content, content_type="text/csv")
    assert as_body.status_code == 200, as_body.content
    assert as_body.json()["format"] == "csv"
    upload = client.post(IMPORT, {"file": io.BytesIO(content)}, format="multipart")
    assert upload.status_code == 200, upload.content
    assert Service.objects.filter(service_code="3906", edition_code=230101).exists()
    # Status is never imported: it moves only through transitions.
    assert Service.objects.get(service_code="3906").status == "not_started"
    assert "status" in upload.json()["ignored_columns"]


def test_a_bad_row_is_400_with_every_error_and_nothing_written(owner, lead):
    ServiceFactory(service_code="3906", edition_code=230101, owner=owner, name_nb="Før")
    before = snapshot()
    rows = json.loads((DATA / "altinn2-metadata.json").read_text())
    rows[1]["ServiceEditionCode"] = "not a number"
    rows[2]["ServiceType"] = "Teleport"
    response = client_for(lead).post(IMPORT, rows, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["aborted"] is True
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "ServiceEditionCode"), (3, "ServiceType")]
    assert body["created"] == body["updated"] == []
    assert snapshot() == before  # the good first row, an update, was not written either


def test_a_dry_run_with_errors_is_400_too(owner, lead):
    response = client_for(lead).post(f"{IMPORT}?dry_run=1", [{"ServiceCode": "1"}], format="json")
    assert response.status_code == 400
    assert response.json()["dry_run"] is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": b"{not json", "content_type": "application/json"}, "JSON parse error"),
        ({"data": b"", "content_type": "application/json"}, "Send the file"),
        ({"data": b'{"services": []}', "content_type": "application/json"}, "Expected a JSON list"),
        ({"data": b"\xff\xfe\x00garbage", "content_type": "text/csv"}, "not UTF-8"),
    ],
)
def test_unreadable_bodies_are_400_in_the_result_shape(owner, lead, kwargs, message):
    response = client_for(lead).generic("POST", IMPORT, **kwargs)
    assert response.status_code == 400
    body = response.json()
    assert body["aborted"] is True
    assert message in body["errors"][0]["message"]
    assert body["errors"][0]["row"] == 0


def test_bad_parameter_is_400_in_the_result_shape(owner, lead):
    response = client_for(lead).post(f"{IMPORT}?file_format=xml", [], format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file_format"


def test_only_leads_import(owner, editor):
    rows = json.loads((DATA / "altinn2-metadata.json").read_text())
    response = client_for(editor).post(IMPORT, rows, format="json")
    assert response.status_code == 403
    assert not Service.objects.exists()


# --- Export -----------------------------------------------------------------------------------------------


def read_csv(response) -> list[dict[str, str]]:
    assert response.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def read_xlsx(response) -> list[list]:
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    return [list(row) for row in workbook["Services"].iter_rows(values_only=True)]


def test_csv_export_of_the_filtered_list(owner, other_owner, viewer):
    world = make_world(owner, other_owner)
    response = client_for(viewer).get(f"{API}/services/export.csv", {"owner": "skd", "readiness": "blocked"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="services-')
    rows = read_csv(response)
    assert [(r["service_code"], r["edition_code"]) for r in rows] == [("3906", "2")]
    row = rows[0]
    assert list(row) == list(EXPORT_COLUMNS)
    assert (row["owner"], row["readiness"], row["target_date"], row["id"]) == (
        "skd",
        "blocked",
        "2026-03-01",
        str(world.service.pk),
    )


def test_xlsx_export(owner, other_owner, viewer):
    make_world(owner, other_owner)
    response = client_for(viewer).get(f"{API}/services/export.xlsx", {"sort": "-volume"})
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.xlsx"')
    rows = read_xlsx(response)
    assert rows[0] == list(EXPORT_COLUMNS)
    assert [r[0] for r in rows[1:]] == ["3906", "3907", "5000"]
    volume = rows[1][EXPORT_COLUMNS.index("yearly_volume")]
    assert volume == 500_000  # a number, not text
    assert rows[1][EXPORT_COLUMNS.index("target_date")].date().isoformat() == "2026-03-01"


def test_export_errors_are_json(owner, viewer):
    response = client_for(viewer).get(f"{API}/services/export.csv", {"owner": "nosuchorg"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert client_for(None).get(f"{API}/services/export.xlsx").status_code == 401


DANGEROUS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "＝1+1"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_neutralise(text):
    assert neutralise(text) == "'" + text
    assert neutralise("Skattemelding - 2024") == "Skattemelding - 2024"  # only the first character counts


def test_formula_injection_is_neutralised_in_both_formats(owner, viewer):
    for i, text in enumerate(DANGEROUS):
        ServiceFactory(service_code=str(9000 + i), owner=owner, name_nb=text, notes=text, contact_name="x\x07y")
    client = client_for(viewer)
    csv_rows = read_csv(client.get(f"{API}/services/export.csv"))
    assert [r["name_nb"] for r in csv_rows] == ["'" + text for text in DANGEROUS]
    assert [r["notes"] for r in csv_rows] == ["'" + text for text in DANGEROUS]
    xlsx_rows = read_xlsx(client.get(f"{API}/services/export.xlsx"))[1:]
    name = EXPORT_COLUMNS.index("name_nb")
    # (XML reads a carriage return back as a line feed.)
    assert [r[name] for r in xlsx_rows] == ["'" + text.replace("\r", "\n") for text in DANGEROUS]
    # Nothing in the workbook is a formula, and control characters XML cannot hold are dropped.
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(f"{API}/services/export.xlsx").content))
    assert all(cell.data_type != "f" for row in workbook["Services"].iter_rows() for cell in row)
    assert xlsx_rows[0][EXPORT_COLUMNS.index("contact_name")] == "xy"


def test_export_can_be_imported_back_unchanged(owner, other_owner, viewer, lead):
    make_world(owner, other_owner)
    exported = client_for(viewer).get(f"{API}/services/export.csv").content
    response = client_for(lead).generic("POST", f"{IMPORT}?dry_run=1", exported, content_type="text/csv")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (len(body["unchanged"]), body["created"], body["updated"]) == (3, [], [])
    assert set(body["ignored_columns"]) == set(EXPORT_COLUMNS) - set(CSV_COLUMNS)


def test_export_query_count_is_constant(owner, other_owner, viewer, django_assert_num_queries):
    make_world(owner, other_owner)
    client = client_for(viewer)
    # 1 token and user, 2 the rows (owner and readiness joined).
    with django_assert_num_queries(2):
        client.get(f"{API}/services/export.csv")
    ServiceFactory.create_batch(20, owner=owner)
    with django_assert_num_queries(2):
        client.get(f"{API}/services/export.xlsx")
