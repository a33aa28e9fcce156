"""Benchmark: `keyfolio run` end to end against a hand-written DuckDB SQL floor.

Run by hand (not a test)::

    python benchmarks/bench_run.py --lines 10_000_000 --accounts 100_000
    python benchmarks/bench_run.py --lines 100_000_000 --accounts 1_000_000

It generates a sample workspace (once per size, kept in --dir), then in the same run and on
the same Parquet files measures, each in its own process (wall time and peak RSS):

* ``sql``: one hand-written DuckDB query computing the per-account aggregates that the facts
  stage computes (revenue, cost, margin, lines, orders, order days, first/last order,
  returns, trailing-window revenue and margin, yearly windows) plus cost-to-serve per
  activity and freight — the floor for what any pipeline must do over the order lines;
* ``facts``: Keyfolio's facts stage alone (Ibis over DuckDB);
* ``run``: ``keyfolio run`` end to end (every stage, writing the run folder).

Prints a table with seconds, the ratio to the SQL floor and peak memory, then the run's
stage times and each stage's peak RSS (Linux: the peak is reset at every stage start by
writing 5 to /proc/self/clear_refs and read from VmHWM in /proc/self/status).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

SQL_FLOOR = """
WITH bounds AS (SELECT max(order_date) AS as_of FROM read_parquet($lines)),
lines AS (
  SELECT l.account_id, l.order_id, l.order_date, l.quantity,
         coalesce(l.net_revenue, l.quantity * l.unit_price * (1 - coalesce(l.discount, 0)), 0)
           AS revenue,
         l.quantity * coalesce(l.unit_cost, p.unit_cost, 0) AS cost,
         coalesce(l.unit_cost, p.unit_cost) IS NOT NULL AS known_cost
  FROM read_parquet($lines) l LEFT JOIN read_parquet($products) p USING (product_id)
),
yearly AS (
  SELECT account_id, year(order_date) AS year,
    sum(revenue) AS revenue, sum(cost) AS cogs, sum(revenue - cost) AS margin,
    count(*) AS lines, sum(CAST(NOT known_cost AS INT)) AS lines_without_cost,
    count(DISTINCT order_id) AS orders, count(DISTINCT order_date) AS order_days,
    min(order_date) AS first_order, max(order_date) AS last_order,
    sum(-revenue) FILTER (WHERE quantity < 0) AS returns,
    sum(CAST(quantity < 0 AS INT)) AS return_lines,
    sum(revenue) FILTER (WHERE order_date > as_of - INTERVAL 12 MONTH) AS revenue_ttm,
    sum(revenue - cost) FILTER (WHERE order_date > as_of - INTERVAL 12 MONTH) AS margin_ttm,
    bit_or(CAST(1 AS BIGINT) << ((year(order_date) * 12 + month(order_date)) % 12))
      FILTER (WHERE order_date > as_of - INTERVAL 12 MONTH) AS months_ttm,
    sum(revenue) FILTER (WHERE order_date > as_of - INTERVAL 24 MONTH
                           AND order_date <= as_of - INTERVAL 12 MONTH) AS revenue_prev,
    sum(revenue - cost) FILTER (WHERE order_date > as_of - INTERVAL 24 MONTH
                           AND order_date <= as_of - INTERVAL 12 MONTH) AS margin_prev,
    sum(revenue) FILTER (WHERE order_date > as_of - INTERVAL 36 MONTH
                           AND order_date <= as_of - INTERVAL 24 MONTH) AS revenue_w2
  FROM lines, bounds GROUP BY ALL
)
SELECT account_id, sum(revenue) revenue, sum(cogs) cogs, sum(margin) margin, sum(lines) lines,
  sum(orders) orders, sum(order_days) order_days, min(first_order) first_order,
  max(last_order) last_order, sum(returns) returns, sum(revenue_ttm) revenue_ttm,
  sum(margin_ttm) margin_ttm, sum(revenue_prev) revenue_prev, sum(margin_prev) margin_prev,
  sum(revenue_w2) revenue_w2, count(*) AS n_years, bit_count(bit_or(months_ttm)) AS months
FROM yearly GROUP BY account_id
"""

SQL_COSTS = """
SELECT account_id, activity, sum(coalesce(amount, quantity * r.rate)) AS amount
FROM read_parquet($costs) c LEFT JOIN (SELECT unnest($acts) AS activity, unnest($rates) AS rate) r
  USING (activity)
GROUP BY ALL
UNION ALL
SELECT account_id, 'freight', sum(freight) FROM read_parquet($orders) GROUP BY ALL
"""


def measured(code: str) -> tuple[float, float, str]:
    """Run python code in a fresh process; return (seconds, peak RSS MiB, its stdout)."""
    wrapper = textwrap.dedent(
        """
        import resource, subprocess, sys, time
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", sys.argv[1]], capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if p.returncode:
            sys.stderr.write(p.stderr); sys.exit(p.returncode)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"{dt} {rss}"); print(p.stdout, end="")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, code], stdout=subprocess.PIPE, text=True, check=True
    ).stdout  # the child's errors go to this process's stderr
    first, _, rest = out.partition("\n")
    secs, rss = first.split()
    return float(secs), float(rss), rest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    ap.add_argument("--accounts", type=lambda s: int(s.replace("_", "")), default=100_000)
    ap.add_argument("--dir", type=Path, default=Path("bench-out"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--draws", type=int, default=None, help="robustness draws for the run")
    args = ap.parse_args()

    ws = args.dir / f"ws-{args.accounts}-{args.lines}"
    if not (ws / "keyfolio.toml").is_file():
        from keyfolio.sample import generate_workspace

        t0 = time.perf_counter()
        generate_workspace(ws, accounts=args.accounts, lines=args.lines)
        print(f"generated {ws} in {time.perf_counter() - t0:.1f} s")
    data = ws / "data"
    size = sum(p.stat().st_size for p in data.glob("*.parquet")) / 2**20
    print(f"workspace: {args.accounts:,} accounts, {args.lines:,} lines, {size:,.0f} MiB Parquet")

    sql_code = textwrap.dedent(
        f"""
        import duckdb, json, os, time
        from keyfolio.policy import load_policy
        from pathlib import Path
        ws = Path({str(ws)!r}); d = ws / "data"
        pol = load_policy(ws / "keyfolio.toml")
        import pyarrow.parquet as pq
        cols = set(pq.read_schema(d / "order_lines.parquet").names)
        sql = {SQL_FLOOR!r}
        for c in ("net_revenue", "unit_cost", "discount"):
            if c not in cols:
                sql = sql.replace("l." + c, "CAST(NULL AS DOUBLE)")
        t0 = time.perf_counter()
        from keyfolio.pipeline.engine import DEFAULT_MEMORY_LIMIT
        limit = os.environ.get("KEYFOLIO_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
        con = duckdb.connect(config={{"memory_limit": limit}})  # as keyfolio's
        con.execute("SET enable_progress_bar = false")  # it would write into the timing line
        a = con.execute(sql, {{"lines": str(d / "order_lines.parquet"),
                        "products": str(d / "products.parquet")}}).to_arrow_table()
        c = con.execute({SQL_COSTS!r}, {{"costs": str(d / "costs.parquet"),
                        "orders": str(d / "orders.parquet"),
                        "acts": list(pol.cost_to_serve.rates),
                        "rates": list(pol.cost_to_serve.rates.values())}}).to_arrow_table()
        print("COMPUTE", time.perf_counter() - t0)
        """
    )
    facts_code = textwrap.dedent(
        f"""
        import time
        from keyfolio.pipeline.facts import compute_facts
        from keyfolio.policy import load_policy
        from keyfolio.workspace import Workspace
        ws = Workspace.open({str(ws)!r})
        t0 = time.perf_counter()
        f = compute_facts(ws, load_policy(ws.policy_path))
        print("COMPUTE", time.perf_counter() - t0)
        """
    )
    run_code = textwrap.dedent(
        f"""
        import json, re, time
        from keyfolio.pipeline import RunOptions, run
        from keyfolio.workspace import Workspace

        def hwm():  # the process's peak RSS (MiB) since the last reset
            status = open("/proc/self/status").read()
            return int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1)) / 1024

        def reset():  # Linux: writing 5 to clear_refs resets the peak RSS to the current
            try:
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
            except OSError:
                pass  # then each figure is the peak so far

        peaks, current = {{}}, ["start"]

        def progress(stage):
            peaks[current[0]] = max(peaks.get(current[0], 0), hwm())
            reset()
            current[0] = stage

        t0 = time.perf_counter()
        r = run(Workspace.open({str(ws)!r}),
                RunOptions(robustness_draws={args.draws!r}, progress=progress))
        progress("end")
        print("COMPUTE", time.perf_counter() - t0)
        print("TIMINGS", json.dumps(r.meta["timings_s"]))
        print("PEAKS", json.dumps({{k: round(v) for k, v in peaks.items() if k != "end"}}))
        """
    )
    # per measurement: best process wall time, best in-process compute time, peak RSS
    results: dict[str, list[float]] = {}
    stage_times = ""
    for _ in range(args.repeat):
        for name, code in (("sql", sql_code), ("facts", facts_code), ("run", run_code)):
            secs, rss, out = measured(code)
            lines = [x[x.index("COMPUTE ") :] for x in out.splitlines() if "COMPUTE " in x]
            if not lines:
                raise SystemExit(f"{name}: no timing in its output:\n{out}")
            compute = float(lines[0].split()[1])
            for x in out.splitlines():  # resetting the peak per stage hides it from rusage
                if x.startswith("PEAKS "):
                    rss = max(rss, *json.loads(x.removeprefix("PEAKS ")).values())
            best = results.setdefault(name, [secs, compute, rss])
            if compute <= best[1]:
                best[1] = compute
                if name == "run":
                    stage_times = out
            best[0], best[2] = min(best[0], secs), max(best[2], rss)
    floor = results["sql"][1]
    print(f"{'what':<8}{'compute s':>10}{'x SQL':>8}{'process s':>11}{'peak MiB':>10}")
    for name, (secs, compute, rss) in results.items():
        print(f"{name:<8}{compute:>10.2f}{compute / floor:>8.2f}{secs:>11.2f}{rss:>10.0f}")
    for line in stage_times.splitlines():
        if line.startswith("TIMINGS "):
            print("run stages (s):", line.removeprefix("TIMINGS "))
        if line.startswith("PEAKS "):
            print("run stages, peak RSS (MiB):", line.removeprefix("PEAKS "))


if __name__ == "__main__":
    main()
