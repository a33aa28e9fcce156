"""The per-account tables of the sample: costs, assessments, wallet, declared, feedback.

They are generated after the order lines, from the per-account sums of what was actually
generated (:class:`~keyfolio.sample.lines.Stats`), so the planted economics hold exactly:
a value destroyer's cost to serve is set from its real gross margin and freight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from keyfolio.sample import names as nm
from keyfolio.sample.accounts import Accounts, Calendar, Team, dates, day, pick, rng_for, to_date
from keyfolio.sample.lines import Stats
from keyfolio.schema import TABLES

ACCOUNT_BLOCK = 50_000  # accounts per block of cost rows (bounded memory)

# activity: base probability, extra probability for the largest accounts, destroyer weight
_ACTIVITY_PROFILE: dict[str, tuple[float, float, float]] = {
    "custom_packaging": (0.05, 0.25, 3.0),
    "special_shipping": (0.15, 0.25, 2.5),
    "dedicated_service_hour": (0.02, 0.35, 4.0),
    "edi_message": (0.1, 0.6, 0.5),
    "quality_call": (0.2, 0.2, 2.0),
    "marketing_support": (0.05, 0.3, 0.5),
    "claims_handling": (0.06, 0.1, 1.0),
}
_DIAMOND_ACTIVITIES = ("edi_message", "special_shipping")


@dataclass
class CostPlan:
    activities: tuple[str, ...]
    rated: np.ndarray  # bool per activity: given as a quantity priced by the policy
    rate: np.ndarray  # policy rate per activity (1 for amounts)
    share: np.ndarray  # accounts × activities: cost to serve of each activity
    total: np.ndarray  # target cost to serve per account


def plan_costs(acc: Accounts, stats: Stats, rates: dict[str, float], seed: int) -> CostPlan:
    rng = rng_for(seed, 20)
    n = acc.n
    activities = tuple(_ACTIVITY_PROFILE)
    rated = np.array([a in rates and rates[a] > 0 for a in activities])
    rate = np.array([rates[a] if r else 1.0 for a, r in zip(activities, rated, strict=True)])
    rev = np.maximum(stats.revenue, 0.0)
    # small customers cost more to serve per unit of revenue (small orders, same handling),
    # so the tail of the portfolio gives part of the profit back (the whale curve)
    frac_cts = np.clip(rng.lognormal(np.log(0.04 + 0.4 * acc.frac**1.5), 0.6, n), 0.003, 0.9)
    total = rev * frac_cts
    d, g = acc.destroyer, acc.diamond
    margin_left = stats.revenue - stats.cogs - stats.freight
    total[d] = np.maximum(margin_left[d], 0.05 * rev[d]) * rng.uniform(1.3, 1.6, int(d.sum()))
    total[d] += 0.03 * rev[d]
    total[g] = rev[g] * rng.uniform(0.003, 0.01, int(g.sum()))
    total[acc.n_lines == 0] = 0.0

    base = np.array([p[0] for p in _ACTIVITY_PROFILE.values()])
    big = np.array([p[1] for p in _ACTIVITY_PROFILE.values()])
    p_active = base[None, :] + big[None, :] * (1 - acc.frac[:, None]) ** 4
    active = rng.random((n, len(activities))) < p_active
    active[d] = rated  # every quantity-priced activity, heavily
    diamond_ok = np.isin(np.array(activities), _DIAMOND_ACTIVITIES)
    active[g] &= diamond_ok
    none = ~active.any(axis=1)
    active[none, activities.index("quality_call")] = True
    weight = rng.gamma(1.5, 1.0, (n, len(activities))) * active
    heavy = np.array([p[2] for p in _ACTIVITY_PROFILE.values()])
    weight[d] *= heavy
    share = weight / weight.sum(axis=1, keepdims=True)
    return CostPlan(activities, rated, rate, share * total[:, None], total)


def _quarters(cal: Calendar) -> tuple[np.ndarray, np.ndarray]:
    """First and last day of each three-month period of the order window."""
    first = to_date(cal.start)
    starts = []
    m = 0
    while True:
        y, mo = divmod(first.month - 1 + m, 12)
        try:
            s = first.replace(year=first.year + y, month=mo + 1)
        except ValueError:
            s = date(first.year + y, mo + 1, 28)
        if day(s) > cal.end:
            break
        starts.append(day(s))
        m += 3
    qs = np.array(starts, dtype=np.int64)
    qe = np.append(qs[1:] - 1, cal.end)
    return qs, qe


def write_costs(
    acc: Accounts,
    plan: CostPlan,
    cal: Calendar,
    seed: int,
    path: Path,
    progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """Quarterly cost-to-serve rows per account and activity, written in account blocks."""
    schema = TABLES["costs"].arrow_schema()
    qs, qe = _quarters(cal)
    act_names = pa.array(plan.activities)
    rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for b, lo in enumerate(range(0, acc.n, ACCOUNT_BLOCK)):
            hi = min(acc.n, lo + ACCOUNT_BLOCK)
            rng = rng_for(seed, 21, b)
            a_idx, k_idx = np.nonzero(plan.share[lo:hi] > 0)
            a_idx += lo
            start, stop = acc.start[a_idx], acc.stop[a_idx]
            overlap = np.minimum(stop[:, None], qe[None, :]) - np.maximum(
                start[:, None], qs[None, :]
            )
            overlap = np.maximum(overlap + 1, 0).astype(np.float64)
            mid = (qs + qe)[None, :] / 2.0
            trend = np.exp(np.log1p(acc.growth[a_idx])[:, None] * (mid - stop[:, None]) / 365.0)
            weight = overlap * trend * rng.lognormal(0.0, 0.2, overlap.shape)
            weight /= np.maximum(weight.sum(axis=1, keepdims=True), 1e-12)
            value = plan.share[a_idx, k_idx][:, None] * weight
            rated = plan.rated[k_idx][:, None]
            qty = np.where(rated, np.round(value / plan.rate[k_idx][:, None]), np.nan)
            amount = np.where(rated, np.nan, np.round(value, 2))
            keep = (overlap > 0) & np.where(rated, qty > 0, amount > 0)
            pair, q = np.nonzero(keep)
            table = pa.table(
                {
                    "account_id": acc.ids.take(pa.array(a_idx[pair])),
                    "activity": act_names.take(pa.array(k_idx[pair])),
                    "date": dates(np.minimum(qe[q], stop[pair])),
                    "amount": pa.array(amount[pair, q], from_pandas=True),
                    "quantity": pa.array(qty[pair, q], from_pandas=True),
                }
            )
            writer.write_table(table.cast(schema), row_group_size=1_000_000)
            rows += table.num_rows
            if progress:
                progress("costs", hi, acc.n)
    return rows


def assessments_table(
    acc: Accounts, team: Team, stats: Stats, cal: Calendar, seed: int
) -> tuple[pa.Table, list[tuple[str, str]]]:
    """Several assessors score the few hundred largest accounts; some disagree strongly."""
    rng = rng_for(seed, 30)
    buyers = np.flatnonzero(acc.n_lines > 0)
    k = int(min(400, max(10, round(0.15 * acc.n)), len(buyers)))
    top = buyers[np.argsort(-stats.revenue[buyers], kind="stable")[:k]]
    top = np.union1d(top, np.flatnonzero(acc.destroyer | acc.diamond))
    n_c = len(nm.CRITERIA)
    latent = 3.0 + rng.normal(0, 0.8, (len(top), n_c))
    size = 1 - acc.frac[top]
    col = {c: i for i, c in enumerate(nm.CRITERIA)}
    latent[:, col["financial_security"]] += 0.6 * size - 1.2 * acc.churned[top]
    latent[:, col["ease_of_business"]] -= 1.6 * acc.destroyer[top]
    latent[:, col["brand_value"]] += 1.4 * acc.leader[top]
    latent[:, col["aligned_strategy"]] += 0.5 * acc.leader[top]
    latent[:, col["business_stability"]] -= 1.2 * acc.churned[top]
    # the people who know the diamonds see their potential
    g = acc.diamond[top]
    latent[:, col["cross_sell"]] += 1.4 * g
    latent[:, col["aligned_strategy"]] += 1.2 * g
    latent[:, col["adjacent_markets"]] += 0.8 * g
    latent[:, col["business_stability"]] += 0.6 * g
    hq = np.isin(top, acc.parent)
    latent[:, col["global_position"]] += 1.3 * hq + 0.5 * acc.leader[top] - 0.4
    latent[:, col["adjacent_markets"]] += 0.6 * hq
    bias = dict(zip(nm.EXTRA_ASSESSORS, (0.1, -0.4, -0.2, 0.0, 0.3), strict=True))
    owner_names = team.names
    rows: dict[str, list] = {k_: [] for k_ in ("a", "criterion", "score", "assessor", "date")}
    disagreements: list[tuple[str, str]] = []
    for i, a in enumerate(top):  # at most a few hundred accounts
        extra = rng.choice(len(nm.EXTRA_ASSESSORS), size=int(rng.integers(1, 4)), replace=False)
        who = [owner_names[acc.owner[a]]] + [nm.EXTRA_ASSESSORS[e] for e in extra]
        b = np.array([0.3] + [bias[nm.EXTRA_ASSESSORS[e]] for e in extra])
        scores = np.clip(
            np.round(latent[i][None, :] + b[:, None] + rng.normal(0, 0.5, (len(who), n_c))), 1, 5
        )
        clash = rng.random(n_c) < 0.1
        for c in np.flatnonzero(clash):
            hi_first = rng.random() < 0.5
            scores[0, c], scores[1, c] = (5.0, 1.0) if hi_first else (1.0, 5.0)
            disagreements.append((str(acc.ids[a]), nm.CRITERIA[c]))
        when = cal.end - rng.integers(0, 180, len(who))
        for j, name in enumerate(who):
            rows["a"].extend([a] * n_c)
            rows["criterion"].extend(nm.CRITERIA)
            rows["score"].extend(scores[j].tolist())
            rows["assessor"].extend([name] * n_c)
            rows["date"].extend([int(when[j])] * n_c)
    score = np.array(rows["score"], dtype=np.float64)
    comment = _comments(rng, score)
    table = pa.table(
        {
            "account_id": acc.ids.take(pa.array(np.array(rows["a"], dtype=np.int64))),
            "criterion": pa.array(rows["criterion"], type=pa.string()),
            "score": pa.array(score),
            "assessor": pa.array(rows["assessor"], type=pa.string()),
            "date": dates(np.array(rows["date"], dtype=np.int64)),
            "comment": comment,
        }
    )
    return table.cast(TABLES["assessments"].arrow_schema()), disagreements


def _comments(rng: np.random.Generator, score: np.ndarray) -> pa.Array:
    n = len(score)
    low = pick(nm.COMMENTS_LOW, rng.integers(0, len(nm.COMMENTS_LOW), n))
    mid = pick(nm.COMMENTS_MID, rng.integers(0, len(nm.COMMENTS_MID), n))
    high = pick(nm.COMMENTS_HIGH, rng.integers(0, len(nm.COMMENTS_HIGH), n))
    text = pc.if_else(pa.array(score <= 2), low, pc.if_else(pa.array(score >= 4), high, mid))
    return pc.if_else(pa.array(rng.random(n) < 0.35), text, pa.nulls(n, pa.string()))


def wallet_table(acc: Accounts, stats: Stats, cal: Calendar, seed: int) -> pa.Table:
    """The customer's total buying in our categories, for most accounts that buy from us."""
    rng = rng_for(seed, 40)
    n = acc.n
    years = max((cal.end - cal.start + 1) / 365.0, 1.0)
    yearly = np.where(stats.rev_last > 0, stats.rev_last, stats.revenue / years)
    share = np.clip(rng.beta(2.5, 3.0, n), 0.05, 0.9)
    share[acc.diamond] = rng.uniform(0.04, 0.12, int(acc.diamond.sum()))
    share[acc.leader] = rng.uniform(0.1, 0.35, int(acc.leader.sum()))
    share[acc.churned] = 0.02
    known = (acc.n_lines > 0) & (yearly > 0) & ((rng.random(n) < 0.85) | (acc.frac < 0.1))
    idx = np.flatnonzero(known)
    spend = np.maximum(100.0, np.round(yearly[idx] / share[idx], -2))
    period = f"FY{to_date(cal.end).year}"
    return pa.table(
        {
            "account_id": acc.ids.take(pa.array(idx)),
            "total_spend": pa.array(spend),
            "period": pa.array([period] * len(idx), type=pa.string()),
        }
    )


def declared_table(acc: Accounts, stats: Stats, plan: CostPlan, seed: int) -> pa.Table:
    """Three lists people already carry; they overlap only partly."""
    rng = rng_for(seed, 50)
    n = acc.n
    buyers = acc.n_lines > 0
    # leadership: the top ~20% by a rough idea of revenue, plus the famous names
    rough = np.where(buyers, np.maximum(stats.revenue, 0) * rng.lognormal(0, 0.35, n), -1.0)
    k = int(round(0.2 * buyers.sum()))
    leadership = np.zeros(n, bool)
    leadership[np.argsort(-rough, kind="stable")[:k]] = True
    leadership |= acc.leader & buyers
    # middle management: the accounts that make the most noise (service, complaints)
    with np.errstate(divide="ignore", invalid="ignore"):
        noise = np.where(buyers, plan.total / np.maximum(stats.revenue, 1.0), -1.0)
    noise = noise * rng.lognormal(0, 0.5, n) + 0.5 * acc.destroyer
    k = int(round(0.12 * buyers.sum()))
    middle = np.zeros(n, bool)
    middle[np.argsort(-noise, kind="stable")[:k]] = True
    # field reps: a few favourites per owner (long relationships, fast growers)
    tenure = (acc.stop - acc.since) / 3650.0
    fav = (
        tenure
        + 2 * acc.growth
        + rng.normal(0, 0.5, n)
        + 1.5 * (acc.diamond & (rng.random(n) < 0.6))
    )
    fav = np.where(buyers, fav, -np.inf)
    order = np.lexsort((-fav, acc.owner))
    owner_sorted = acc.owner[order]
    first = np.searchsorted(owner_sorted, owner_sorted)
    rank = np.arange(n) - first
    per_owner = np.bincount(acc.owner, weights=buyers)[owner_sorted]
    pick_rep = (rank < np.maximum(1, np.round(0.08 * per_owner))) & np.isfinite(fav[order])
    reps = np.zeros(n, bool)
    reps[order[pick_rep]] = True
    parts = [("leadership", leadership), ("middle_management", middle), ("field_reps", reps)]
    names = np.concatenate([np.full(int(m.sum()), name, dtype=object) for name, m in parts])
    idx = np.concatenate([np.flatnonzero(m) for _, m in parts])
    return pa.table(
        {
            "list_name": pa.array(names, type=pa.string()),
            "account_id": acc.ids.take(pa.array(idx)),
        }
    )


def feedback_table(acc: Accounts, cal: Calendar, seed: int) -> pa.Table:
    """Survey answers: supplier rating (1–5), NPS (−100..100), how they segment us (1–4).

    ``supplier_segment`` (the segment the customer puts us in, as in the policy template):
    1 commodity, 2 acceptable, 3 preferred, 4 strategic partner.
    """
    rng = rng_for(seed, 60)
    n = acc.n
    respond = (acc.n_lines > 0) & (rng.random(n) < 0.35 + 0.5 * (1 - acc.frac))
    idx = np.flatnonzero(respond)
    m = len(idx)
    d, g = acc.destroyer[idx], acc.diamond[idx]
    rating = 3.6 + rng.normal(0, 0.7, m) - 0.7 * d + 0.5 * g
    nps = 20 + rng.normal(0, 35, m) - 25 * d + 25 * g
    surveys = [max(cal.start + 30, cal.end - 335), cal.end - 45]
    cols: dict[str, list[np.ndarray]] = {"a": [], "metric": [], "value": [], "date": []}

    def add(mask: np.ndarray, metric: str, value: np.ndarray, when: int) -> None:
        cols["a"].append(idx[mask])
        cols["metric"].append(np.full(int(mask.sum()), metric, dtype=object))
        cols["value"].append(value[mask])
        cols["date"].append(np.full(int(mask.sum()), when, dtype=np.int64))

    for s, when in enumerate(surveys):
        alive = acc.stop[idx] >= when
        drift = rng.normal(0, 0.25 if s else 0.0, m)
        add(alive, "supplier_rating", np.clip(np.round(rating + drift, 1), 1, 5), when)
        add(alive, "nps", np.clip(np.round(nps + 30 * drift), -100, 100), when)
    segment = np.clip(np.round(rating - 0.9 + rng.normal(0, 0.5, m)), 1, 4)
    add(acc.stop[idx] >= surveys[-1], "supplier_segment", segment, surveys[-1])
    return pa.table(
        {
            "account_id": acc.ids.take(pa.array(np.concatenate(cols["a"]))),
            "metric": pa.array(np.concatenate(cols["metric"]), type=pa.string()),
            "value": pa.array(np.concatenate(cols["value"]).astype(np.float64)),
            "date": dates(np.concatenate(cols["date"])),
        }
    )
