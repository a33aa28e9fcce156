"""Library functions behind ``init``, ``import``, ``sample`` and ``demo``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keyfolio.errors import KeyfolioError, WorkspaceError
from keyfolio.policy import parse_policy, template_text
from keyfolio.workspace import POLICY_FILE, Workspace, atomic_write_text


def init_workspace(path: Path, *, force: bool = False) -> Workspace:
    """Create a workspace folder with the commented policy template."""
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path}: exists and is not a folder")
    policy = path / POLICY_FILE
    if policy.exists() and not force:
        raise WorkspaceError(f"{policy}: already exists (use --force to overwrite it)")
    text = template_text()
    parse_policy(text)  # the template must always be a valid policy
    path.mkdir(parents=True, exist_ok=True)
    (path / "data").mkdir(exist_ok=True)
    (path / "runs").mkdir(exist_ok=True)
    atomic_write_text(policy, text)
    return Workspace(path)


def _parse_columns(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise KeyfolioError(
                f"--col {pair!r}: expected canonical=Source, e.g. account_id=CustomerID"
            )
        canon, src = pair.split("=", 1)
        if not canon.strip() or not src.strip():
            raise KeyfolioError(
                f"--col {pair!r}: expected canonical=Source, e.g. account_id=CustomerID"
            )
        out[canon.strip()] = src.strip()
    return out


def run_import(
    ws: Workspace,
    *,
    table: str | None,
    file: Path | None,
    mapping: Path | None,
    columns: list[str],
    options: dict[str, Any],
) -> dict[str, Any]:
    """Import with a mapping file, or one table from one file."""
    from keyfolio import ingest

    if mapping is not None:
        if table is not None or file is not None or columns or options:
            raise KeyfolioError(
                "use either --mapping FILE or TABLE FILE [--col ...] with reading options, not both"
            )
        result = ingest.import_mapping(ws, mapping)
    else:
        if table is None or file is None:
            raise KeyfolioError(
                "expected --mapping FILE, or TABLE FILE (e.g. `accounts customers.csv`)"
            )
        opts = ingest.ReadOptions(**options) if options else None
        result = ingest.import_table(ws, table, file, _parse_columns(columns), opts)
    return dataclasses.asdict(result)


def make_sample(
    path: Path,
    *,
    accounts: int = 2000,
    lines: int = 200_000,
    years: int = 3,
    seed: int = 7,
    sources: bool = False,
    replace: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> Any:
    """Generate a sample workspace (``replace`` replaces an earlier *sample* in the folder).

    Limits and the folder checks are the generator's; this only refuses to replace a
    workspace that is not a sample (no ``truth.json``), so `keyfolio demo` never deletes a
    user's own workspace.
    """
    from keyfolio.sample import generate_workspace

    if replace and path.is_dir() and any(path.iterdir()) and not (path / "truth.json").is_file():
        raise WorkspaceError(f"{path}: folder exists and is not a sample (choose another folder)")
    return generate_workspace(
        path, accounts=accounts, lines=lines, years=years, seed=seed, sources=sources,
        progress=progress, overwrite=replace,
    )  # fmt: skip
