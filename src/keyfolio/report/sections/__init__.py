"""The report's sections, one module each, in the order of the report."""
