"""Spreadsheets in and out: the bulk import (the same code as ``import_altinn2``) and the CSV/XLSX export
of the filtered catalog (the same filters as the list).

The import's body is limited in size (IMPORT_MAX_BYTES, by RequestSizeLimitMiddleware before it is read
and by a byte count while it is read) and in type (CSV, JSON or XLSX, by name and content): see
``migration_app.uploads``."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from .. import exports, importers, uploads
from ..filters import ServiceFilterSet
from ..selectors.catalog import service_catalog
from ..uploads import ImportFileType
from .permissions import LeadOnly
from .renderers import ORJSONRenderer

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class NaturalKeySerializer(serializers.Serializer):
    service_code = serializers.CharField()
    edition_code = serializers.IntegerField()


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=_("1-based row (JSON object or CSV data line); 0 for the whole file."))
    field = serializers.CharField(allow_blank=True)
    service_code = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    """What an import did (or, with ``dry_run``, would do); with ``aborted`` nothing was written."""

    format = serializers.CharField(allow_blank=True)
    dry_run = serializers.BooleanField()
    aborted = serializers.BooleanField()
    total_rows = serializers.IntegerField()
    created = NaturalKeySerializer(many=True)
    updated = NaturalKeySerializer(many=True)
    unchanged = NaturalKeySerializer(many=True)
    owners_created = serializers.ListField(child=serializers.CharField())
    ignored_columns = serializers.ListField(child=serializers.CharField())
    errors = ImportErrorSerializer(many=True)
    summary = serializers.CharField()


class ImportQuerySerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(required=False, default=False, help_text=_("Report without writing."))
    file_format = serializers.ChoiceField(
        choices=list(importers.FORMAT_HINTS),
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Skip detection: json (either JSON format), metadata-api, available-service or csv."),
    )


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=_("An Altinn II export (JSON), the tracker's CSV or its XLSX export (.json, .csv or .xlsx).")
    )


class BoundedJSONParser(JSONParser):
    """JSON whose bytes are counted while read: refused (413) as soon as it passes IMPORT_MAX_BYTES."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        content = uploads.read_bounded(stream, settings.IMPORT_MAX_BYTES) if stream is not None else b""
        return super().parse(io.BytesIO(content), media_type, parser_context)


class FileBodyParser(BaseParser):
    """A file sent as the body is handed to the view as bytes, counted while read; the view checks its
    type against the media type it came with."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> bytes:
        return uploads.read_bounded(stream, settings.IMPORT_MAX_BYTES) if stream is not None else b""


class CSVBodyParser(FileBodyParser):
    media_type = "text/csv"


class XLSXBodyParser(FileBodyParser):
    media_type = uploads.XLSX_MEDIA_TYPE


def _file_error(message: StrOrPromise, **extra: Any) -> dict[str, Any]:
    """A refusal before any row was read, in the import result's own shape."""
    return {
        "format": "",
        "dry_run": bool(extra.get("dry_run", False)),
        "aborted": True,
        "total_rows": 0,
        "created": [],
        "updated": [],
        "unchanged": [],
        "owners_created": [],
        "ignored_columns": [],
        "errors": [{"row": 0, "field": extra.get("field", ""), "service_code": "", "message": message}],
        "summary": _("Nothing imported: %(count)s errors.") % {"count": 1},
    }


class ServiceImportView(generics.GenericAPIView):
    """Upsert service editions on (service code, edition code) from an Altinn II export (metadata-API
    list or AvailableService export, as a JSON body or an uploaded file), the tracker's CSV or its XLSX
    export (as a body or an uploaded file).

    All or nothing: any bad row means nothing is written and a 400 lists every error by row. With
    ``?dry_run=1`` nothing is written either way and the answer says what would change. Project leads
    only: an import may touch any organisation's services and create organisations. A body larger than
    IMPORT_MAX_BYTES is refused with 413, a file that is not CSV, JSON or XLSX with 415.
    """

    permission_classes = [LeadOnly]
    parser_classes = [BoundedJSONParser, CSVBodyParser, XLSXBodyParser, MultiPartParser]
    # RequestSizeLimitMiddleware's limit for this view, instead of DATA_UPLOAD_MAX_MEMORY_SIZE.
    request_size_setting = "IMPORT_MAX_BYTES"
    serializer_class = ImportResultSerializer
    pagination_class = None
    filter_backends: list[Any] = []
    has_query_parameters = True

    @extend_schema(
        summary="Bulk import services (leads)",
        parameters=[ImportQuerySerializer],
        request={
            "application/json": {
                "type": "array",
                "items": {"type": "object", "additionalProperties": {}},
                "description": "Altinn II metadata-API list or AvailableService export.",
            },
            "text/csv": {"type": "string", "description": "The tracker's CSV (the export's columns)."},
            uploads.XLSX_MEDIA_TYPE: {
                "type": "string",
                "format": "binary",
                "description": "The tracker's XLSX export (its 'Services' sheet, or the first sheet).",
            },
            "multipart/form-data": ImportUploadSerializer,
        },
        responses={
            200: ImportResultSerializer,
            400: OpenApiResponse(
                ImportResultSerializer,
                description="Nothing written: every error by row (row 0: the file or a parameter).",
            ),
            413: OpenApiResponse(description="The body is larger than IMPORT_MAX_BYTES; nothing read or written."),
            415: OpenApiResponse(
                ImportResultSerializer, description="Not CSV, JSON or XLSX (by name or content); nothing written."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        # Every refusal, even of a parameter or an unreadable body, comes back in the result's shape,
        # so a script reads one kind of error from this endpoint (handle_exception does the same for
        # refusals raised while the body is parsed).
        query = ImportQuerySerializer(data=request.query_params)
        if not query.is_valid():
            field, messages = next(iter(query.errors.items()))
            return Response(_file_error(f"{field}: {' '.join(messages)}", field=field), status=400)
        dry_run = query.validated_data["dry_run"]
        content, file_type = self._content(request)
        if content is None:
            return Response(
                _file_error(
                    _("Send the file as the body, or as the form field 'file'."), field="file", dry_run=dry_run
                ),
                status=400,
            )
        format_hint = query.validated_data["file_format"]
        if file_type == ImportFileType.XLSX:
            # A workbook is read as the tracker's CSV, with the same checks and row numbers.
            content, format_hint = uploads.xlsx_as_csv(content), importers.ImportFormat.CSV
        result = importers.altinn2_import(content=content, format_hint=format_hint, dry_run=dry_run)
        body = result.as_dict()
        if file_type == ImportFileType.XLSX:
            body["format"] = ImportFileType.XLSX.value
        return Response(body, status=400 if result.aborted else 200)

    def _content(self, request: Request) -> tuple[Any, ImportFileType | None]:
        """The body as the importer takes it (decoded JSON, or a file's bytes) and its checked type;
        (None, None) when no file was sent."""
        if request.content_type.startswith("multipart/form-data"):
            upload = request.FILES.get("file")
            if upload is None:
                return None, None
            content = uploads.read_bounded(upload, settings.IMPORT_MAX_BYTES)
            return content, uploads.import_file_type(content, claimed=uploads.type_from_name(upload.name))
        data = request.data
        if isinstance(data, bytes):
            claimed = ImportFileType.XLSX if request.content_type.startswith(uploads.XLSX_MEDIA_TYPE) else None
            return data, uploads.import_file_type(data, claimed=claimed or ImportFileType.CSV)
        if isinstance(data, list):
            return data, ImportFileType.JSON
        if hasattr(data, "dict") or not data:
            # An empty body, or a form post: there is no file in it.
            return None, None
        return data, ImportFileType.JSON  # a JSON object or scalar: the importer explains what it expected

    def handle_exception(self, exc: Exception) -> Response:
        """Refusals of the body itself in the import result's shape, also when they happen before
        ``post`` runs (signed in by session, the CSRF check parses the body during authentication)."""
        if isinstance(exc, uploads.UploadRefused):
            status, message = exc.status, exc.message
        elif isinstance(exc, exceptions.UnsupportedMediaType):
            status = 415
            message = uploads.not_accepted(
                _("A body of type “%(type)s” is not accepted.") % {"type": self.request.content_type}
            ).message
        elif isinstance(exc, RequestDataTooBig):
            status, message = 413, uploads.too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE).message
        elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent | exceptions.ParseError):
            status, message = 400, str(getattr(exc, "detail", exc))
        else:
            return super().handle_exception(exc)
        dry_run = self.request.query_params.get("dry_run", "").lower() in {"1", "true", "yes", "on"}
        return Response(_file_error(message, dry_run=dry_run), status=status)


class IgnoreClientNegotiation(BaseContentNegotiation):
    """The export's format is in its URL; errors (401, 400, 429) are JSON whatever Accept says."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class ServiceExportView(generics.GenericAPIView):
    """The filtered catalog as a spreadsheet: the list's filters and sort, every matching row (no
    paging). Text cells that a spreadsheet could run as a formula are prefixed with a single quote."""

    filterset_class = ServiceFilterSet
    pagination_class = None
    renderer_classes = [ORJSONRenderer]
    content_negotiation_class = IgnoreClientNegotiation
    has_query_parameters = True
    extension = "csv"
    content_type = exports.CSV_CONTENT_TYPE

    def get_queryset(self) -> Any:
        return service_catalog()

    def render_file(self, rows: Any) -> bytes:
        return exports.services_csv(rows)

    def get(self, request: Request) -> HttpResponse:
        rows = exports.export_rows(self.filter_queryset(self.get_queryset()))
        response = HttpResponse(self.render_file(rows), content_type=self.content_type)
        filename = f"services-{timezone.localdate():%Y-%m-%d}.{self.extension}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@extend_schema_view(
    get=extend_schema(
        summary="Export the filtered catalog as CSV",
        operation_id="services_export_csv",
        filters=True,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="UTF-8 CSV with a header row.")},
    )
)
class ServiceExportCSVView(ServiceExportView):
    """The filtered catalog as CSV (UTF-8 with BOM), the import's columns first."""


@extend_schema_view(
    get=extend_schema(
        summary="Export the filtered catalog as XLSX",
        operation_id="services_export_xlsx",
        filters=True,
        responses={
            (200, exports.XLSX_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="One sheet, 'Services'.")
        },
    )
)
class ServiceExportXLSXView(ServiceExportView):
    """The filtered catalog as an Excel workbook."""

    extension = "xlsx"
    content_type = exports.XLSX_CONTENT_TYPE

    def render_file(self, rows: Any) -> bytes:
        return exports.services_xlsx(rows)
