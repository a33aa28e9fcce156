"""The definition editor's live what-if at 100k accounts: re-scoring and re-selecting after
a weight change (target: under 300 ms), against the plain path in the same process
(:func:`keyfolio.pipeline.define` on the same portfolio, robustness off) and the run's own
definition stage (with the policy's robustness draws), read from run.json.

    python benchmarks/bench_whatif.py --accounts 100_000 --lines 2_000_000 --changes 20

The sample workspace is made once in ``--dir`` (``keyfolio.sample.make_sample`` and a run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from keyfolio import pipeline, runs
from keyfolio.analysis import whatif
from keyfolio.policy import Policy, load_policy
from keyfolio.sample import make_sample
from keyfolio.workspace import Workspace


def _workspace(root: Path, accounts: int, lines: int) -> Workspace:
    if not root.is_dir():
        t0 = time.perf_counter()
        make_sample(root, accounts=accounts, lines=lines, seed=11)
        print(f"sample: {time.perf_counter() - t0:.1f} s")
    ws = Workspace.open(root)
    if not runs.run_ids(ws):
        t0 = time.perf_counter()
        pipeline.run(ws)
        print(f"run: {time.perf_counter() - t0:.1f} s")
    return ws


def _changes(policy: Policy, n: int, seed: int = 1) -> list[Policy]:
    """``n`` policies, each with one criterion's weight changed."""
    rng = np.random.default_rng(seed)
    groups = [("attractiveness", i) for i in range(len(policy.attractiveness))] + [
        ("strength", i) for i in range(len(policy.strength))
    ]
    out = []
    for k in range(n):
        group, i = groups[k % len(groups)]
        crits = list(getattr(policy, group))
        crits[i] = crits[i].model_copy(update={"weight": float(rng.uniform(0.2, 8.0))})
        out.append(policy.model_copy(update={group: crits}))
    return out


def _ms(xs: list[float]) -> str:
    q = statistics.quantiles(xs, n=20) if len(xs) > 1 else xs * 19
    p50, p95, top = statistics.median(xs) * 1000, q[18] * 1000, max(xs) * 1000
    return f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {top:.0f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/keyfolio-bench-whatif"))
    args = ap.parse_args()
    ws = _workspace(args.dir / f"ws-{args.accounts}", args.accounts, args.lines)
    run = runs.get(ws)
    policy = load_policy(ws.policy_path)
    print(f"run {run.id}: {len(run.portfolio(['account_id'])):,} accounts")
    print(f"baseline, the run's definition stage ({policy.robustness.draws} robustness draws): "
          f"{run.meta()['timings_s']['definition']:.2f} s")  # fmt: skip

    t0 = time.perf_counter()
    base = whatif.base_for(ws)
    print(f"what-if base (read the run's portfolio, inputs): {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    base.definition(policy)
    print(f"baseline, pipeline.define, no robustness: {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    first = whatif.what_if(ws, policy)
    print(f"first what-if (scores every criterion once): {time.perf_counter() - t0:.2f} s")
    times, cpu, moved = [], [], []
    for edited in _changes(policy, args.changes):
        t0, c0 = time.perf_counter(), time.process_time()
        w = whatif.what_if(ws, edited)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        moved.append(w.n_entering + w.n_leaving)
    print(f"load average (1 min) {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"what-if after a weight change, {len(times)} changes: {_ms(times)}; CPU {_ms(cpu)} "
          f"(accounts moved per change: median {statistics.median(moved):.0f}; "
          f"{first.key:,} key accounts)")  # fmt: skip


if __name__ == "__main__":
    main()
