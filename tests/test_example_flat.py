"""The README's flat sales example (examples/flat): the mapping shown is the file, and
importing it then running gives the margins worked out by hand from the file's Profit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keyfolio.ingest import import_mapping
from keyfolio.pipeline import run
from keyfolio.workspace import init_workspace

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "flat"


def test_the_readme_shows_the_example_mapping_as_it_is() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", readme, flags=re.S)
    assert (EXAMPLE / "mapping.toml").read_text(encoding="utf-8") in blocks


def test_the_flat_example_imports_and_its_margins_are_the_files_profit(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "flat")
    res = import_mapping(ws, EXAMPLE / "mapping.toml")
    assert res.tables == {"order_lines": 9, "accounts": 3}
    (said,) = [w for w in res.warnings if "kept the last row" in w]
    assert "'Segment' (1 account_id value)" in said
    accounts = ws.read_frame("accounts")
    assert accounts is not None
    by_id = accounts.set_index("account_id")
    assert by_id.loc["01190", "segment"] == "Utilities"  # the last row of Nordlys wins
    assert by_id.loc["00417", "name"] == "Brandt & Söhne GmbH"
    p = run(ws).portfolio.set_index("account_id")
    # by hand from sales.csv: revenue = Sales, margin = Profit (cost = Sales - Profit)
    assert p.loc["00417", "revenue"] == pytest.approx(1440 + 920 + 2100 + 960)
    assert p.loc["00417", "contribution_margin"] == pytest.approx(360 + 184 + 630 + 240)
    assert p.loc["00852", "contribution_margin"] == pytest.approx(40 - 15)
    assert p.loc["01190", "revenue"] == pytest.approx(6500 + 2200 - 325)
    assert p.loc["01190", "contribution_margin"] == pytest.approx(650 + 330 - 32.5)
