"""The JSON shapes of the pages, one module per entity (documented in the OpenAPI schema)."""
