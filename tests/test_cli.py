"""The command line: help everywhere, documented in the README, one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keyfolio.cli import build_app

REPO = Path(__file__).resolve().parents[1]
app = build_app()
runner = CliRunner()


def _commands() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = _commands()
    assert {"init", "import", "run", "export", "sample", "demo"} <= set(commands)
    for name in commands:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Usage" in result.output
        assert re.search(rf"`keyfolio {name}\b", readme), f"`keyfolio {name}` not in README"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", *args],
        capture_output=True, text=True, cwd=cwd, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "{tmp}/nope"], "no such workspace folder"),
        (["export", "{tmp}/ws", "--format", "pdf"], "expected csv or xlsx"),
        (["run", "{tmp}/ws"], "no order_lines imported yet"),
        (["export", "{tmp}/ws"], "no runs yet"),
        (["import", "{tmp}/ws", "accounts", "{tmp}/missing.csv"], "missing.csv"),
        (["import", "{tmp}/ws", "bogus", "{tmp}/x.csv"], "unknown table 'bogus'"),
        (
            ["import", "{tmp}/ws", "accounts", "{tmp}/x.csv", "--col", "oops"],
            "expected canonical=Source",
        ),
        (["init", "{tmp}/ws"], "already exists"),
    ],
)
def test_user_mistakes_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    assert _cli("init", str(tmp_path / "ws")).returncode == 0
    (tmp_path / "x.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    result = _cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 1, result.stderr
    err = result.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert message in err


def test_bad_policy_is_one_line(tmp_path: Path) -> None:
    assert _cli("init", str(tmp_path / "ws")).returncode == 0
    policy = tmp_path / "ws" / "keyfolio.toml"
    policy.write_text(policy.read_text().replace('method = "pareto"', 'method = "paretto"'))
    (tmp_path / "ws" / "data" / "order_lines.parquet").write_bytes(b"")
    result = _cli("run", str(tmp_path / "ws"))
    assert result.returncode == 1
    assert "size.method: expected one of 'pareto' or 'thresholds', found 'paretto'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_line_needs_no_click_of_its_own() -> None:
    # click is not a dependency (typer carries its own copy); the test tools bring one, so
    # a stray `import click` would pass every other test and fail after `pip install .`
    code = "import sys; sys.modules['click'] = None; from keyfolio.cli import main; main()"
    r = subprocess.run([sys.executable, "-c", code, "schema", "accounts"], capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
