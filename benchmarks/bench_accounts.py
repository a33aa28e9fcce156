"""Benchmark: the accounts page's query at 1M accounts (run by hand).

    python benchmarks/bench_accounts.py --accounts 1_000_000 --repeat 20

Writes a synthetic run folder (``--dir``, kept between invocations) whose portfolio.parquet
has ``--accounts`` rows and ~100 columns like a real run's (the page's columns plus numeric
filler, zstd, row groups of 131,072 rows as :class:`keyfolio.runs.RunWriter` writes them), then
times the run's snapshot (the page's columns read once into memory, on a run's first
request), then :func:`keyfolio.analysis.accounts.query_accounts` (count + one page of 50, as
the web route calls it) for each case, the facets, one account's row (straight from the
Parquet) and iterating an export's rows. Reports p50 / p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from keyfolio import runs
from keyfolio.analysis import accounts as A


def make_portfolio(folder: Path, n: int, seed: int = 2026) -> runs.Run:
    path = folder / runs.PORTFOLIO
    if path.is_file() and pq.read_metadata(path).num_rows == n:
        return runs.Run(folder.name, folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = np.char.zfill(np.arange(1, n + 1).astype(str), 7)
    words = np.array(["Acme", "Nordic", "Steel", "Blue", "Pharma", "Logistics", "Foods", "Tech"])
    revenue = rng.lognormal(9, 1.5, n)
    cm = revenue * rng.uniform(0.05, 0.4, n)
    cts = rng.lognormal(7, 1.2, n)
    is_key = rng.random(n) < 0.02
    cols: dict[str, object] = {
        "account_id": ids,
        "name": np.char.add(np.char.add(rng.choice(words, n), " "), ids),
        "owner": np.char.add("M", np.char.zfill((rng.integers(0, 400, n)).astype(str), 4)),
        "country": rng.choice(np.array(["DE", "FR", "GB", "US", "NL", "IT", "ES", "SE"]), n),
        "size_tier": rng.choice(np.array(["large", "medium", "small"]), n, p=[0.05, 0.25, 0.7]),
        "quadrant": rng.choice(np.array(["star", "status", "strategic", "streamline"]), n),
        "attractiveness": rng.uniform(0, 100, n),
        "strength": rng.uniform(0, 100, n),
        "revenue": revenue,
        "contribution_margin": cm,
        "cost_to_serve": cts,
        "net_contribution": cm - cts,
        "clv": rng.normal(5000, 20000, n),
        "roci": rng.normal(0.2, 1, n),
        "is_key": is_key,
        "was_key": is_key ^ (rng.random(n) < 0.003),
        "decision": np.where(is_key, "selected", "not selected"),
        "reasons": np.where(is_key, "star; above the bar", "attractiveness below the bar"),
        "contested": rng.random(n) < 0.01,
    }
    for i in range(80):  # the rest of a real portfolio's ~100 columns
        cols[f"metric_{i:02d}"] = rng.normal(0, 1, n)
    table = pa.table(cols)
    pq.write_table(table, path, compression="zstd", row_group_size=runs.WRITE_CHUNK_ROWS)
    (folder / runs.RUN_JSON).write_text(json.dumps({"run_id": folder.name}))
    return runs.Run(folder.name, folder)


CASES: dict[str, A.AccountQuery] = {
    "first page": A.AccountQuery(),
    "filtered (tier + quadrant + country)": A.AccountQuery(
        tier="medium", quadrant="star", country="FR"
    ),
    "filtered (decision entered)": A.AccountQuery(decision="entered"),
    "sorted by name asc": A.AccountQuery(sort="name", direction="asc"),
    "sorted by net contribution, page 100": A.AccountQuery(sort="net_contribution", page=100),
    "text search 'acme 00123'": A.AccountQuery(search="acme 00123"),
    "text search '99' + sort clv": A.AccountQuery(search="99", sort="clv"),
}


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def report(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(f"| {label} | {statistics.median(ms):,.0f} | {p95:,.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/keyfolio-bench-accounts"))
    args = ap.parse_args()
    run = make_portfolio(args.dir / f"run-{args.accounts}", args.accounts)
    size = run.path(runs.PORTFOLIO).stat().st_size / 2**20
    print(f"{args.accounts:,} accounts, portfolio.parquet {size:,.0f} MiB\n")
    print("| case | p50 ms | p95 ms |\n|---|---:|---:|")
    A.forget_snapshots()
    report("snapshot of the run (first request only)", timed(lambda: A.snapshot(run), 1))
    cases = dict(CASES)
    last = -(-A.count_rows(run, A.AccountQuery()) // A.DEFAULT_PAGE_SIZE)
    cases["last page (revenue desc)"] = A.AccountQuery(page=last)
    cases["last page sorted by name"] = A.AccountQuery(page=last, sort="name", direction="asc")
    cases["middle page sorted by name"] = A.AccountQuery(
        page=last // 2, sort="name", direction="asc"
    )
    for label, q in cases.items():
        report(label, timed(lambda q=q: A.query_accounts(run, q), args.repeat))
    report("facets (kept with the snapshot)", timed(lambda: A.facets(run), args.repeat))
    some = f"{args.accounts // 2:07d}"
    report("one account's row (from the Parquet)", timed(
        lambda: A.account_row(run, some, list(A.VIEW_COLUMNS)), args.repeat
    ))  # fmt: skip
    q = A.AccountQuery(tier="medium")
    report("export rows, tier=medium (~250k rows)", timed(
        lambda: sum(1 for _ in A.iter_rows(run, q)), 1
    ))  # fmt: skip


if __name__ == "__main__":
    main()
