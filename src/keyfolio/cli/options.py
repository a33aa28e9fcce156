"""Arguments and options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

WorkspaceArg = Annotated[Path, typer.Argument(help="The workspace folder.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
RunOpt = Annotated[str | None, typer.Option("--run", help="Run id (default: the latest).")]
