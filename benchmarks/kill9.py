"""kill -9 series (run by hand): ``keyfolio import`` and ``keyfolio run`` killed at every
exact crash point and after random delays; the workspace checked after each kill.

    python benchmarks/kill9.py --kills 20

Prints per command: kills, states checked, how many kills left the old state and how many
the new one, how many times a reader found a half-done publish and completed it, and the
failures (must be 0). The harness is ``tests/kill9.py`` (the CI test runs a few of these).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from kill9 import IMPORT_POINTS, RUN_POINTS, Scenario, Tally, delays, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20, help="random-delay kills per command")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--accounts", type=int, default=300)
    ap.add_argument("--lines", type=int, default=20_000)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kill9-") as tmp:
        sc = Scenario.prepare(Path(tmp), args.accounts, args.lines)
        t_import = timed(["import", str(sc.ws.root), "--mapping", str(sc.mappings[0])])
        t_run = timed(["run", str(sc.ws.root)])
        print(f"uncut: import {t_import:.1f} s, run {t_run:.1f} s", flush=True)
        tallies = []
        imp = Tally("import")
        points = IMPORT_POINTS + [f"publish:rename:{i}" for i in range(4, 10)]
        for at in points:
            sc.kill_import(imp, at=at)
        for d in delays(t_import, args.kills, rng):
            sc.kill_import(imp, delay=d)
            if rng.random() < 0.25:
                sc.next_command_works(imp, "import")
        sc.next_command_works(imp, "import")
        tallies.append(imp)
        print(f"import: {imp.kills} kills done", flush=True)
        run = Tally("run")
        for at in RUN_POINTS:
            sc.kill_run(run, at=at)
        for d in delays(t_run, args.kills, rng):
            sc.kill_run(run, delay=d)
        sc.next_command_works(run, "run")
        tallies.append(run)
    print()
    print("| command | kills | states checked | old | new | completed by next | failures |")
    print("|---|---|---|---|---|---|---|")
    for t in tallies:
        print(
            f"| {t.command} | {t.kills} | {t.states_checked} | {t.old} | {t.new} | "
            f"{t.completed_by_next} | {len(t.failures)} |"
        )
    for t in tallies:
        for f in t.failures:
            print(f"FAILURE {t.command}: {f}")
    print(f"{time.perf_counter() - t0:.0f} s in all")
    sys.exit(1 if any(t.failures for t in tallies) else 0)


if __name__ == "__main__":
    main()
