"""Same outputs: every file of a run, the explanations, the diff and the CSV export match the
fingerprints recorded in ``tests/golden`` (see ``tests/outputs.py``), column by column.

The fingerprints were recorded before the pipeline was restructured; a change that moves
code must not move a single figure. A change that means to change figures regenerates them
(``python tests/outputs.py /tmp/golden-work``) and says why in its commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from outputs import GOLDEN, SCENARIOS, differences


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_outputs_match_the_recorded_fingerprints(
    scenario: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if scenario == "northwind":
        request.getfixturevalue("shared_data")
    golden = json.loads((GOLDEN / f"{scenario}.json").read_text(encoding="utf-8"))
    now = json.loads(json.dumps(SCENARIOS[scenario](tmp_path), sort_keys=True))
    diff = differences(golden, now)
    assert not diff, f"{len(diff)} difference(s):\n" + "\n".join(diff[:40])
