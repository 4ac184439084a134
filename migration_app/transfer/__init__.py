"""Moving the whole catalog in and out of the tracker as one file: ``export_catalog`` / ``import_catalog``.

An export writes owners, platform capabilities, services, dependencies, status history, milestones and
daily progress snapshots, every field of every row, to one JSON document (``format``). An import into an
empty tracker gives back the same catalog, ids and timestamps included (``importing``). Large catalogs
stream both ways: the export reads in chunks, the import decodes the file a row at a time
(``jsonstream``), so memory does not grow with the number of services.

See docs/catalog-transfer.md for how to use it and what the file leaves out.
"""

from .export import (
    CatalogExportError,
    ExportSummary,
    applied_migration,
    catalog_export,
    catalog_export_file,
    code_migration,
)
from .format import FORMAT_NAME, FORMAT_VERSION, SECTIONS, Section, catalog_text
from .importing import (
    CatalogImportError,
    ImportSummary,
    MissingUsers,
    catalog_import,
    catalog_rows_present,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SECTIONS",
    "CatalogExportError",
    "CatalogImportError",
    "ExportSummary",
    "ImportSummary",
    "MissingUsers",
    "Section",
    "applied_migration",
    "catalog_export",
    "catalog_export_file",
    "catalog_import",
    "catalog_rows_present",
    "catalog_text",
    "code_migration",
]
