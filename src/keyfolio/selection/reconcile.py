"""Reconciliation of the definition with the key-account lists people already carry.

From the ``declared`` table (list_name, account_id). Declared member accounts of a group are
counted as their group (selection happens on groups and standalone accounts). Outputs:

* ``lists``: per list — accounts named, known to the portfolio, selected by the definition,
  and the share selected;
* ``overlap``: pairwise Jaccard ``|A ∩ B| / |A ∪ B|`` between the lists and with the
  definition (the list named ``definition`` = the accounts the run makes key);
* ``failing``: accounts declared key by two or more lists that the definition does not make
  key, with the lists and the reasons;
* ``unlisted``: key accounts that no list names;
* ``economics``: for the definition's list and each declared list, the economics of the
  accounts on it against the rest (accounts, revenue, contribution margin %, cost to serve
  % of revenue, net contribution %): the test practitioners apply to a key-account list
  (lists chosen by size often average a fraction of the middle group's margin).

A declared list named ``targets`` is not a key-account list: it names the accounts that are
key-account *targets* (prospects, market leaders in new markets); it is left out here and
read by the selection stage instead (``is_target``).

:meth:`Reconciliation.frame` stacks them into one long table (``section`` column) for
``reconciliation.parquet``; :meth:`Reconciliation.from_frame` reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from keyfolio.ids import isin, member_to_group
from keyfolio.ratios import per

DEFINITION = "definition"
TARGETS = "targets"
SECTIONS = ("lists", "overlap", "failing", "unlisted", "economics")
COUNTS = frozenset(
    {"n_declared", "n_known", "n_key", "n_a", "n_b", "n_common", "n_lists", "n_accounts"}
)
COLUMNS = {
    "lists": ["list_name", "n_declared", "n_known", "n_key", "share_key"],
    "overlap": ["list_a", "list_b", "n_a", "n_b", "n_common", "jaccard"],
    "failing": ["account_id", "name", "n_lists", "lists", "reasons"],
    "unlisted": ["account_id", "name", "quadrant", "decision", "reasons"],
    "economics": ["list_name", "side", "n_accounts", "revenue", "cm_pct", "cts_pct", "net_pct"],
}


@dataclass(frozen=True)
class Reconciliation:
    """The definition against the declared lists (see the module docstring)."""

    lists: pd.DataFrame
    overlap: pd.DataFrame
    failing: pd.DataFrame
    unlisted: pd.DataFrame
    economics: pd.DataFrame

    def weaker_lists(self) -> list[str]:
        """Declared lists whose accounts earn a lower contribution margin % than the rest."""
        e = self.economics
        if e.empty:
            return []
        wide = e.pivot_table(index="list_name", columns="side", values="cm_pct")
        if not {"on the list", "the rest"} <= set(wide.columns):
            return []
        weak = wide[wide["on the list"] < wide["the rest"]].index
        return [str(n) for n in weak if n != DEFINITION]

    @classmethod
    def empty(cls) -> Reconciliation:
        return cls(*(pd.DataFrame(columns=COLUMNS[s]) for s in SECTIONS))

    @property
    def has_lists(self) -> bool:
        return not self.lists.empty

    def sections(self) -> dict[str, pd.DataFrame]:
        return {s: getattr(self, s) for s in SECTIONS}

    def frame(self) -> pd.DataFrame:
        """One long table with a ``section`` column (lists / overlap / failing / unlisted);
        columns that a section lacks are null. Values are kept as text where types mix."""
        frames = [df.assign(section=section) for section, df in self.sections().items()]
        out = pd.concat(frames, ignore_index=True)
        for c in ("name", "reasons", "lists", "quadrant", "decision", "list_name", "list_a",
                  "list_b", "side"):  # fmt: skip
            if c in out.columns:
                out[c] = out[c].astype(object).where(out[c].notna(), None)
        cols = ["section"] + [c for c in out.columns if c != "section"]
        return out[cols]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Reconciliation:
        """The sections back from :meth:`frame`'s long table."""
        parts = []
        for section in SECTIONS:
            part = frame[frame["section"] == section].drop(columns=["section"])
            part = part.dropna(axis=1, how="all").reset_index(drop=True)
            for c in COUNTS.intersection(part.columns):  # stacked with nulls, they became floats
                part[c] = part[c].astype("int64")
            known = [c for c in COLUMNS[section] if c in part.columns]
            parts.append(part[known + [c for c in part.columns if c not in known]])
        return cls(*parts)


def reconcile(portfolio: pd.DataFrame, declared: pd.DataFrame | None) -> Reconciliation:
    """``portfolio`` needs account_id, name, is_key, reasons, quadrant, decision and the
    optional group_id / in_group columns."""
    if declared is not None and len(declared):
        declared = declared[declared["list_name"].astype(str) != TARGETS]
    if declared is None or not len(declared):
        empty = Reconciliation.empty()
        return Reconciliation(
            empty.lists, empty.overlap, empty.failing, empty.unlisted,
            list_economics(portfolio, {}),
        )  # fmt: skip
    ids = portfolio["account_id"].astype(str)
    d = pd.DataFrame(
        {
            "list_name": declared["list_name"].astype(str).to_numpy(),
            "account_id": declared["account_id"].astype(str).to_numpy(),
        }
    )
    to_group = member_to_group(portfolio)
    if len(to_group):  # a member on a list counts for its group
        d["account_id"] = d["account_id"].map(to_group).fillna(d["account_id"])
    d = d.drop_duplicates()
    known = set(ids)
    key = set(ids[portfolio["is_key"].astype(bool).to_numpy()])
    sets = {name: set(g["account_id"]) for name, g in d.groupby("list_name", sort=True)}
    lists = pd.DataFrame(
        [
            {
                "list_name": name,
                "n_declared": len(s),
                "n_known": len(s & known),
                "n_key": len(s & key),
                "share_key": len(s & key) / len(s) if s else float("nan"),
            }
            for name, s in sets.items()
        ]
    )
    all_sets = {**sets, DEFINITION: key}
    overlap = pd.DataFrame(
        [
            {
                "list_a": a, "list_b": b, "n_a": len(all_sets[a]), "n_b": len(all_sets[b]),
                "n_common": len(all_sets[a] & all_sets[b]),
                "jaccard": _jaccard(all_sets[a], all_sets[b]),
            }
            for a, b in combinations(all_sets, 2)
        ],
        columns=COLUMNS["overlap"],
    )  # fmt: skip
    # on two lists or more but not key: the lists' names in order, one row per account
    n_lists = d.groupby("account_id", sort=True)["list_name"].nunique()
    fail = n_lists[(n_lists >= 2).to_numpy() & ~isin(n_lists.index, key)]
    fail_ids = fail.index.astype(str)
    on_lists = _joined(d[isin(d["account_id"], fail_ids)])
    at = pd.Index(ids).get_indexer(fail_ids)  # their portfolio rows (-1: unknown id)
    failing = pd.DataFrame(
        {
            "account_id": list(fail_ids),
            "name": _shown(portfolio, "name", at),
            "n_lists": fail.to_numpy().astype(int).tolist(),
            "lists": on_lists.reindex(fail_ids).tolist(),
            "reasons": [
                r if i >= 0 else "not in the portfolio (unknown id)"
                for i, r in zip(at, _shown(portfolio, "reasons", at), strict=True)
            ],  # fmt: skip
        }
    ).sort_values(["n_lists", "account_id"], ascending=[False, True], ignore_index=True)
    un = portfolio.loc[
        portfolio["is_key"].astype(bool).to_numpy() & ~isin(ids, d["account_id"]),
        ["account_id", "name", "quadrant", "decision", "reasons"],
    ]
    unlisted = un.assign(account_id=un["account_id"].astype(str)).reset_index(drop=True)
    return Reconciliation(lists, overlap, failing, unlisted, list_economics(portfolio, sets))


def list_economics(portfolio: pd.DataFrame, lists: dict[str, set[str]]) -> pd.DataFrame:
    """Per list (the definition's first, then the declared ones): the selectable accounts on
    it against the rest, side by side."""
    needed = ["account_id", "is_key", "selectable", "revenue", "contribution_margin",
              "cost_to_serve", "net_contribution"]  # fmt: skip
    pf = portfolio[[c for c in needed if c in portfolio.columns]]  # not every column, per side
    if "selectable" in pf.columns:
        pf = pf[pf["selectable"].fillna(False).astype(bool)]
    ids = pf["account_id"].astype(str)
    key = set(ids[pf["is_key"].astype(bool).to_numpy()]) if "is_key" in pf.columns else set()
    rows = []
    for name, members in {DEFINITION: key, **lists}.items():
        on = isin(ids, members)
        for side, mask in (("on the list", on), ("the rest", ~on)):
            part = pf[mask]
            rev = _total(part, "revenue")

            def share(col: str, part: pd.DataFrame = part, rev: float = rev) -> float:
                return per(_total(part, col), rev)

            rows.append({
                "list_name": name, "side": side, "n_accounts": int(mask.sum()), "revenue": rev,
                "cm_pct": share("contribution_margin"), "cts_pct": share("cost_to_serve"),
                "net_pct": share("net_contribution"),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS["economics"])


def _total(df: pd.DataFrame, col: str) -> float:
    if col not in df.columns:
        return float("nan")
    return float(pd.to_numeric(df[col], errors="coerce").sum())


def _jaccard(a: set[str], b: set[str]) -> float:
    u = a | b
    return len(a & b) / len(u) if u else float("nan")


def _joined(d: pd.DataFrame) -> pd.Series:
    """Per account id (the index), the names of its lists in order, joined by ", " (a
    concatenation per group in numpy: a Python join per group takes 24 s at 356k accounts)."""
    d = d.sort_values(["account_id", "list_name"])
    acc = d["account_id"].to_numpy(dtype=object)
    name = d["list_name"].to_numpy(dtype=object)
    if not len(acc):
        return pd.Series([], dtype=object)
    first = np.r_[True, acc[1:] != acc[:-1]]
    starts = np.flatnonzero(first)
    pieces = np.where(first, name, ", " + name)
    return pd.Series(np.add.reduceat(pieces, starts), index=acc[starts])


def _shown(portfolio: pd.DataFrame, col: str, at: np.ndarray) -> list[object]:
    """A portfolio column's values at the rows ``at`` (None where a row is -1 or the value is
    missing), reading only those rows of that column."""
    if col not in portfolio.columns:
        return [None] * len(at)
    vals = portfolio[col].take(np.where(at < 0, 0, at)).to_numpy(dtype=object)  # only these
    return [None if i < 0 or pd.isna(v) else v for i, v in zip(at, vals, strict=True)]
