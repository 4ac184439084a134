"""Getting data in: Altinn's organisation list and Altinn II service exports.

Two layers, as in the rest of the app (STYLE.md):

* ``parse_services`` is pure: bytes or text in, normalised ``ServiceRow`` values and ``RowError`` values
  out. It detects which of the three accepted formats it was given (DOMAIN.md, "Two export formats the
  tracker must import", plus the tracker's own CSV) and checks every row without touching the database.
* ``altinn2_import`` and ``orgs_import`` are the writes. They load what exists in one query per table,
  work out what changes, and write it with ``bulk_create`` / ``bulk_update``, so the number of queries
  does not grow with the number of rows (up to the backend's batch size). The management commands and
  the REST API's bulk import call these same functions.

Rules every format follows:

* The natural key is (service code, edition code); importing the same file twice changes nothing.
* A key that is absent from a row leaves the stored value alone. An empty value (``null`` or ``""``)
  clears a field that may be empty (edition name, dates, notes, ...); for a field that may not be empty
  (name, type, owner, volume, criticality) it means "not given", which is an error only for a new service.
* Status is never imported: it moves only through ``services.service_change_status``. ``target`` is
  not derived from the type: the owner decides the outcome.
* All or nothing: any bad row stops the whole import, unless ``skip_invalid`` asks to import the rest.
"""

from ..validators import ORG_CODE_RE
from .altinn2 import ImportResult, altinn2_import
from .orgs import OrgImportResult, orgs_import
from .parse import (
    AVAILABLE_SERVICE_TYPES,
    BULK_BATCH_SIZE,
    CASE_INSENSITIVE_CHOICES,
    CSV_COLUMNS,
    FORMAT_HINTS,
    MAX_EDITION_CODE,
    METADATA_API_TYPES,
    NOT_EMPTY_FIELDS,
    REQUIRED_FOR_NEW,
    SOURCE_FIELDS,
    TYPE_CONVERTERS,
    ImportFileError,
    ImportFormat,
    NaturalKey,
    ParsedServices,
    RowError,
    ServiceRow,
    parse_services,
)

__all__ = [
    "AVAILABLE_SERVICE_TYPES",
    "BULK_BATCH_SIZE",
    "CASE_INSENSITIVE_CHOICES",
    "CSV_COLUMNS",
    "FORMAT_HINTS",
    "MAX_EDITION_CODE",
    "METADATA_API_TYPES",
    "NOT_EMPTY_FIELDS",
    "ORG_CODE_RE",
    "REQUIRED_FOR_NEW",
    "SOURCE_FIELDS",
    "TYPE_CONVERTERS",
    "ImportFileError",
    "ImportFormat",
    "ImportResult",
    "NaturalKey",
    "OrgImportResult",
    "ParsedServices",
    "RowError",
    "ServiceRow",
    "altinn2_import",
    "orgs_import",
    "parse_services",
]
