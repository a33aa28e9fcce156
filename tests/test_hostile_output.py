"""User data is never read as console markup: names, ids, reasons, file paths and values in
errors that look like rich markup (or emoji codes) are printed as they are, by every
command that prints them, and no command crashes on them."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyfolio.sample import make_sample

HOSTILE = ["[/x]", "[bold]Bold[/bold] Co", "[red]Red", "[link=https://evil.example]x[/link]",
           ":smile: Ltd", "[/]", "\\[escaped]", "[[double]]"]  # fmt: skip
HOSTILE_ID = "[/x]1"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", *args],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "200"},  # wide enough that names are not cut
    )  # fmt: skip


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample whose sources name every account with markup, one account id is markup,
    and whose folder name is markup too; imported and run twice."""
    root = tmp_path_factory.mktemp("hostile") / "[bold]ws[/bold]"
    info = make_sample(root, accounts=200, lines=8_000, seed=3, sources=True)
    src = info.path / "sources"
    customers = src / "customers.csv"
    with customers.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for i, r in enumerate(rows):
        r["CompanyName"] = f"{HOSTILE[i % len(HOSTILE)]} {r['CompanyName']}"
    with customers.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), quoting=csv.QUOTE_NONNUMERIC)
        w.writeheader()
        w.writerows(rows)
    for f in src.glob("*.csv"):  # one account id that is markup, in every file
        enc = "cp1252" if f.name == "service_costs.csv" else "utf-8"
        f.write_text(f.read_text(encoding=enc).replace('"000001"', f'"{HOSTILE_ID}"'), encoding=enc)
    r = cli("import", str(info.path), "--mapping", str(src / "mapping.toml"))
    assert r.returncode == 0, r.stderr
    return info.path


def _clean(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr and "MarkupError" not in r.stderr, r.stderr
    assert r.returncode == 0, r.stderr


def test_run_prints_names_as_they_are(ws: Path) -> None:
    r = cli("run", str(ws))
    _clean(r)
    shown = [h for h in HOSTILE if h in r.stdout]
    assert shown, r.stdout  # some key accounts are listed, with their markup-like names
    assert "Bold Co" not in r.stdout.replace("[bold]Bold[/bold] Co", "")  # never rendered
    assert "😄" not in r.stdout
    assert str(ws) in r.stdout.replace("\n", "")  # the folder name, brackets and all


def test_explain_diff_export_report_with_markup_ids(ws: Path, tmp_path: Path) -> None:
    _clean(cli("run", str(ws)))
    r = cli("explain", str(ws), HOSTILE_ID)
    _clean(r)
    assert HOSTILE_ID in r.stdout and "[/x]" in r.stdout
    r = cli("explain", str(ws), "000005")  # the fifth customer is named ":smile: Ltd ..."
    _clean(r)
    assert ":smile: Ltd" in r.stdout and "😄" not in r.stdout
    _clean(cli("diff", str(ws)))
    r = cli("export", str(ws), "-o", str(tmp_path / "[red]out.csv"))
    _clean(r)
    assert "[red]out.csv" in r.stdout
    assert HOSTILE_ID in (tmp_path / "[red]out.csv").read_text(encoding="utf-8")
    _clean(cli("report", str(ws), "-o", str(tmp_path / "r.html")))
    r = cli("explain", str(ws), "[bold]nobody[/bold]")  # an unknown id in an error
    assert r.returncode == 1 and "[bold]nobody[/bold]" in r.stderr and "Traceback" not in r.stderr


def test_override_reason_and_id_printed_and_stored_literally(ws: Path) -> None:
    reason = "[/x] [bold]x[/bold] :smile:"
    r = cli("override", str(ws), HOSTILE_ID, "--in", "--reason", reason, "--by", "[i]lead[/i]")
    _clean(r)
    assert reason in r.stdout and HOSTILE_ID in r.stdout and "[i]lead[/i]" in r.stdout
    from keyfolio.db.overrides import list_overrides
    from keyfolio.workspace import Workspace

    stored = [o for o in list_overrides(Workspace(ws)) if o.account_id == HOSTILE_ID]
    assert [o.reason for o in stored] == [reason]
    _clean(cli("override", str(ws), HOSTILE_ID, "--remove", "--by", "[i]lead[/i]"))


def test_bad_values_in_import_errors_are_shown_with_their_brackets(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("init", str(ws)).returncode == 0
    (tmp_path / "[x]lines.csv").write_text(
        "order,acct,date,qty,price\nO1,[/x],2024-01-02,[red]12,3\n", encoding="utf-8"
    )
    cols = [
        "order_id=order",
        "account_id=acct",
        "order_date=date",
        "quantity=qty",
        "unit_price=price",
    ]
    r = cli("import", str(ws), "order_lines", str(tmp_path / "[x]lines.csv"),
            *[a for c in cols for a in ("--col", c)])  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "[red]12" in r.stderr and "[x]lines.csv" in r.stderr


def test_schema_and_init_print_paths_as_they_are(tmp_path: Path) -> None:
    r = cli("init", str(tmp_path / "[/]w"))
    _clean(r)
    assert "[/]w" in r.stdout
