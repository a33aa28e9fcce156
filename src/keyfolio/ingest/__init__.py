"""Import source exports into canonical workspace tables, with validation (DESIGN "Import")."""

from keyfolio.ingest.importer import ImportResult, import_files, import_mapping, import_table
from keyfolio.ingest.mapping import TableMapping, load_mapping, parse_mapping
from keyfolio.ingest.readers import ReadOptions

__all__ = [
    "ImportResult",
    "ReadOptions",
    "import_files",
    "TableMapping",
    "import_mapping",
    "import_table",
    "load_mapping",
    "parse_mapping",
]
