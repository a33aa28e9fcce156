"""Reading source files: Keyfolio's readers against DuckDB's CSV reader and openpyxl.

    python benchmarks/bench_readers.py --rows 2_000_000 --sheet-rows 200_000

Writes the test files once into ``--dir`` (an order-lines export: ids with leading zeros,
quoted names with commas, dates, amounts): a UTF-8 CSV, the same rows as latin-1 with
``|+|`` between the fields (Microsoft's ERP sample-data layout) and as whitespace-aligned
text, and an .xlsx of ``--sheet-rows`` rows. Each measurement runs in a fresh process and
streams every row through the reader as all-text Arrow batches with a row-number column
(what the importer consumes); "s" is the best wall time of ``--repeat`` runs, "MiB" the
process's peak RSS. DuckDB reads with delimiter, quote, header and encoding given, ``all_varchar``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

COLUMNS = ["OrderID", "CustomerID", "ProductID", "Customer", "OrderDate", "Qty", "Price"]
NAMES = ["Société Générale", "Bond, James & Co", "Müller GmbH", "Acme Corp", "Zoë's Café"]


def _row(rng: random.Random, i: int) -> list[str]:
    day = dt.date(2022, 1, 1) + dt.timedelta(days=rng.randrange(1000))
    return [
        f"A-{i // 3:08d}",
        f"{rng.randrange(100_000):06d}",
        f"P{rng.randrange(5000):05d}",
        rng.choice(NAMES),
        day.isoformat(),
        str(rng.randrange(1, 50)),
        f"{rng.uniform(1, 500):.2f}",
    ]


def write_files(folder: Path, rows: int, sheet_rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "done.json").is_file():
        if json.loads((folder / "done.json").read_text()) == [rows, sheet_rows]:
            return
    rng = random.Random(7)
    with (
        (folder / "lines.csv").open("w", encoding="utf-8", newline="") as csv_out,
        (folder / "lines_erp.txt").open("w", encoding="latin-1", newline="") as erp_out,
        (folder / "lines_aligned.txt").open("w", encoding="utf-8", newline="") as ws_out,
    ):
        csv_out.write(",".join(COLUMNS) + "\n")
        ws_out.write("".join(c.ljust(20) for c in COLUMNS).rstrip() + "\n")
        for i in range(rows):
            r = _row(rng, i)
            csv_out.write(",".join(f'"{v}"' if "," in v else v for v in r) + "\n")
            erp_out.write("|+|".join(r) + "\n")
            ws_out.write("".join(f'"{v}"'.ljust(20) if " " in v else v.ljust(20) for v in r))
            ws_out.write("\n")
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    sheet = wb.create_sheet("Lines")
    sheet.append(COLUMNS)
    for i in range(sheet_rows):
        r: list[object] = list(_row(rng, i))
        r[4] = dt.datetime.fromisoformat(str(r[4]))
        r[5], r[6] = int(str(r[5])), float(str(r[6]))
        sheet.append(r)
    wb.save(folder / "lines.xlsx")
    (folder / "done.json").write_text(json.dumps([rows, sheet_rows]))


def _keyfolio(path: Path, **options: object) -> int:
    from keyfolio.ingest.readers import ReadOptions, open_source

    src = open_source(path, ReadOptions(**options))  # type: ignore[arg-type]
    return sum(b.num_rows for b in src.batches)


def _duckdb(path: Path, delim: str, encoding: str, header: bool = True) -> int:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    rel = con.execute(
        "SELECT * FROM read_csv($path, delim = $delim, encoding = $enc, header = $header, "
        "quote = '\"', escape = '\"', all_varchar = true)",
        {"path": str(path), "delim": delim, "enc": encoding, "header": header},
    )
    reader = rel.to_arrow_reader(65_536)
    n, first = 0, 2 if header else 1
    for batch in reader:
        rows = pa.array(range(first, first + batch.num_rows), pa.int64())
        first += batch.num_rows
        pa.Table.from_batches([batch]).append_column("__row", rows)
        n += batch.num_rows
    return n


def _openpyxl(path: Path) -> int:
    """The .xlsx reader Keyfolio had before python-calamine (openpyxl, read-only)."""
    import openpyxl
    import pyarrow as pa

    from keyfolio.ingest.sheets import cell_text

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = [cell_text(v, None) for v in next(rows)]
    cols: list[list[str]] = [[] for _ in header]
    n = 0
    for values in rows:
        for col, v in zip(cols, values, strict=False):
            col.append(cell_text(v, None))
        n += 1
        if n % 65_536 == 0:
            pa.table({h: c for h, c in zip(header, cols, strict=True)})
            cols = [[] for _ in header]
    pa.table({h: c for h, c in zip(header, cols, strict=True)})
    return n


CASES = {
    "csv: keyfolio (pyarrow)": lambda d: _keyfolio(d / "lines.csv"),
    "csv: duckdb": lambda d: _duckdb(d / "lines.csv", ",", "utf-8"),
    "|+| latin-1: keyfolio (translated, pyarrow)": lambda d: _keyfolio(
        d / "lines_erp.txt", delimiter="|+|", encoding="latin-1", header=False, names=COLUMNS
    ),
    "|+| latin-1: duckdb": lambda d: _duckdb(d / "lines_erp.txt", "|+|", "latin-1", header=False),
    "whitespace: keyfolio (translated, pyarrow)": lambda d: _keyfolio(
        d / "lines_aligned.txt", delimiter="whitespace"
    ),
    "xlsx: keyfolio (python-calamine)": lambda d: _keyfolio(d / "lines.xlsx"),
    "xlsx: openpyxl read-only": lambda d: _openpyxl(d / "lines.xlsx"),
}


def _one(case: str, folder: Path) -> None:
    import duckdb  # noqa: F401  (imports are not timed)
    import openpyxl  # noqa: F401
    import python_calamine  # noqa: F401

    import keyfolio.ingest.readers  # noqa: F401

    start = time.perf_counter()
    rows = CASES[case](folder)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "s": seconds, "mib": peak}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=2_000_000)
    ap.add_argument("--sheet-rows", type=lambda s: int(s.replace("_", "")), default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/keyfolio-bench-readers"))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        _one(args.one, args.dir)
        return
    write_files(args.dir, args.rows, args.sheet_rows)
    sizes = {p.name: p.stat().st_size / 2**20 for p in args.dir.iterdir() if p.suffix != ".json"}
    print(f"rows {args.rows:,} (sheet {args.sheet_rows:,}); files MiB: ", end="")
    print(", ".join(f"{k} {v:.0f}" for k, v in sorted(sizes.items())))
    print(f"| {'reader':<44} | rows | s (best of {args.repeat}) | k rows/s | MB/s | peak MiB |")
    print(f"|{'-' * 46}|---|---|---|---|---|")
    for case in CASES:
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, __file__, "--one", case, "--dir", str(args.dir)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        best = min(runs, key=lambda r: r["s"])
        file = {"csv": "lines.csv", "|+|": "lines_erp.txt", "whi": "lines_aligned.txt"}
        size = sizes.get(file.get(case[:3], ""))  # a zipped .xlsx has no telling MB/s
        rate = f"{size / best['s']:.0f}" if size else "-"
        print(
            f"| {case:<44} | {best['rows']:,} | {best['s']:.2f} "
            f"| {best['rows'] / best['s'] / 1000:,.0f} | {rate} "
            f"| {max(r['mib'] for r in runs):.0f} |"
        )


if __name__ == "__main__":
    main()
