"""Benchmark keyfolio.value against the reference implementation ``lifetimes`` (run by hand).

    python benchmarks/bench_clv.py [N] [--peer-full]   # default N = 1_000_000 customers

1. Simulates N customers from BG/NBD (CDNOW-like parameters, T on a daily grid in weeks, so
   that rows repeat like dated order data) with Gamma-Gamma spends, saves them as .npz.
2. Fits BetaGeo and GammaGamma with keyfolio, times the fits and the predictions for all N.
3. Creates a separate venv (/tmp/kf-bench-venv) with the peer package, runs the same fits and
   predictions there in a subprocess on the same .npz, and compares parameters and times.

The peer is fitted on the unique (x, t_x, T) rows with weights (lifetimes supports weights),
which is the fair, fast way to use it; the Gamma-Gamma data (continuous mean spends) has no
repeated rows, so both fit all repeat customers. ``--peer-full`` also times the peer's BG/NBD fit
on the full data without weights (how it is usually called). Results: stdout and a JSON file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from keyfolio.value import BetaGeo, GammaGamma, simulate_customers

VENV = Path("/tmp/kf-bench-venv")
WORK = Path("/tmp/kf-bench")
PEER_PACKAGE = "lifetimes==0.11.3"  # btyd on PyPI (0.1a1) pins autograd 1.4, broken on 3.11
TRUE_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
TRUE_GG = {"p": 6.25, "q": 3.74, "v": 15.44}
HORIZON = 39.0

PEER_SCRIPT = r"""
import json, sys, time
import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter

d = np.load(sys.argv[1])
x, tx, T, m = d["frequency"], d["recency"], d["T"], d["monetary_value"]
out = {}
t0 = time.perf_counter()
rows, counts = np.unique(np.column_stack([x, tx, T]), axis=0, return_counts=True)
out["compress_s"] = time.perf_counter() - t0  # not counted in the fit time
t0 = time.perf_counter()
bg = BetaGeoFitter(penalizer_coef=0.0)
bg.fit(rows[:, 0], rows[:, 1], rows[:, 2], weights=counts)  # default tol (1e-7)
out["bg_fit_s"] = time.perf_counter() - t0
out["bg_unique_rows"] = int(len(rows))
out["bg"] = {k: float(v) for k, v in bg.params_.items()}
t0 = time.perf_counter()
e = bg.conditional_expected_number_of_purchases_up_to_time(float(sys.argv[2]), x, tx, T)
out["cond_exp_s"] = time.perf_counter() - t0
e = np.asarray(e, dtype=float)
out["cond_exp_sum"] = float(np.nansum(e))
out["cond_exp_nonfinite"] = int((~np.isfinite(e)).sum())
t0 = time.perf_counter()
pa = np.asarray(bg.conditional_probability_alive(x, tx, T), dtype=float)
out["p_alive_s"] = time.perf_counter() - t0
out["p_alive_sum"] = float(np.nansum(pa))
if sys.argv[3] == "full":  # how most users call it: one row per customer, no weights
    t0 = time.perf_counter()
    full = BetaGeoFitter(penalizer_coef=0.0).fit(x, tx, T)
    out["bg_full_fit_s"] = time.perf_counter() - t0
    out["bg_full"] = {k: float(v) for k, v in full.params_.items()}
pos = x > 0
t0 = time.perf_counter()
gg = GammaGammaFitter(penalizer_coef=0.0)
gg.fit(pd.Series(x[pos]), pd.Series(m[pos]))  # default tol: 1e-10 fails to converge
out["gg_fit_s"] = time.perf_counter() - t0
out["gg"] = {k: float(v) for k, v in gg.params_.items()}
print(json.dumps(out))
"""


def ensure_peer_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import lifetimes"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", PEER_PACKAGE], check=True)
    return python


def run_ours(x, tx, t_obs, m) -> dict:
    out: dict = {}
    t0 = time.perf_counter()
    bg = BetaGeo().fit(x, tx, t_obs)
    out["bg_fit_s"] = time.perf_counter() - t0
    out["bg"] = bg.params_
    out["bg_iter"] = bg.n_iter_
    out["bg_loglik"] = bg.loglik_
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        e = bg.expected_purchases(HORIZON, x, tx, t_obs)
        best = min(best, time.perf_counter() - t0)
    out["cond_exp_s"] = best
    out["cond_exp_sum"] = float(e.sum())
    out["cond_exp_nonfinite"] = int((~np.isfinite(e)).sum())
    t0 = time.perf_counter()
    pa = bg.p_alive(x, tx, t_obs)
    out["p_alive_s"] = time.perf_counter() - t0
    out["p_alive_sum"] = float(pa.sum())
    t0 = time.perf_counter()
    gg = GammaGamma().fit(x, m)
    out["gg_fit_s"] = time.perf_counter() - t0
    out["gg"] = gg.params_
    t0 = time.perf_counter()
    gg.expected_spend(x, m)
    out["spend_s"] = time.perf_counter() - t0
    return out


def rel_diff(a: dict, b: dict, keys: list[str]) -> dict:
    return {k: abs(a[k] - b[k]) / abs(b[k]) for k in keys}


def main(n: int, peer_full: bool) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    t_obs = np.floor(np.random.default_rng(1).uniform(27.0, 39.0, n) * 7) / 7
    sim = simulate_customers(
        n, bgnbd=TRUE_BG, gamma_gamma=TRUE_GG, T=t_obs, seed=2, time_step=1 / 7
    )
    data = WORK / f"customers_{n}.npz"
    np.savez(
        data,
        frequency=sim.frequency,
        recency=sim.recency,
        T=sim.T,
        monetary_value=sim.monetary_value,
    )
    print(
        f"N = {n:,} customers, {int((sim.frequency > 0).sum()):,} repeat buyers, "
        f"max frequency {int(sim.frequency.max())}"
    )
    ours = run_ours(sim.frequency, sim.recency, sim.T, sim.monetary_value)
    python = ensure_peer_venv()
    script = WORK / "peer.py"
    script.write_text(PEER_SCRIPT)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(python), str(script), str(data), str(HORIZON), "full" if peer_full else "unique"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"peer failed:\n{proc.stderr[-3000:]}")
    peer = json.loads(proc.stdout.strip().splitlines()[-1])
    peer["wall_s"] = time.perf_counter() - t0
    report = {
        "n": n,
        "peer": PEER_PACKAGE,
        "ours": ours,
        "peer_results": peer,
        "bg_rel_diff": rel_diff(ours["bg"], peer["bg"], ["r", "alpha", "a", "b"]),
        "gg_rel_diff": rel_diff(ours["gg"], peer["gg"], ["p", "q", "v"]),
        "speedup_bg_fit": peer["bg_fit_s"] / ours["bg_fit_s"],
        "speedup_gg_fit": peer["gg_fit_s"] / ours["gg_fit_s"],
        "speedup_cond_exp": peer["cond_exp_s"] / ours["cond_exp_s"],
        "speedup_bg_fit_vs_peer_full": peer.get("bg_full_fit_s", float("nan")) / ours["bg_fit_s"],
    }
    (WORK / f"results_{n}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 1_000_000, peer_full="--peer-full" in sys.argv)
