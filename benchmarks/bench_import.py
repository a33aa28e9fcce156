"""Benchmark: importing a flat sales CSV of 10M / 100M lines (run by hand).

    python benchmarks/bench_import.py --lines 10_000_000
    python benchmarks/bench_import.py --lines 100_000_000 --repeat 1

The CSV (order, line, customer, date, product, quantity, price, discount, region; about
55 bytes a line) is generated once per size by DuckDB into ``--dir``. Each measurement runs
in a fresh process, and the script reports its wall time and peak memory (the child's
maximum RSS from ``wait4``):

* ``duckdb``: the baseline, DuckDB's own ``read_csv`` of the file copied to a zstd Parquet
  file (type detection, all cores, its default memory limit);
* ``lines``: ``keyfolio import`` of the file as order lines (account and date on each line,
  accounts derived from them), into a fresh workspace;
* ``lines+accounts`` (``--accounts``): the same, plus the accounts table (id and region)
  from the same file, one row per customer: the file is read twice and 100M rows grouped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

GENERATE = """
COPY (SELECT o AS OrderID, (i % 4) + 1 AS Line, 'C' || lpad(c::VARCHAR, 7, '0') AS Customer,
  DATE '2021-01-01' + ((hash(o) >> 20) % 1400)::INT AS OrderDate,
  'P' || ((hash(i) >> 7) % 5000)::VARCHAR AS Product, ((hash(i) >> 3) % 20 + 1)::INT AS Qty,
  round(((hash(i) >> 11) % 50000) / 100.0 + 1, 2) AS Price,
  round(((hash(i) >> 17) % 10) / 100.0, 2) AS Discount,
  CASE c % 3 WHEN 0 THEN 'EMEA' WHEN 1 THEN 'APAC' ELSE 'Americas' END AS Region
  FROM (SELECT i, i // 4 AS o, hash(i // 4) % $accounts AS c FROM range($lines) t(i)))
TO '$out' (HEADER, DELIMITER ',')
"""

LINES = """[order_lines]
file = "{file}"
columns = {{ order_id = "OrderID", account_id = "Customer", order_date = "OrderDate", \
product_id = "Product", quantity = "Qty", unit_price = "Price", discount = "Discount" }}
"""

ACCOUNTS = """
[accounts]
file = "{file}"
columns = {{ account_id = "Customer", region = "Region" }}
"""

DUCKDB = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect()
    con.execute("COPY (SELECT * FROM read_csv(?)) TO '" + sys.argv[2] + "' (COMPRESSION zstd)",
                [sys.argv[1]])
    """
)

KEYFOLIO = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from keyfolio.ingest import import_mapping
    from keyfolio.workspace import init_workspace
    ws = init_workspace(Path(sys.argv[2]))
    res = import_mapping(ws, Path(sys.argv[1]))
    print(res.tables, file=sys.stderr)
    """
)


def generate(lines: int, accounts: int, folder: Path) -> Path:
    import duckdb

    out = folder / f"sales_{lines}.csv"
    if not out.exists():
        t0 = time.perf_counter()
        tmp = out.with_suffix(".tmp")
        sql = GENERATE.replace("$lines", str(lines)).replace("$accounts", str(accounts))
        duckdb.connect().execute(sql.replace("$out", str(tmp)))
        tmp.rename(out)
        print(f"generated {out} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return out


def measure(code: str, *args: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of ``python -c code args`` in a fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args])
    _, status, usage = os.wait4(proc.pid, 0)
    sec = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{code.splitlines()[1]}... failed with status {status}")
    return sec, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--accounts", action="store_true", help="also the accounts from the file")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/keyfolio-bench-import"))
    a = ap.parse_args()
    a.dir.mkdir(parents=True, exist_ok=True)
    csv = generate(a.lines, a.customers, a.dir)
    size = csv.stat().st_size / 2**20
    cases = {"lines": LINES.format(file=csv)}
    if a.accounts:
        cases["lines+accounts"] = LINES.format(file=csv) + ACCOUNTS.format(file=csv)
    rows: dict[str, list[tuple[float, float]]] = {"duckdb": []}
    for _ in range(a.repeat):
        out = a.dir / "duckdb.parquet"
        rows["duckdb"].append(measure(DUCKDB, str(csv), str(out)))
        out.unlink()
        for name, text in cases.items():
            mapping = a.dir / f"{name}.toml"
            mapping.write_text(text, encoding="utf-8")
            ws = a.dir / "ws"
            shutil.rmtree(ws, ignore_errors=True)
            rows.setdefault(name, []).append(measure(KEYFOLIO, str(mapping), str(ws)))
            shutil.rmtree(ws, ignore_errors=True)
    base = min(s for s, _ in rows["duckdb"])
    print(f"\n{a.lines:,} lines, {size:,.0f} MiB CSV; best of {a.repeat}\n")
    print("| what | wall s | × duckdb | peak MiB |")
    print("|---|---|---|---|")
    for name, got in rows.items():
        best = min(s for s, _ in got)
        peak = max(m for _, m in got)
        spread = f"{best:.1f}–{max(s for s, _ in got):.1f}" if len(got) > 1 else f"{best:.1f}"
        print(f"| {name} | {spread} | {best / base:.2f} | {peak:,.0f} |")


if __name__ == "__main__":
    main()
