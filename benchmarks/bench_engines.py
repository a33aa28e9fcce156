"""Benchmark: the facts and value passes on DuckDB against Spark local, same data.

Run by hand (not a test)::

    python benchmarks/bench_engines.py --lines 20_000_000 --accounts 200_000
    python benchmarks/bench_engines.py --months --lines 5_000_000 --accounts 50_000

It generates a sample workspace once per size (kept in --dir). Default: each engine in a
fresh process runs the facts stage and the RFM pass (what a run sends to the engine) twice;
the table gives wall seconds with the session start (connect / SparkSession and JVM start
included) and without it (the second pass, on the open session), and CPU seconds of the
whole process tree (Python, DuckDB's threads, the JVM).

``--months``: the yearly pass over the lines on DuckDB, the distinct month and category sets
(portable, what the facts stage runs) against the bit masks they replaced (``bit_or`` of
``1 << bit``, DuckDB only), alternating in one process; best wall and CPU seconds of the
repeats.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

SPARK = (
    "pyspark://?master=local[2]&spark.ui.enabled=false&spark.ui.showConsoleProgress=false"
    "&spark.sql.shuffle.partitions=4&spark.driver.memory=6g&spark.driver.bindAddress=127.0.0.1"
    "&spark.driver.host=127.0.0.1"
)

PASSES = textwrap.dedent(
    """
    import json, os, resource, sys, time
    t0 = time.perf_counter()
    from keyfolio.pipeline.engine import open_engine
    from keyfolio.pipeline.facts import compute_facts
    from keyfolio.pipeline.sources import Tables
    from keyfolio.pipeline.value import rfm_pass
    from keyfolio.policy import load_policy
    from keyfolio.workspace import Workspace
    ws = Workspace.open(sys.argv[1]); policy = load_policy(ws.policy_path)
    t_import = time.perf_counter()
    engine = open_engine(sys.argv[2])
    t_session = time.perf_counter()
    walls = []
    for _ in range(2):
        t = time.perf_counter()
        src = Tables(ws, engine.con)
        facts = compute_facts(ws, policy, tables=src)
        rfm_pass(src, policy, facts)
        walls.append(time.perf_counter() - t)
    def jvm_cpu():  # the JVM is a child that is not waited for: read its clock from /proc
        proc = getattr(getattr(engine.session, "_sc", None), "_gateway", None)
        pid = getattr(getattr(proc, "proc", None), "pid", None)
        if pid is None:
            return 0.0
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    jvm = jvm_cpu()
    me = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"session_s": t_session - t_import, "first_s": walls[0],
                      "second_s": walls[1], "cpu_s": me.ru_utime + me.ru_stime + jvm,
                      "jvm_cpu_s": jvm, "accounts": facts.accounts.num_rows,
                      "engine": engine.describe()}))
    engine.close()
    """
)

MONTHS = textwrap.dedent(
    """
    import ibis, json, resource, sys, time
    from keyfolio.pipeline.engine import open_engine
    from keyfolio.pipeline.facts import (_bounds, add_months, category_index, category_mask,
        order_lines)
    from keyfolio.pipeline.sources import Tables
    from keyfolio.policy import load_policy
    from keyfolio.workspace import Workspace
    ws = Workspace.open(sys.argv[1])
    engine = open_engine("duckdb://")
    src = Tables(ws, engine.con)
    lines, _ = order_lines(src)
    n, first, as_of = _bounds(src, lines)
    d = lines.order_date
    ttm = (d > add_months(as_of, -12)) & (d <= as_of)
    one = ibis.literal(1).cast("int64")
    month = (d.year() * 12 + d.month()).cast("int64")
    n_cats = len(category_index(src))
    extra = {
        "neither": {},
        "masks": dict(months=(one << (month % 12)).bit_or(where=ttm),
                      categories=(one << lines.category).bit_or()),
        "now": dict(months=ibis.ifelse(ttm, month, None).collect(distinct=True),
                    categories=category_mask(lines.category, n_cats)),
        "months count": dict(months=ibis.ifelse(ttm, month, None).nunique()),
        "months set": dict(months=ibis.ifelse(ttm, month, None).collect(distinct=True)),
        "months mask": dict(months=(one << (month % 12)).bit_or(where=ttm)),
        "categories mask": dict(categories=(one << lines.category).bit_or()),
        "categories set": dict(categories=lines.category.collect(distinct=True)),
        "categories flags": dict(categories=category_mask(lines.category, n_cats)),
    }
    def variant(kind):  # the yearly pass's other aggregates, plus months and categories
        return lines.group_by(["account_id", d.year().name("year")]).aggregate(
            revenue=lines.revenue.sum(), cogs=lines.cost.sum(),
            margin=(lines.revenue - lines.cost).sum(), lines=lines.count(),
            orders=lines.order_id.nunique(), order_days=d.nunique(),
            first_order=d.min(), last_order=d.max(),
            revenue_ttm=lines.revenue.sum(where=ttm), **extra[kind])
    best = {}
    for _ in range(int(sys.argv[2])):
        for kind in extra:
            r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
            engine.con.to_pyarrow(variant(kind))
            wall = time.perf_counter() - t0; r1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
            b = best.setdefault(kind, [wall, cpu])
            b[0], b[1] = min(b[0], wall), min(b[1], cpu)
    print(json.dumps(best))
    """
)


def _workspace(args: argparse.Namespace) -> Path:
    ws = args.dir / f"ws-{args.accounts}-{args.lines}"
    if not (ws / "keyfolio.toml").is_file():
        from keyfolio.sample import generate_workspace

        t0 = time.perf_counter()
        generate_workspace(ws, accounts=args.accounts, lines=args.lines)
        print(f"generated {ws} in {time.perf_counter() - t0:.1f} s")
    return ws


def _child(code: str, *argv: str) -> dict[str, object]:
    """Run code in a fresh process; its last stdout line (JSON) and the children's CPU."""
    p = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False
    )
    if p.returncode:
        raise SystemExit(p.stderr[-3000:])
    out: dict[str, object] = json.loads(p.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=lambda s: int(s.replace("_", "")), default=20_000_000)
    ap.add_argument("--accounts", type=lambda s: int(s.replace("_", "")), default=200_000)
    ap.add_argument("--dir", type=Path, default=Path("bench-out"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--spark", default=SPARK, help="the Spark URL to compare with")
    ap.add_argument("--months", action="store_true", help="sets against bit masks (DuckDB)")
    args = ap.parse_args()
    ws = _workspace(args)
    print(f"workspace: {args.accounts:,} accounts, {args.lines:,} lines")
    if args.months:
        best = _child(MONTHS, str(ws), str(args.repeat))
        base = best["neither"][1]  # type: ignore[index]
        print(f"{'yearly pass (DuckDB)':<34}{'wall s':>8}{'CPU s':>8}{'CPU +%':>8}")
        for kind, (wall, cpu) in best.items():  # type: ignore[misc]
            print(f"{kind:<34}{wall:>8.2f}{cpu:>8.2f}{100 * (cpu / base - 1):>8.0f}")
        return
    rows = [("duckdb", _child(PASSES, str(ws), "duckdb://")),
            ("spark local[2]", _child(PASSES, str(ws), args.spark))]  # fmt: skip
    print(f"{'engine':<16}{'session s':>10}{'with start s':>13}{'without s':>10}{'CPU s':>8}")
    for name, r in rows:
        session, first, second = (float(r[k]) for k in ("session_s", "first_s", "second_s"))  # type: ignore[arg-type]
        print(f"{name:<16}{session:>10.1f}{session + first:>13.1f}{second:>10.1f}"
              f"{float(r['cpu_s']):>8.1f}")  # type: ignore[arg-type]  # fmt: skip
    print(json.dumps(dict(rows)))


if __name__ == "__main__":
    main()
