"""Uploads limited in size and type (migration_app/uploads.py and the bulk import in api/transfer.py).

Size: a body declared larger than its view's limit is refused with 413 before any byte of it is read
(the tests hand Django a body that fails the test if it is read), on every view, not only the import;
a stream is cut as soon as it passes the limit. Type: the import takes CSV, JSON and XLSX, by name and by
content; HTML, SVG, programs, other archives, macro workbooks and zip bombs are refused with 415 (or
413 for the bomb) in the import result's shape, naming what is accepted, and nothing is imported.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models
from django.urls import reverse
from rest_framework.test import APIClient

from migration_app import uploads
from migration_app.api.transfer import BoundedJSONParser, CSVBodyParser
from migration_app.models import Service, ServiceOwner
from tests.factories import API, ServiceFactory, api_test_setup, client_for, make_world

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
IMPORT = f"{API}/services/import/"
CSV = (DATA / "services.csv").read_bytes()
XLSX = uploads.XLSX_MEDIA_TYPE


@pytest.fixture(autouse=True)
def _api_setup(settings):
    api_test_setup(settings)


class UnreadableBody(io.RawIOBase):
    """A request body that fails the test if anything reads it: a refusal must come before reading."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read before the size check refused it")

    readinto = read  # type: ignore[assignment]


def declared_huge(size: int = 50 * 1024**3) -> dict[str, object]:
    """WSGI environ for a request that declares ``size`` bytes and has an unreadable body."""
    return {"CONTENT_LENGTH": str(size), "wsgi.input": UnreadableBody()}


def catalog() -> list[tuple]:
    """Everything an import could change."""
    return list(Service.objects.order_by("pk").values_list()) + list(ServiceOwner.objects.order_by("pk").values_list())


def refused(response, status: int) -> dict:
    """The import's refusal: the status, JSON, and the result's shape with one file-level error."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["aborted"] is True
    assert body["created"] == body["updated"] == []
    assert body["errors"][0]["row"] == 0
    return body


def upload(client, name: str, content: bytes, **params: str):
    query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
    file = io.BytesIO(content)
    file.name = name
    return client.post(IMPORT + query, {"file": file}, format="multipart")


# --- Size -------------------------------------------------------------------------------------------------


def test_an_import_declared_too_large_is_refused_unread_with_the_limit_named(owner, lead, settings):
    settings.IMPORT_MAX_BYTES = 1000
    response = client_for(lead).generic("POST", IMPORT, b"", content_type="text/csv", **declared_huge())
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["limit_bytes"] == 1000
    assert "1000 bytes" in response.json()["detail"]
    assert not Service.objects.exists()


def test_the_limit_comes_from_the_setting(owner, other_owner, lead, settings):
    settings.IMPORT_MAX_BYTES = len(CSV) - 1
    assert client_for(lead).generic("POST", IMPORT, CSV, content_type="text/csv").status_code == 413
    settings.IMPORT_MAX_BYTES = len(CSV)
    assert client_for(lead).generic("POST", IMPORT, CSV, content_type="text/csv").status_code == 200
    assert Service.objects.count() == 2


def test_a_signed_in_browser_upload_is_refused_before_the_csrf_check_parses_it(owner, lead, settings):
    """The CSRF check reads request.POST, which for a multipart body stores every file it contains: the
    size check runs first, so a session cannot stream gigabytes to disk."""
    settings.IMPORT_MAX_BYTES = 1000
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(lead)
    response = client.generic("POST", IMPORT, b"", content_type="multipart/form-data; boundary=x", **declared_huge())
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("name", "method", "content_type"),
    [
        ("login", "POST", "application/x-www-form-urlencoded"),
        ("set_language", "POST", "application/x-www-form-urlencoded"),
        ("migration_app:service_edit", "POST", "multipart/form-data; boundary=x"),
        ("api:service-detail", "PATCH", "application/json"),
        ("api:dependency-list", "POST", "application/json"),
        ("admin:migration_app_serviceowner_add", "POST", "multipart/form-data; boundary=x"),
    ],
)
def test_every_view_refuses_a_body_over_the_general_limit_unread(owner, lead, settings, name, method, content_type):
    """Not only the import: any form or API write bigger than DATA_UPLOAD_MAX_MEMORY_SIZE is refused before
    Django's or DRF's parsers read it (Django would otherwise spool an uploaded file of any size)."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    service = ServiceFactory(owner=owner)
    kwargs = {"pk": service.pk} if name.endswith(("service_edit", "service-detail")) else {}
    lead.is_staff = lead.is_superuser = True
    lead.save()
    client = APIClient()
    client.force_login(lead)
    response = client.generic(method, reverse(name, kwargs=kwargs), b"", content_type=content_type, **declared_huge())
    assert response.status_code == 413
    assert response.json()["limit_bytes"] == 4096


def test_a_body_just_under_the_general_limit_is_read(owner, editor, settings):
    service = ServiceFactory(owner=owner)
    body = b'{"notes": "' + b"n" * 2000 + b'"}'
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)
    response = client_for(editor).patch(
        f"{API}/services/{service.pk}/", body, content_type="application/json", HTTP_IF_MATCH=f'"{service.version}"'
    )
    assert response.status_code == 200, response.content
    service.refresh_from_db()
    assert service.notes == "n" * 2000


def test_a_stream_is_cut_as_soon_as_it_passes_the_limit():
    """For bodies whose length is not known in advance (under ASGI the stream is not cut at Content-Length)."""

    class Endless(io.RawIOBase):
        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            buffer[:] = b"x" * len(buffer)
            self.served += len(buffer)
            return len(buffer)

    stream = io.BufferedReader(Endless())
    with pytest.raises(uploads.UploadRefused) as refusal:
        uploads.read_bounded(stream, 100_000)
    assert refusal.value.status == 413
    assert stream.raw.served <= 100_000 + 2 * uploads.READ_CHUNK_BYTES
    assert uploads.read_bounded(io.BytesIO(b"x" * 100_000), 100_000) == b"x" * 100_000


@pytest.mark.parametrize("parser", [BoundedJSONParser(), CSVBodyParser()])
def test_the_import_parsers_count_while_they_read(settings, parser):
    settings.IMPORT_MAX_BYTES = 1000
    with pytest.raises(uploads.UploadRefused):
        parser.parse(io.BytesIO(b"[" + b" " * 1000 + b"]"), parser.media_type, {})
    assert parser.parse(io.BytesIO(b"[1]"), parser.media_type, {}) in ([1], b"[1]")


@pytest.mark.parametrize("value", ["0", "-5", "20MB"])
def test_a_bad_limit_in_the_environment_stops_the_start(monkeypatch, value):
    from django.core.exceptions import ImproperlyConfigured

    from tracker.settings import env_bytes

    monkeypatch.setenv("IMPORT_MAX_BYTES", value)
    with pytest.raises(ImproperlyConfigured, match="IMPORT_MAX_BYTES"):
        env_bytes("IMPORT_MAX_BYTES", 1)
    monkeypatch.setenv("IMPORT_MAX_BYTES", "5242880")
    assert env_bytes("IMPORT_MAX_BYTES", 1) == 5 * 1024 * 1024


# --- Type ---------------------------------------------------------------------------------------------------


def test_an_xlsx_export_imports_back_unchanged_as_upload_and_as_body(owner, other_owner, viewer, lead):
    make_world(owner, other_owner)
    workbook = client_for(viewer).get(f"{API}/services/export.xlsx").content
    before = catalog()
    as_upload = upload(client_for(lead), "services.xlsx", workbook, dry_run="1")
    assert as_upload.status_code == 200, as_upload.content
    body = as_upload.json()
    assert body["format"] == "xlsx"
    assert (len(body["unchanged"]), body["created"], body["updated"]) == (3, [], [])
    as_body = client_for(lead).generic("POST", f"{IMPORT}?dry_run=1", workbook, content_type=XLSX)
    assert as_body.status_code == 200, as_body.content
    assert len(as_body.json()["unchanged"]) == 3
    assert catalog() == before


def test_an_xlsx_with_a_bad_row_is_refused_by_row_like_a_csv(owner, lead):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["service_code", "edition_code", "owner", "name_nb", "service_type"])
    sheet.append(["7001", 1, "skd", "Good", "FormTask"])
    sheet.append(["7002", "one", "skd", "Bad edition", "FormTask"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = upload(client_for(lead), "plan.xlsx", buffer.getvalue())
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["format"], body["aborted"]) == ("xlsx", True)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "edition_code")]
    assert not Service.objects.exists()


def a_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


WORKBOOK_PARTS = {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
OLD_EXCEL = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32
PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        pytest.param("report.html", HTML, "*.html are not accepted", id="html-by-name"),
        pytest.param("services.csv", HTML, "HTML, SVG or XML", id="html-named-csv"),
        pytest.param("services", b"\xef\xbb\xbf  \n" + SVG, "HTML, SVG or XML", id="svg-unnamed"),
        pytest.param("logo.svg", SVG, "*.svg are not accepted", id="svg-by-name"),
        pytest.param("services.csv", PROGRAM, "a Windows program", id="exe-named-csv"),
        pytest.param("services.exe", PROGRAM, "*.exe are not accepted", id="exe-by-name"),
        pytest.param("services.csv", b"\x7fELF\x02\x01\x01" + b"\x00" * 32, "a Linux program", id="elf-named-csv"),
        pytest.param("services.xls", OLD_EXCEL, "*.xls are not accepted", id="xls-by-name"),
        pytest.param("services", OLD_EXCEL, "save it as .xlsx or CSV", id="xls-unnamed"),
        pytest.param("services.zip", a_zip({"services.csv": CSV}), "*.zip are not accepted", id="zip-by-name"),
        pytest.param("services", a_zip({"s.csv": CSV}), "a zip archive, but not an Excel workbook", id="zip-unnamed"),
        pytest.param("services.csv", a_zip(WORKBOOK_PARTS), "a zip archive, not CSV or JSON", id="xlsx-named-csv"),
        pytest.param("services.xlsx", CSV, "not an Excel workbook", id="csv-named-xlsx"),
        pytest.param("macro.xlsx", a_zip({**WORKBOOK_PARTS, "xl/vbaProject.bin": b"\0"}), "with macros", id="macros"),
    ],
)
def test_files_that_are_not_csv_json_or_xlsx_are_refused_with_415(owner, lead, name, content, reason):
    before = catalog()
    body = refused(upload(client_for(lead), name, content), 415)
    message = body["errors"][0]["message"]
    assert reason in message
    assert "CSV (.csv), JSON (.json) or an Excel workbook (.xlsx)" in message
    assert catalog() == before


@pytest.mark.parametrize(
    ("content_type", "content"),
    [("text/html", HTML), ("image/svg+xml", SVG), ("application/octet-stream", PROGRAM), ("text/csv", HTML)],
    ids=["html", "svg", "octet-stream", "html-as-csv"],
)
def test_bodies_of_other_types_are_refused_with_415(owner, lead, content_type, content):
    body = refused(client_for(lead).generic("POST", IMPORT, content, content_type=content_type), 415)
    assert "CSV (.csv), JSON (.json) or an Excel workbook (.xlsx)" in body["errors"][0]["message"]
    assert not Service.objects.exists()


def test_a_zip_bomb_is_refused_before_openpyxl_opens_it(owner, lead, settings, monkeypatch):
    import openpyxl

    def must_not_open(*args, **kwargs):
        raise AssertionError("openpyxl opened a workbook that unpacks beyond the limit")

    monkeypatch.setattr(openpyxl, "load_workbook", must_not_open)
    settings.IMPORT_MAX_BYTES = 100_000
    # 2 MB of zeros compress to about 2 kB: twenty times the limit once unpacked, far under it packed.
    bomb = a_zip({**WORKBOOK_PARTS, "xl/worksheets/sheet1.xml": b"\x00" * 2_000_000})
    assert len(bomb) < 10_000
    body = refused(upload(client_for(lead), "services.xlsx", bomb), 413)
    assert "unpacks to more than 977 kB" in body["errors"][0]["message"]
    assert not Service.objects.exists()


def test_a_damaged_workbook_is_400(owner, lead):
    book = io.BytesIO()
    from openpyxl import Workbook

    Workbook().save(book)
    truncated = book.getvalue()[: len(book.getvalue()) // 2]
    body = refused(upload(client_for(lead), "services.xlsx", truncated), 400)
    assert "damaged" in body["errors"][0]["message"]


def test_a_signed_in_browser_gets_the_same_refusals(owner, lead):
    """Signed in by session, DRF's CSRF check parses the body during authentication, before the view:
    a refused type still comes back as the import's 415, and with the CSRF token only."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(lead)
    client.get(reverse("migration_app:service_list"))
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else None
    file = io.BytesIO(HTML)
    file.name = "report.html"
    without_token = client.post(IMPORT, {"file": file}, format="multipart")
    assert without_token.status_code == 403
    if token is None:  # CSRF_USE_SESSIONS: the token is in the page instead of a cookie
        page = client.get(reverse("reports:preferences")).content.decode()
        token = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    file.seek(0)
    with_token = client.post(IMPORT, {"file": file}, format="multipart", HTTP_X_CSRFTOKEN=token)
    refused(with_token, 415)


def test_one_file_per_import(owner, lead):
    first, second = io.BytesIO(CSV), io.BytesIO(CSV)
    first.name, second.name = "a.csv", "b.csv"
    body = refused(client_for(lead).post(IMPORT, {"file": first, "other": second}, format="multipart"), 400)
    assert "files" in body["errors"][0]["message"].lower()
    assert not Service.objects.exists()


def test_a_csv_upload_by_name_and_content_imports(owner, other_owner, lead):
    response = upload(client_for(lead), "Services 2026.CSV", CSV)
    assert response.status_code == 200, response.content
    assert response.json()["format"] == "csv"
    assert Service.objects.count() == 2


def test_no_model_stores_files():
    """The import is the only place that takes a file, and it keeps none. A model with a file field would be
    a second way in, which needs the same size and type limits (and somewhere safe to serve from)."""
    file_fields = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.FileField)
    ]
    assert file_fields == []
