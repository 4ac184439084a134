"""What a client may send: how large a request body may be, and which files the bulk import accepts.

Size is enforced in two places, because different code reads a body depending on its type:

* ``RequestSizeLimitMiddleware`` refuses a request whose declared ``Content-Length`` is above the limit
  of the view it is for, before anything (the CSRF check, DRF's parsers, Django's multipart parser)
  reads a byte of it. Every view gets ``DATA_UPLOAD_MAX_MEMORY_SIZE``; a view that takes files names a
  larger setting in ``request_size_setting`` (the bulk import: ``IMPORT_MAX_BYTES``). Django checks
  DATA_UPLOAD_MAX_MEMORY_SIZE itself only for form fields, never for uploaded files or a body read as
  a stream, so without this a signed-in user could stream gigabytes into a temporary file.
* ``read_bounded`` counts bytes while it reads, for bodies whose size is not known in advance (under
  ASGI the stream is not cut at Content-Length).

Type: the import accepts CSV, JSON and XLSX, judged by the file name's extension (when there is one)
*and* by the content. CSV and JSON must be text, not markup or a known binary format; an XLSX must be a
zip holding ``[Content_Types].xml`` and a workbook, with no macros, whose declared uncompressed size is
bounded before openpyxl opens it (``zipfile`` stops at the declared size and fails the CRC of an entry
that lies about it, so the declaration is a real bound and a zip bomb is refused unread).
"""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from collections.abc import Callable
from enum import StrEnum
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import load_workbook

# Read a stream in pieces this big, so a refusal comes after at most one piece past the limit.
READ_CHUNK_BYTES = 64 * 1024
# An XLSX may unpack to this many times the upload limit: a real sheet of 1,000 services compresses
# about 8:1; a zip bomb compresses thousands to one.
XLSX_MAX_EXPANSION = 10
# A workbook has a dozen parts; tens of thousands of entries are a way to exhaust the parser instead.
XLSX_MAX_ENTRIES = 1000
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportFileType(StrEnum):
    """The file types the bulk import reads."""

    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"


EXTENSIONS: dict[str, ImportFileType] = {f".{kind}": kind for kind in ImportFileType}

# Formats that are never an import file, recognised by their first bytes, so the refusal can say what
# the file is. (The old binary .xls is among them: it is not an XLSX, and openpyxl cannot read it.)
BINARY_SIGNATURES: tuple[tuple[bytes, Any], ...] = (
    (b"MZ", gettext_lazy("a Windows program")),
    (b"\x7fELF", gettext_lazy("a Linux program")),
    (b"\xcf\xfa\xed\xfe", gettext_lazy("a macOS program")),
    (b"\xca\xfe\xba\xbe", gettext_lazy("a Java class or macOS program")),
    (b"%PDF", gettext_lazy("a PDF document")),
    (b"\x89PNG", gettext_lazy("a PNG image")),
    (b"GIF8", gettext_lazy("a GIF image")),
    (b"\xff\xd8\xff", gettext_lazy("a JPEG image")),
    (b"\x1f\x8b", gettext_lazy("a gzip archive")),
    (b"BZh", gettext_lazy("a bzip2 archive")),
    (b"\xfd7zXZ", gettext_lazy("an xz archive")),
    (b"7z\xbc\xaf\x27\x1c", gettext_lazy("a 7-Zip archive")),
    (b"Rar!", gettext_lazy("a RAR archive")),
    (b"\xd0\xcf\x11\xe0", gettext_lazy("an old Office file (.xls); save it as .xlsx or CSV")),
)
ZIP_SIGNATURE = b"PK\x03\x04"


class UploadRefused(Exception):
    """A request body or import file refused before anything was imported.

    ``status`` is 413 (too large), 415 (not an accepted type) or 400 (an accepted type, but unreadable).
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def human_size(size: int) -> str:
    """20971520 → "20 MB" (binary megabytes, as the limits are set)."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    if size >= 1024:
        return f"{size / 1024:.3g} kB"
    return f"{size} B"


def accepted_types_text() -> str:
    return _("CSV (.csv), JSON (.json) or an Excel workbook (.xlsx)")


def too_large(limit: int) -> UploadRefused:
    return UploadRefused(
        413,
        _("The request is larger than the limit of %(limit)s (%(bytes)s bytes).")
        % {"limit": human_size(limit), "bytes": limit},
    )


def not_accepted(reason: str) -> UploadRefused:
    return UploadRefused(
        415, _("%(reason)s The import accepts %(types)s.") % {"reason": reason, "types": accepted_types_text()}
    )


def declared_length(request: HttpRequest) -> int:
    """The body size the client declared; 0 when absent or not a number, which is what Django reads then."""
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def read_bounded(stream: IO[bytes], limit: int) -> bytes:
    """All of ``stream``, or UploadRefused (413) as soon as more than ``limit`` bytes have come."""
    pieces: list[bytes] = []
    total = 0
    while piece := stream.read(READ_CHUNK_BYTES):
        total += len(piece)
        if total > limit:
            raise too_large(limit)
        pieces.append(piece)
    return b"".join(pieces)


# --- The import file's type ----------------------------------------------------------------------------


def type_from_name(filename: str | None) -> ImportFileType | None:
    """The type an uploaded file's name claims; None when it has no extension. An extension the import
    does not read is refused: a browser or a script that sends "report.html" means it."""
    suffix = PurePath(filename or "").suffix.lower()
    if not suffix:
        return None
    if suffix not in EXTENSIONS:
        raise not_accepted(_("Files named *%(suffix)s are not accepted.") % {"suffix": suffix})
    return EXTENSIONS[suffix]


def _refuse_unless_text(content: bytes) -> None:
    """CSV and JSON are text. Markup (HTML, SVG, XML) and known binary formats are refused by name; other
    bytes are left to the importer, which explains an encoding problem better than "wrong type"."""
    if content.startswith(ZIP_SIGNATURE):
        raise not_accepted(_("The file is a zip archive, not CSV or JSON."))
    for signature, what in BINARY_SIGNATURES:
        if content.startswith(signature):
            raise not_accepted(_("The file is %(what)s.") % {"what": what})
    head = content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        raise not_accepted(_("The file is HTML, SVG or XML markup."))


def _refuse_unless_xlsx(content: bytes) -> None:
    """An Office Open XML workbook, with no macros, that unpacks to a bounded size."""
    if not content.startswith(ZIP_SIGNATURE):
        raise not_accepted(_("The file is not an Excel workbook (.xlsx)."))
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise UploadRefused(400, _("The workbook is damaged: it is not a readable zip file.")) from None
    with archive:
        entries = archive.infolist()
        names = {entry.filename for entry in entries}
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise not_accepted(_("The file is a zip archive, but not an Excel workbook."))
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise not_accepted(_("Workbooks with macros are not accepted; save it as .xlsx without macros."))
        unpacked_limit = XLSX_MAX_EXPANSION * settings.IMPORT_MAX_BYTES
        if len(entries) > XLSX_MAX_ENTRIES or sum(entry.file_size for entry in entries) > unpacked_limit:
            raise UploadRefused(
                413,
                _("The workbook unpacks to more than %(limit)s; the import reads at most that much.")
                % {"limit": human_size(unpacked_limit)},
            )


def import_file_type(content: bytes, *, claimed: ImportFileType | None = None) -> ImportFileType:
    """The type of an import file, checked against what the client claimed for it (the upload's file
    extension, or the body's media type); UploadRefused when the content is not what was claimed or not
    something the import reads.

    Nothing claimed (an upload named without an extension) lets the content decide. CSV and JSON are
    both text, and the importer's own detection tells them apart, so the check is text or workbook.
    """
    if claimed is None and content.startswith(ZIP_SIGNATURE):
        claimed = ImportFileType.XLSX
    if claimed == ImportFileType.XLSX:
        _refuse_unless_xlsx(content)
        return ImportFileType.XLSX
    _refuse_unless_text(content)
    return claimed or ImportFileType.CSV


# --- XLSX to the tracker's CSV ---------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    """A cell as the CSV importer reads it: dates as ISO dates, whole numbers without ".0"."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        # Excel has no date type: a date cell comes back as midnight of that day.
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def xlsx_as_csv(content: bytes) -> str:
    """The workbook's "Services" sheet (or its first sheet) as the tracker's CSV text, so an XLSX goes
    through exactly the same checks as a CSV. Call ``import_file_type`` first: it bounds the size."""
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and its own errors for a damaged file
        raise UploadRefused(400, _("The workbook could not be read: %(error)s") % {"error": exc}) from None
    try:
        sheet = workbook["Services"] if "Services" in workbook.sheetnames else workbook.worksheets[0]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in sheet.iter_rows(values_only=True):
            writer.writerow([_csv_cell(value) for value in row])
    except Exception as exc:
        raise UploadRefused(400, _("The workbook could not be read: %(error)s") % {"error": exc}) from None
    finally:
        workbook.close()
    return buffer.getvalue()


# --- Every request: the declared size against the view's limit ----------------------------------------------


def request_limit_for(view_func: Callable[..., Any]) -> int | None:
    """The body limit for a view: the setting its class (DRF) or function names in
    ``request_size_setting``, else DATA_UPLOAD_MAX_MEMORY_SIZE; None means unlimited."""
    view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    setting = getattr(view_class, "request_size_setting", None) or getattr(view_func, "request_size_setting", None)
    limit: int | None = getattr(settings, setting or "DATA_UPLOAD_MAX_MEMORY_SIZE")
    return limit


class RequestSizeLimitMiddleware:
    """413 for a body declared larger than its view accepts, before any other code reads it.

    Placed before CsrfViewMiddleware: the CSRF check reads ``request.POST``, which parses (and for a
    multipart body, stores) the whole body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        limit = request_limit_for(view_func)
        if limit is None or declared_length(request) <= limit:
            return None
        refusal = too_large(limit)
        return JsonResponse({"detail": refusal.message, "limit_bytes": limit}, status=refusal.status)
