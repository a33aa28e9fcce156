"""Load test of the web workbench: N concurrent users browsing and saving assessments for a
bounded time on the demo workspace, against a real ``keyfolio serve`` on 127.0.0.1.

    python benchmarks/load_web.py                      # 50 users, 60 s, a fresh demo workspace
    python benchmarks/load_web.py --users 20 --seconds 20 --workspace keyfolio-demo

Users come in pairs signed in as the same person (a lead, who may assess any account), so
two browsers race to save the same scores: a save names the version its form showed, and
the loser must get 409, never overwrite. At the end every score is checked: its version
equals the number of saves that succeeded on it, and its value is the one the last of them
sent (a lost update breaks one or the other). Prints p50/p95 latency per page and the error
count; exits 1 on any error or lost update. Bounded: at most --users threads for --seconds,
on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from keyfolio import pipeline, runs
from keyfolio.db.assessments import list_assessments
from keyfolio.db.users import add_user
from keyfolio.sample import make_sample
from keyfolio.workspace import Workspace

PASSWORD = "load test password"
HOST = "127.0.0.1"


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    conflicts: int = 0
    # (account, criterion, assessor) -> [(version returned, score sent)]
    saves: dict[tuple[str, str, str], list[tuple[int, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def timed(
        self, label: str, client: httpx.Client, method: str, url: str, **kw
    ) -> httpx.Response:
        t0 = time.perf_counter()
        response = client.request(method, url, **kw)
        dt = time.perf_counter() - t0
        with self.lock:
            self.latency[label].append(dt)
        return response

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


def workspace(path: Path | None, users: int) -> Workspace:
    if path is None:
        root = Path(tempfile.mkdtemp(prefix="keyfolio-load-")) / "demo"
        print(f"building the demo workspace in {root} ...", flush=True)
        make_sample(root, replace=True)
        ws = Workspace.open(root)
        pipeline.run(ws)
    else:
        ws = Workspace.open(path)
        if runs.latest(ws) is None:
            pipeline.run(ws)
    for i in range(users // 2 + users % 2):
        email = f"load{i}@example.com"
        try:
            add_user(ws, email, "lead", PASSWORD, "load test")
        except Exception as exc:  # already there from an earlier load test
            if "exists" not in str(exc) and "already" not in str(exc):
                raise
    return ws


def serve(ws: Workspace, port: int) -> subprocess.Popen[bytes]:
    keyfolio = shutil.which("keyfolio") or str(Path(sys.executable).with_name("keyfolio"))
    proc = subprocess.Popen(
        [keyfolio, "serve", str(ws.root), "--host", HOST, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{port}/login", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(
        f"the server did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
    )


def sign_in(client: httpx.Client, email: str) -> str:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    r = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
        headers={"accept": "application/json"},
    )
    r.raise_for_status()
    return str(r.json()["csrf_token"])


def user(base: str, email: str, accounts: list[str], until: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=30) as client:
        csrf = sign_in(client, email)
        mine = rng.sample(accounts, k=min(3, len(accounts)))  # the pair shares these (same seed)
        while time.monotonic() < until:
            step = rng.random()
            try:
                if step < 0.15:
                    ok = tally.timed("dashboard", client, "GET", "/")
                elif step < 0.35:
                    page = rng.randint(1, 20)
                    ok = tally.timed("accounts", client, "GET", f"/accounts?page={page}")
                elif step < 0.55:
                    ok = tally.timed("account", client, "GET", f"/accounts/{rng.choice(accounts)}")
                elif step < 0.65:
                    ok = tally.timed("assessments", client, "GET", "/assessments")
                else:
                    save(client, csrf, email, rng.choice(mine), rng, tally)
                    continue
                if ok.status_code != 200:
                    tally.error(f"{ok.request.method} {ok.request.url.path}: {ok.status_code}")
            except httpx.HTTPError as exc:
                tally.error(f"{type(exc).__name__}: {exc}")


def save(
    client: httpx.Client, csrf: str, email: str, account: str, rng: random.Random, tally: Tally
) -> None:
    form = tally.timed(
        "assess form",
        client,
        "GET",
        f"/accounts/{account}/assess",
        headers={"accept": "application/json"},
    )
    if form.status_code != 200:
        tally.error(f"GET assess form {account}: {form.status_code}")
        return
    row = rng.choice(form.json()["rows"])
    crit = row["criterion"]
    score = round(rng.uniform(crit["low"], crit["high"]), 1)
    r = tally.timed(
        "save assessment",
        client,
        "POST",
        f"/accounts/{account}/assessments",
        data={
            "criterion": crit["criterion"],
            "score": str(score),
            "comment": f"load test {score}",
            "expected_version": str(row["version"]),
            "csrf_token": csrf,
        },
        headers={"accept": "application/json"},
    )
    if r.status_code == 200:
        version = int(r.json()["saved"]["version"])
        with tally.lock:
            tally.saves[(account, crit["criterion"], email)].append((version, score))
    elif r.status_code == 409:
        with tally.lock:
            tally.conflicts += 1
    else:
        tally.error(f"POST assessment {account}: {r.status_code} {r.text[:120]}")


def lost_updates(ws: Workspace, tally: Tally, before: dict[tuple[str, str, str], int]) -> list[str]:
    found = {(a.account_id, a.criterion, a.assessor): a for a in list_assessments(ws)}
    problems = []
    for key, saves in tally.saves.items():
        row = found.get(key)
        if row is None:
            problems.append(f"{key}: saved {len(saves)} times, not in the database")
            continue
        start = before.get(key, 0)
        versions = sorted(v for v, _ in saves)
        if versions != list(range(start + 1, start + len(saves) + 1)):
            problems.append(
                f"{key}: versions {versions} after {start} (two saves from one version)"
            )
        last = max(saves)[1]
        if row.version != start + len(saves) or abs(row.score - last) > 1e-9:
            problems.append(
                f"{key}: database has v{row.version} {row.score}, last save v{max(saves)[0]} {last}"
            )
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workspace", type=Path, default=None)
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    if not 1 <= args.users <= 200 or not 1 <= args.seconds <= 600:
        raise SystemExit("bounded: 1-200 users, 1-600 seconds")
    os.environ.pop("KEYFOLIO_DATABASE_URL", None)
    ws = workspace(args.workspace, args.users)
    latest = runs.latest(ws)
    assert latest is not None
    accounts = [str(a) for a in latest.portfolio(["account_id"])["account_id"]]
    before = {(a.account_id, a.criterion, a.assessor): a.version for a in list_assessments(ws)}
    server = serve(ws, args.port)
    tally = Tally()
    try:
        until = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=user,
                args=(
                    f"http://{HOST}:{args.port}",
                    f"load{i // 2}@example.com",
                    accounts,
                    until,
                    tally,
                    i // 2,
                ),
            )
            for i in range(args.users)
        ]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
    finally:
        server.terminate()
        server.wait(timeout=30)
    problems = lost_updates(ws, tally, before)
    total = sum(len(v) for v in tally.latency.values())
    print(
        f"\n{args.users} users, {elapsed:.0f} s, {total} requests ({total / elapsed:.0f}/s), "
        f"{sum(len(s) for s in tally.saves.values())} saves, "
        f"{tally.conflicts} refused as stale (409)"
    )
    print(f"{'page':<18}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for label, values in sorted(tally.latency.items()):
        q = statistics.quantiles(values, n=20) if len(values) > 1 else values * 19
        print(
            f"{label:<18}{len(values):>9}{statistics.median(values) * 1e3:>9.0f}"
            f"{q[18] * 1e3:>9.0f}{max(values) * 1e3:>9.0f}"
        )
    print(f"errors: {len(tally.errors)}; lost updates: {len(problems)}")
    for line in (tally.errors + problems)[:20]:
        print("  " + line)
    return 1 if tally.errors or problems else 0


if __name__ == "__main__":
    sys.exit(main())
