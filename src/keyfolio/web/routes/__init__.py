"""The routes, one module per entity."""
