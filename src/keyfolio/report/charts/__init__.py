"""The report's charts as Plotly figure specifications (plain ``{"data", "layout"}`` dicts).

Plain dicts, not ``plotly.graph_objects``: they cost nothing to build for hundreds of small
charts, serialise straight to JSON and are what Plotly.js (embedded in the HTML, served
locally by the web app) draws. Every chart survives grey-scale printing: series differ by
dash style, marker symbol or bar pattern as well as by colour. Text that comes from data
(account names) is HTML-escaped, because Plotly renders a subset of HTML in labels.
"""

from keyfolio.report.charts.accounts import contribution_chart, matrix_chart
from keyfolio.report.charts.overview import (
    cts_chart,
    margin_chart,
    pareto_chart,
    weights_chart,
    whale_chart,
)
from keyfolio.report.charts.style import Figure, downsample, esc, values
from keyfolio.report.charts.workload import (
    overlap_heatmap,
    workload_manager_chart,
    workload_tier_chart,
)

__all__ = [
    "Figure",
    "contribution_chart",
    "cts_chart",
    "downsample",
    "esc",
    "margin_chart",
    "matrix_chart",
    "overlap_heatmap",
    "pareto_chart",
    "values",
    "weights_chart",
    "whale_chart",
    "workload_manager_chart",
    "workload_tier_chart",
]
