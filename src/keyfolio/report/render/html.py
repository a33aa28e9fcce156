"""Render a :class:`~keyfolio.report.model.Report` as one self-contained HTML file.

Jinja2 with autoescaping on (account names are data, never markup). The CSS, the chart
specifications (JSON in a ``<script type="application/json">``, with ``<``, ``>`` and ``&``
escaped so no text can close the tag) and Plotly.js itself are inlined: the file works offline
and makes no network request.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from functools import cache
from importlib.resources import files
from typing import Any

import jinja2

import keyfolio
from keyfolio.report.model import Report

# Free-text columns whose cells may break anywhere (a long name must not widen the page).
WRAP = frozenset(
    {"name", "reasons", "why", "why not key", "why key", "named by", "warning", "condition",
     "account", "source", "scale", "what it means", "recommended strategy", "lists"}
)  # fmt: skip


@cache
def _env() -> jinja2.Environment:
    loader = jinja2.PackageLoader("keyfolio.report", "templates")
    env = jinja2.Environment(
        loader=loader,
        autoescape=True,
        trim_blocks=False,
        lstrip_blocks=False,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["kind"] = lambda obj: type(obj).__name__.lower()
    env.globals["wrap"] = WRAP
    return env


def _static(name: str) -> str:
    return (files("keyfolio.report") / "static" / name).read_text(encoding="utf-8")


@cache
def plotly_js() -> tuple[str, str]:
    """Plotly.js (the bundle shipped with the ``plotly`` package) and its version."""
    import plotly
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    # defensive: nothing in the bundle may end the inline <script> element
    js = js.replace("</script", "<\\/script").replace("<!--", "<\\!--")
    return js, str(getattr(plotly, "__version__", "?"))


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def script_json(obj: Any) -> str:
    """JSON that is safe inside an HTML ``<script>`` element."""
    text = json.dumps(_clean(obj), separators=(",", ":"), allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def charts_payload(report: Report) -> dict[str, Any]:
    return {
        c.id: {"data": c.figure["data"], "layout": c.figure["layout"], "small": c.small}
        for c in report.charts()
    }


def render_html(report: Report) -> str:
    js, plotly_version = plotly_js()
    template = _env().get_template("report.html.j2")
    return template.render(
        report=report,
        css=_static("report.css"),
        report_js=_static("report.js"),
        plotly_js=js,
        plotly_version=plotly_version,
        charts_json=script_json(charts_payload(report)),
        version=keyfolio.__version__,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
