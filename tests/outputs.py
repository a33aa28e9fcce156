"""Fingerprints of everything a run leaves behind, for the same-outputs regression test.

``python tests/outputs.py DIR`` builds two scenarios through the command line and writes
their fingerprints to ``tests/golden/<scenario>.json``:

* ``demo``: the 2,000-account sample, run twice (the second run with the KAM capacity cut
  to half), with ``explain --json`` for a few accounts, ``diff --json`` and the CSV export;
* ``northwind``: Northwind imported with ``examples/northwind/mapping.toml`` and run once
  (needs ../shared/data).

A fingerprint holds, per file of a run folder and per column, the Arrow type, the number of
values and of nulls, and a hash of the values (floats rounded to 10 significant digits, so
that a different but equivalent order of floating-point operations does not count as a
change); JSON side files are kept whole, without the keys that change from run to run
(timings, dates, run ids, versions; of the input tables only their row counts, since their
files' bytes depend on the Parquet writer's version). ``tests/test_same_outputs.py``
rebuilds the scenarios and compares column by column, with the package versions of
``constraints.txt``.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
NORTHWIND_MAPPING = REPO / "examples" / "northwind" / "mapping.toml"
VOLATILE = {"run_id", "started", "finished", "timings_s", "python", "keyfolio_version", "engine",
            "seconds", "solver_seconds", "solver", "previous_run", "modified"}  # fmt: skip
EXPLAIN = ("key", "not key", "member")


def cli(*args: str) -> str:
    res = subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError(f"keyfolio {' '.join(args)} failed: {res.stderr}")
    return res.stdout


def _round(v: Any) -> Any:
    if isinstance(v, float):
        if not math.isfinite(v):
            return repr(v)
        return float(f"{v:.10g}")
    if isinstance(v, dict):
        return {str(k): _round(x) for k, x in v.items() if str(k) not in VOLATILE}
    if isinstance(v, list | tuple):
        return [_round(x) for x in v]
    return v


def column_print(col: pa.ChunkedArray) -> dict[str, Any]:
    values = [_round(v) for v in col.to_pylist()]
    text = json.dumps(values, default=str, sort_keys=True)
    return {
        "type": str(col.type),
        "n": len(col),
        "nulls": col.null_count,
        "sha": hashlib.sha256(text.encode()).hexdigest()[:16],
    }


def table_print(table: pa.Table) -> dict[str, Any]:
    return {name: column_print(table.column(name)) for name in table.column_names}


def run_print(run_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(run_dir.iterdir()):
        if path.suffix == ".parquet":
            out[path.name] = table_print(pq.read_table(path))
        elif path.suffix == ".json":
            doc = json.loads(path.read_text(encoding="utf-8"))
            if path.name == "run.json":  # the input files' bytes depend on the Parquet writer
                doc["inputs"] = {t: i["rows"] for t, i in doc.get("inputs", {}).items()}
            out[path.name] = _round(doc)
    return out


def _runs(ws: Path) -> list[Path]:
    return sorted(p for p in (ws / "runs").iterdir() if (p / "run.json").is_file())


def _explain_ids(run_dir: Path) -> list[str]:
    pf = pq.read_table(run_dir / "portfolio.parquet").to_pandas()
    picks = [
        pf.loc[pf["is_key"].astype(bool), "account_id"].iloc[0],
        pf.loc[~pf["is_key"].astype(bool) & pf["selectable"].astype(bool), "account_id"].iloc[0],
    ]
    members = pf.loc[~pf["selectable"].astype(bool), "account_id"]
    if len(members):
        picks.append(members.iloc[0])
    return [str(p) for p in picks]


def _explain(ws: Path, run_dir: Path) -> dict[str, Any]:
    out = {}
    for aid in _explain_ids(run_dir):
        e = json.loads(cli("explain", str(ws), aid, "--run", run_dir.name, "--json"))
        out[aid] = _round(e)
    return out


def _export(ws: Path, run_dir: Path, tmp: Path) -> dict[str, Any]:
    path = tmp / f"export-{run_dir.name}.csv"
    cli("export", str(ws), "--format", "csv", "--run", run_dir.name, "-o", str(path))
    opts = pacsv.ConvertOptions(strings_can_be_null=False)
    return table_print(pacsv.read_csv(path, convert_options=opts))


def demo(tmp: Path) -> dict[str, Any]:
    ws = tmp / "demo"
    cli("sample", str(ws))
    cli("run", str(ws), "--json")
    policy = ws / "keyfolio.toml"
    text = policy.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("capacity_hours"))
    hours = float(line.split("=")[1].split("#")[0])
    policy.write_text(text.replace(line, f"capacity_hours = {hours / 2:g}"), encoding="utf-8")
    cli("run", str(ws), "--json")
    first, second = _runs(ws)
    diff = json.loads(cli("diff", str(ws), "--json"))
    return {
        "runs": [run_print(first), run_print(second)],
        "explain": [_explain(ws, first), _explain(ws, second)],
        "diff": _round(diff["changes"]),
        "export": [_export(ws, first, tmp), _export(ws, second, tmp)],
    }


def northwind(tmp: Path) -> dict[str, Any]:
    ws = tmp / "nw"
    cli("init", str(ws))
    cli("import", str(ws), "--mapping", str(NORTHWIND_MAPPING))
    cli("run", str(ws), "--json")
    (run,) = _runs(ws)
    return {"runs": [run_print(run)], "explain": [_explain(ws, run)],
            "export": [_export(ws, run, tmp)]}  # fmt: skip


SCENARIOS = {"demo": demo, "northwind": northwind}


def differences(golden: Any, now: Any, where: str = "") -> list[str]:
    """Where two fingerprints differ (paths like ``runs[0]/portfolio.parquet/revenue``)."""
    if isinstance(golden, dict) and isinstance(now, dict):
        out: list[str] = []
        for k in sorted(set(golden) | set(now)):
            if k not in now:
                out.append(f"{where}/{k}: missing now")
            elif k not in golden:
                out.append(f"{where}/{k}: new")
            else:
                out += differences(golden[k], now[k], f"{where}/{k}")
        return out
    if isinstance(golden, list) and isinstance(now, list) and len(golden) == len(now):
        return [d for i, (g, n) in enumerate(zip(golden, now, strict=True))
                for d in differences(g, n, f"{where}[{i}]")]  # fmt: skip
    return [] if golden == now else [f"{where}: {golden!r} -> {now!r}"[:400]]


if __name__ == "__main__":
    work = Path(sys.argv[1])
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    GOLDEN.mkdir(exist_ok=True)
    for name, build in SCENARIOS.items():
        fp = build(work)
        (GOLDEN / f"{name}.json").write_text(json.dumps(fp, indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN / name}.json")
