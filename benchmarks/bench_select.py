"""Benchmark: choosing key accounts among 100,000 candidates (run by hand).

    python benchmarks/bench_select.py --candidates 100_000 --capacity 1_200_000
    python benchmarks/bench_select.py --baseline-src /tmp/old/src   # another checkout's solver

One seeded instance: scores 0-100, hours 400 / 250 / 150 (a third each), per-hour values
(score x hours, as the template's ``value = "per_hour"``). Each solver runs in a fresh process
(``--baseline-src`` first, when given: e.g. a worktree of an older commit, to compare in the
same session), and the script reports wall time, the solver used, its status, the number of
accounts chosen, the hours used and the objective against the best objective found. Cases:

* ``total``: the total-hours capacity alone;
* ``regions``: also a cap per region (three regions, each capped at 40% of the capacity),
  which rules out the exact methods: HiGHS from a greedy start.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from keyfolio.selection.optimise import Knapsack, solve
    n, cap, case, limit = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    rng = np.random.default_rng(2026)
    score = rng.uniform(0, 100, n).round(1)
    hours = rng.choice([400.0, 250.0, 150.0], n)
    group, caps = None, {}
    if case == "regions":
        group = rng.choice(np.array(["EMEA", "Americas", "APAC"], dtype=object), n)
        caps = {g: 0.4 * cap for g in ("EMEA", "Americas", "APAC")}
    p = Knapsack(score * hours, hours, cap, None, group, caps)
    t0 = time.perf_counter()
    sol = solve(p, time_limit=limit, mip_rel_gap=1e-4)
    sec = time.perf_counter() - t0
    print(json.dumps({"seconds": sec, "solver": sol.solver, "status": sol.status,
                      "chosen": int(sol.chosen.sum()), "hours": float(hours[sol.chosen].sum()),
                      "objective": float(sol.objective)}))
    """
)


def measure(src: Path, n: int, cap: float, case: str, limit: float, timeout: float) -> dict:
    t0 = time.perf_counter()
    try:
        res = subprocess.run(
            [sys.executable, "-c", CHILD, str(n), str(cap), case, str(limit)],
            capture_output=True, text=True, timeout=timeout, env={"PYTHONPATH": str(src)},
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"seconds": time.perf_counter() - t0, "solver": "-", "status": "killed at timeout",
                "chosen": 0, "hours": 0.0, "objective": 0.0}  # fmt: skip
    if res.returncode != 0:
        raise SystemExit(f"{src}: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=100_000)
    ap.add_argument("--capacity", type=float, default=1_200_000)
    ap.add_argument("--time-limit", type=float, default=30.0, help="the solver's time limit")
    ap.add_argument("--timeout", type=float, default=900.0, help="kill a solver after this")
    ap.add_argument("--baseline-src", type=Path, help="the src folder of another checkout")
    ap.add_argument("--cases", default="total,regions")
    args = ap.parse_args()
    rows = []
    for case in args.cases.split(","):
        for label, src in (("baseline", args.baseline_src), ("this", SRC)):
            if src is None:
                continue
            r = measure(src, args.candidates, args.capacity, case, args.time_limit, args.timeout)
            rows.append({"case": case, "code": label, **r})
            print(json.dumps(rows[-1]), flush=True)
    best = {
        c: max(r["objective"] for r in rows if r["case"] == c) for c in {r["case"] for r in rows}
    }
    print(
        f"\n{'case':8} {'code':9} {'seconds':>8} {'chosen':>7} {'hours':>10} {'of best':>8}  solver"
    )
    for r in rows:
        share = r["objective"] / best[r["case"]] if best[r["case"]] else float("nan")
        print(f"{r['case']:8} {r['code']:9} {r['seconds']:8.1f} {r['chosen']:7,} "
              f"{r['hours']:10,.0f} {share:8.4%}  {r['solver']} ({r['status']})")  # fmt: skip


if __name__ == "__main__":
    main()
