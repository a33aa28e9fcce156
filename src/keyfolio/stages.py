"""Pipeline stages after size segmentation: customer value, then the key-account definition.

Each stage is a plain function ``(ws, policy, portfolio, facts, con, warnings, **options)
-> (portfolio, side_tables)``; side tables are written into the run folder by name
(DataFrames as Parquet, anything else as JSON).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keyfolio.pipeline import ExtraStage

STAGES: list[ExtraStage] = []


def render_extras(result: object, console: object) -> None:
    """Print what the stages after segmentation produced (key list, value, ...)."""


def finish_demo(ws: object, console: object) -> None:
    """The last step of ``keyfolio demo``: say where the results are."""
    from rich.console import Console

    from keyfolio.workspace import Workspace

    assert isinstance(ws, Workspace) and isinstance(console, Console)
    run_dir = ws.run_dir()
    console.print(
        f"\nResults: {run_dir}/portfolio.parquet (one row per account), run.json (how it was made)."
        f"\nNext: `keyfolio export {ws.root} --format xlsx` for the CRM."
    )
