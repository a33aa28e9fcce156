"""Renderers of the report model: HTML (Jinja2), PDF (the HTML printed by Chromium), XLSX."""
