"""Deterministic synthetic B2B data: a ready-to-run workspace with planted truths.

:func:`generate_workspace` writes ``keyfolio.toml`` (the template policy plus sample
criteria), ``data/<table>.parquet`` for every canonical table, ``truth.json`` (the planted
value destroyers, diamonds, market leaders, groups, churned and order-less accounts) and,
on request, ``sources/`` with ERP-style CSV exports and a ``mapping.toml`` that imports them.

The same arguments always give the same tables. Order lines are streamed chunk by chunk
(see :mod:`keyfolio.sample.lines`), so 100M lines fit in bounded memory.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from keyfolio.errors import KeyfolioError, WorkspaceError
from keyfolio.policy import parse_policy, template_text
from keyfolio.sample import accounts as ac
from keyfolio.sample import tables as tb
from keyfolio.sample.lines import CHUNK_LINES, LineResult, write_orders_and_lines
from keyfolio.sample.sources import SourceWriter
from keyfolio.schema import TABLES
from keyfolio.workspace import POLICY_FILE, atomic_write_text

Progress = Callable[[str, int, int], None]

MAX_ACCOUNTS = 10_000_000
MAX_LINES = 2_000_000_000


@dataclass(frozen=True)
class SampleInfo:
    """What :func:`generate_workspace` wrote: the folder, rows per table, seconds taken."""

    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def truth_path(self) -> Path:
        return self.path / "truth.json"


def _check(accounts: int, lines: int, years: int, end_date: date) -> None:
    if not 50 <= accounts <= MAX_ACCOUNTS:
        raise KeyfolioError(f"accounts: expected 50 to {MAX_ACCOUNTS:,}, found {accounts}")
    if not 1_000 <= lines <= MAX_LINES:
        raise KeyfolioError(f"lines: expected 1,000 to {MAX_LINES:,}, found {lines}")
    if not 1 <= years <= 10:
        raise KeyfolioError(f"years: expected 1 to 10, found {years}")
    if not date(2000, 1, 1) <= end_date <= date(2100, 1, 1):
        raise KeyfolioError(f"end_date: expected a date in 2000..2100, found {end_date}")


def generate_workspace(
    out: Path,
    *,
    accounts: int = 2000,
    lines: int = 200_000,
    years: int = 3,
    seed: int = 7,
    end_date: date = date(2026, 9, 30),
    sources: bool = False,
    progress: Progress | None = None,
    overwrite: bool = False,
    chunk_lines: int = CHUNK_LINES,
) -> SampleInfo:
    """Write a sample workspace to ``out`` and return what was written.

    ``truth.json`` lists account ids: ``value_destroyers`` (very large, negative net
    contribution after cost to serve), ``diamonds`` (modest revenue, high margin, fast
    growth, little cost to serve), ``market_leaders``, ``groups`` ({HQ: [subsidiaries in
    other countries]}, ``global_group`` the largest), ``churned`` (stopped ordering months
    before the end), ``no_orders``, and ``disagreements`` ([account, criterion] pairs where
    assessors scored 1 and 5). ``progress(stage, done, total)`` is called for the stages
    ``accounts``, ``order_lines``, ``costs`` and (with ``sources``) ``sources``.

    ``out`` must not exist or be empty; with ``overwrite=True`` an existing workspace
    (a folder holding ``keyfolio.toml``) is replaced. The folder is built under a
    temporary name next to ``out`` and renamed into place when complete.
    """
    _check(accounts, lines, years, end_date)
    out = Path(out)
    _check_target(out, overwrite)
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.sample-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        counts = _build(tmp, accounts, lines, years, seed, end_date, sources, progress, chunk_lines)
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SampleInfo(out, counts, time.perf_counter() - t0)


def make_sample(
    path: Path,
    *,
    accounts: int = 2000,
    lines: int = 200_000,
    years: int = 3,
    seed: int = 7,
    sources: bool = False,
    replace: bool = False,
    progress: Progress | None = None,
) -> SampleInfo:
    """A sample workspace for ``keyfolio sample`` and ``keyfolio demo`` (``replace``
    replaces an earlier *sample* in the folder, never a user's own workspace: one without
    ``truth.json``)."""
    if replace and path.is_dir() and any(path.iterdir()) and not (path / "truth.json").is_file():
        raise WorkspaceError(f"{path}: folder exists and is not a sample (choose another folder)")
    return generate_workspace(
        path, accounts=accounts, lines=lines, years=years, seed=seed, sources=sources,
        progress=progress, overwrite=replace,
    )  # fmt: skip


def _check_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise WorkspaceError(f"{out}: expected a folder for the sample workspace, found a file")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise WorkspaceError(f"{out}: expected a new or empty folder, found existing files")
        if not (out / POLICY_FILE).is_file():
            raise WorkspaceError(
                f"{out}: refusing to overwrite, expected a workspace ({POLICY_FILE}), "
                "found other files"
            )


def _replace(tmp: Path, out: Path) -> None:
    if out.is_dir() and any(out.iterdir()):
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        if out.is_dir():
            out.rmdir()
        os.replace(tmp, out)


def _build(
    root: Path,
    n_accounts: int,
    n_lines: int,
    years: int,
    seed: int,
    end_date: date,
    sources: bool,
    progress: Progress | None,
    chunk_lines: int,
) -> dict[str, int]:
    data = root / "data"
    data.mkdir(parents=True)
    report = progress or (lambda stage, done, total: None)
    report("accounts", 0, n_accounts)
    cal = ac.Calendar.of(end_date, years)
    acc = ac.make_accounts(n_accounts, cal, seed)
    prod = ac.make_products(n_accounts, seed)
    kam_hours = parse_policy(template_text()).selection.capacity_hours
    regions = np.bincount(acc.region, minlength=len(ac.REGIONS))
    team = ac.make_team(regions, n_accounts, seed, kam_hours)
    ac.assign_owners(acc, team, seed)
    ac.allocate_lines(acc, n_lines)
    policy_text = sample_policy(team)
    rates = dict(parse_policy(policy_text).cost_to_serve.rates)
    small = {
        "accounts": ac.accounts_table(acc, team, seed),
        "products": prod.table(),
        "team": team.table(ac.REGIONS),
    }
    report("accounts", n_accounts, n_accounts)

    writer = None
    if sources:
        writer = SourceWriter(root / "sources")
    sink = writer.lines_sink if writer else None
    result = write_orders_and_lines(
        acc, prod, cal, seed, data, chunk=chunk_lines, progress=progress, sink=sink
    )
    plan = tb.plan_costs(acc, result.stats, rates, seed)
    n_costs = tb.write_costs(acc, plan, cal, seed, data / "costs.parquet", progress)
    assessments, disagreements = tb.assessments_table(acc, team, result.stats, cal, seed)
    small["assessments"] = assessments
    small["wallet"] = tb.wallet_table(acc, result.stats, cal, seed)
    small["declared"] = tb.declared_table(acc, result.stats, plan, seed)
    small["feedback"] = tb.feedback_table(acc, cal, seed)
    for name, table in small.items():
        _write_small(data / f"{name}.parquet", name, table)
    atomic_write_text(root / POLICY_FILE, policy_text)
    os.chmod(root / POLICY_FILE, 0o644)
    truth = planted_truth(acc, result, disagreements, seed=seed, cal=cal)
    atomic_write_text(root / "truth.json", json.dumps(truth, indent=1) + "\n")
    os.chmod(root / "truth.json", 0o644)
    if writer:
        report("sources", 0, 1)
        writer.write_tables(small, data)
        writer.finish()
        report("sources", 1, 1)
    counts = {name: t.num_rows for name, t in small.items()}
    counts.update(orders=result.orders, order_lines=result.lines, costs=n_costs)
    return {t: counts[t] for t in TABLES if t in counts}


def _write_small(path: Path, name: str, table: pa.Table) -> None:
    spec = TABLES[name]
    known = [c for c in spec.names if c in table.column_names]
    extra = [c for c in table.column_names if c not in known]
    schema = spec.arrow_schema(known)
    for c in extra:
        schema = schema.append(table.schema.field(c))
    pq.write_table(table.select(known + extra).cast(schema), path, compression="zstd")


def planted_truth(
    acc: ac.Accounts,
    result: LineResult,
    disagreements: list[tuple[str, str]],
    *,
    seed: int,
    cal: ac.Calendar,
) -> dict[str, object]:
    """The planted facts, as account ids, for tests and the demo."""
    ids = acc.ids.to_pylist()
    buys = acc.n_lines > 0

    def listed(mask: np.ndarray) -> list[str]:
        return [ids[i] for i in np.flatnonzero(mask)]

    groups: dict[str, list[str]] = {}
    for kid in np.flatnonzero(acc.parent >= 0):
        groups.setdefault(ids[acc.parent[kid]], []).append(ids[kid])
    sizes = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    return {
        "seed": seed,
        "window": [ac.to_date(cal.start).isoformat(), ac.to_date(cal.end).isoformat()],
        "value_destroyers": listed(acc.destroyer & buys),
        "diamonds": listed(acc.diamond & buys),
        "market_leaders": listed(acc.leader),
        "groups": groups,
        "global_group": sizes[0][0] if sizes else None,
        "churned": listed(acc.churned & buys),
        "no_orders": listed(~buys),
        "disagreements": [list(d) for d in disagreements],
        "returns": result.returns,
    }


# --- the policy ----------------------------------------------------------------------------
_CRITERIA = """
# --- Added by `keyfolio sample`: criteria for the synthetic sample ------------------------
[[attractiveness]]
name = "profit_potential"
source = "metric:clv"
weight = 3
description = "Expected customer lifetime value over the horizon"

[[attractiveness]]
name = "growth"
source = "metric:revenue_growth"
weight = 2

[[attractiveness]]
name = "strategic_fit"
source = "assessment:aligned_strategy"
weight = 2
scale = "direct"

[[attractiveness]]
name = "financial_security"
source = "assessment:financial_security"
weight = 1
scale = "direct"

[[attractiveness]]
name = "cross_sell"
source = "assessment:cross_sell"
weight = 1
scale = "direct"

[[attractiveness]]
name = "wallet_headroom"
source = "metric:share_of_wallet"
weight = 1
invert = true
description = "A low share of the customer's wallet leaves room to grow"
"""

_STRENGTH = """
[[strength]]
name = "supplier_rating"
source = "feedback:supplier_rating"
weight = 2
scale = "direct"
range = [1, 5]

[[strength]]
name = "nps"
source = "feedback:nps"
weight = 1
scale = "direct"
range = [-100, 100]

[[strength]]
name = "share_of_wallet"
source = "metric:share_of_wallet"
weight = 1

[[strength]]
name = "ease_of_business"
source = "assessment:ease_of_business"
weight = 1
scale = "direct"
"""


def sample_policy(team: ac.Team) -> str:
    """The template policy plus the sample's criteria and capacity (where the template has none).

    Sections the template already defines are left as they are: appending a second
    ``[selection]`` table would not be valid TOML.
    """
    text = template_text().rstrip("\n") + "\n"
    # This company's margin is spread wider than 80/20 (large accounts buy at lower margins):
    # with the template's cuts a third of the accounts would be "large". The sample's
    # definition calls large the accounts making the first half of the margin.
    text = text.replace(
        "cuts = [0.80, 0.95]             #   basis, medium the next 15%, small the rest",
        "cuts = [0.50, 0.85]             #   (this company: large = the first 50% of the\n"
        "                                #   margin, medium the next 35%, small the rest)",
    )
    present = tomllib.loads(text)
    if "attractiveness" not in present:
        text += _CRITERIA
    if "strength" not in present:
        text += _STRENGTH
    if "selection" not in present:
        capacity = float(np.round(team.capacity.sum() / 100) * 100)
        text += (
            "\n[selection]\n"
            f"capacity_hours = {capacity:.0f}  # the sample team's KAM hours\n"
            "hours = { large = 400, medium = 250, small = 150 }\n"
            "never = [\"status == 'closed'\"]\n"
            "keep_margin = 5\n"
        )
    return text
