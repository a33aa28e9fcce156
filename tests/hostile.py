"""Helpers of the hostile-input tests (test_hostile_policy.py, test_hostile_run.py): the
CLI in a subprocess, the one-line-error assertion, policy edits and a small sample."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from keyfolio.sample import make_sample

NUMPY_TEXT = ("RuntimeWarning", "encountered in", "Traceback")


def sample_workspace(root: Path) -> Path:
    make_sample(root, accounts=60, lines=3000, seed=5)
    return root


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def edit(ws: Path, *pairs: tuple[str, str]) -> None:
    """Replace text in the workspace's keyfolio.toml (each ``old`` must be there)."""
    policy = ws / "keyfolio.toml"
    text = policy.read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, f"{old!r} is not in the template any more"
        text = text.replace(old, new, 1)
    policy.write_text(text, encoding="utf-8")


def run_folders(ws: Path) -> list[str]:
    return sorted(p.name for p in (ws / "runs").iterdir()) if (ws / "runs").is_dir() else []


def one_line(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The one line on stderr of a refused command (exit ``code``, no traceback)."""
    err = result.stderr.strip()
    assert "Traceback" not in err, err[-3000:]
    assert result.returncode == code, err[-3000:]
    assert len(err.splitlines()) == 1, err[-3000:]
    return err


def no_numpy_text(result: subprocess.CompletedProcess[str]) -> None:
    for text in NUMPY_TEXT:
        assert text not in result.stderr, result.stderr[-3000:]
