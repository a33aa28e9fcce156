"""Accounts, products and team of the synthetic sample, with the planted truth.

Everything here is vectorised over accounts (numpy arrays of length N), so a million
accounts take seconds. The per-account commercial profile (how many lines, how large,
which products, what discount, how it grows) is decided here; :mod:`.lines` turns it into
orders and order lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keyfolio.sample import names as nm

EPOCH = date(1970, 1, 1)
PARETO_ALPHA = 1.08  # revenue scale tail: a few % of the accounts make most of the revenue


def day(d: date) -> int:
    return (d - EPOCH).days


def to_date(days: int) -> date:
    return EPOCH + timedelta(days=int(days))


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """An independent, reproducible random stream for one stage (and chunk) of the sample."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def id_strings(numbers: np.ndarray, width: int, prefix: str = "") -> pa.Array:
    """Zero-padded string ids (``000042``): leading zeros must survive every round trip."""
    arr = pc.utf8_lpad(
        pa.array(numbers.astype(np.int64)).cast(pa.string()), width=width, padding="0"
    )
    if prefix:
        arr = pc.binary_join_element_wise(prefix, arr, "")
    return arr


def dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype(np.int32)).view(pa.date32())


def pick(words: tuple[str, ...], idx: np.ndarray) -> pa.Array:
    return pa.array(words).take(pa.array(idx.astype(np.int64)))


@dataclass(frozen=True)
class Calendar:
    start: int  # first day with orders (days since 1970-01-01)
    end: int  # last day with orders

    @classmethod
    def of(cls, end_date: date, years: int) -> Calendar:
        try:
            first = end_date.replace(year=end_date.year - years)
        except ValueError:  # 29 February
            first = end_date.replace(year=end_date.year - years, day=28)
        return cls(day(first) + 1, day(end_date))


@dataclass
class Products:
    n: int
    ids: pa.Array
    category: np.ndarray  # category index per product (sorted by category)
    cat_start: np.ndarray  # first product index of each category
    cat_count: np.ndarray
    list_price: np.ndarray
    unit_cost: np.ndarray
    seed: int

    def table(self) -> pa.Table:
        cat_names = tuple(c[0] for c in nm.CATEGORIES)
        rng = rng_for(self.seed, 99)
        word = np.empty(self.n, dtype=np.int64)
        words: list[str] = []
        for c, ws in enumerate(nm.PRODUCT_WORDS):
            sel = self.category == c
            word[sel] = len(words) + rng.integers(0, len(ws), int(sel.sum()))
            words.extend(ws)
        code = id_strings(np.arange(self.n) * 7 % 900 + 100, 3)
        name = pc.binary_join_element_wise(
            pick(tuple(words), word), pc.binary_join_element_wise("KF", code, "-"), " "
        )
        return pa.table(
            {
                "product_id": self.ids,
                "name": name,
                "category": pick(cat_names, self.category),
                "unit_cost": pa.array(self.unit_cost),
                "list_price": pa.array(self.list_price),
            }
        )


def make_products(n_accounts: int, seed: int) -> Products:
    rng = rng_for(seed, 1)
    n = int(np.clip(round(30 * n_accounts**0.35), 60, 5000))
    share = np.array([c[1] for c in nm.CATEGORIES])
    count = np.maximum(3, np.floor(n * share / share.sum()).astype(np.int64))
    n = int(count.sum())
    category = np.repeat(np.arange(len(count)), count)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    median = np.array([c[2] for c in nm.CATEGORIES])[category]
    margin = np.array([c[3] for c in nm.CATEGORIES])[category]
    price = np.round(median * rng.lognormal(0.0, 0.7, n), 2).clip(0.5)
    cost = np.round(price * (1 - margin * rng.uniform(0.85, 1.15, n)), 2).clip(0.1)
    ids = id_strings(np.arange(1, n + 1) * 10, max(5, len(str(n * 10)) + 1))
    return Products(n, ids, category, start, count, price, cost, seed)


@dataclass
class Team:
    n: int
    ids: pa.Array
    region: np.ndarray  # region index per manager (sorted by region)
    capacity: np.ndarray
    names: list[str] = field(default_factory=list)

    def table(self, regions: tuple[str, ...]) -> pa.Table:
        return pa.table(
            {
                "manager_id": self.ids,
                "name": pa.array(self.names),
                "capacity_hours": pa.array(self.capacity),
                "region": pick(regions, self.region),
            }
        )


def person_names(n: int, offset: int = 0) -> list[str]:
    f, last = nm.FIRST_NAMES, nm.LAST_NAMES
    out = []
    for i in range(offset, offset + n):
        out.append(f"{f[i % len(f)]} {last[(i // len(f) + i * 7) % len(last)]}")
    return out


def make_team(
    region_counts: np.ndarray, n_accounts: int, seed: int, kam_hours: float | None = None
) -> Team:
    """Account managers per region; ``capacity_hours`` is each one's KAM time per year.

    With ``kam_hours`` (the policy's selection capacity) the team's hours add up to about it.
    """
    rng = rng_for(seed, 2)
    total = int(np.clip(round(n_accounts / 80), 8, 2000))
    present = region_counts > 0
    per = np.where(present, np.maximum(1, np.round(total * region_counts / region_counts.sum())), 0)
    per = per.astype(np.int64)
    region = np.repeat(np.arange(len(per)), per)
    n = len(region)
    mean = kam_hours / n if kam_hours else 250.0
    capacity = np.maximum(10.0, np.round(mean * rng.uniform(0.7, 1.3, n) / 10) * 10)
    ids = id_strings(np.arange(1, n + 1), max(4, len(str(n))), prefix="M")
    return Team(n, ids, region, capacity.astype(np.float64), person_names(n))


REGIONS: tuple[str, ...] = tuple(dict.fromkeys(c[2] for c in nm.COUNTRIES))
COUNTRY_REGION = np.array([REGIONS.index(c[2]) for c in nm.COUNTRIES])
N_CAT = len(nm.CATEGORIES)


@dataclass
class Accounts:
    """One entry per account in every array (index = position in the accounts table)."""

    n: int
    ids: pa.Array
    w: np.ndarray  # relative yearly revenue at the end of the account's active window
    frac: np.ndarray  # size rank as a fraction: 0 = largest, near 1 = smallest
    country: np.ndarray
    industry: np.ndarray
    since: np.ndarray  # customer_since (days)
    start: np.ndarray  # first possible order day
    stop: np.ndarray  # last possible order day
    growth: np.ndarray  # yearly growth of the order rate
    parent: np.ndarray  # index of the group HQ, -1 when none
    destroyer: np.ndarray
    diamond: np.ndarray
    leader: np.ndarray
    churned: np.ndarray
    dormant: np.ndarray  # planted: no orders at all
    closed: np.ndarray
    base_name: pa.Array
    legal: np.ndarray  # index into the flat legal-form list
    # commercial profile
    fav_cat: np.ndarray
    p_fav: np.ndarray
    price_factor: np.ndarray
    disc_base: np.ndarray
    disc_zero: np.ndarray
    qscale: np.ndarray
    freight_rate: np.ndarray
    lines_per_order: np.ndarray
    employees: np.ndarray
    n_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    n_orders: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def region(self) -> np.ndarray:
        return COUNTRY_REGION[self.country]

    @property
    def has_orders(self) -> np.ndarray:
        return self.n_lines > 0


LEGAL_FORMS: tuple[str, ...] = tuple(f for c in nm.COUNTRIES for f in c[4])
_LEGAL_START = np.cumsum([0] + [len(c[4]) for c in nm.COUNTRIES])[:-1]
_LEGAL_COUNT = np.array([len(c[4]) for c in nm.COUNTRIES])


def _choose(rng: np.random.Generator, mask: np.ndarray, k: int) -> np.ndarray:
    """k random indices where ``mask`` holds (fewer if there are not enough), sorted."""
    cand = np.flatnonzero(mask)
    k = min(k, len(cand))
    if k <= 0:
        return np.zeros(0, np.int64)
    return np.sort(rng.choice(cand, size=k, replace=False))


def _base_names(rng: np.random.Generator, n: int) -> pa.Array:
    pre = pick(nm.NAME_PREFIXES, rng.integers(0, len(nm.NAME_PREFIXES), n))
    root = pick(nm.NAME_ROOTS, rng.integers(0, len(nm.NAME_ROOTS), n))
    noun = pick(nm.NAME_NOUNS, rng.integers(0, len(nm.NAME_NOUNS), n))
    plain = pc.binary_join_element_wise(pc.binary_join_element_wise(pre, root, ""), noun, " ")
    # Some partnership names carry a comma (CSV quoting must cope with it).
    a = pick(nm.LAST_NAMES, rng.integers(0, len(nm.LAST_NAMES), n))
    b = pick(nm.LAST_NAMES, rng.integers(0, len(nm.LAST_NAMES), n))
    partners = pc.binary_join_element_wise(a, b, ", ")
    partners = pc.binary_join_element_wise(partners, "& Partners", " ")
    return pc.if_else(pa.array(rng.random(n) < 0.04), partners, plain)


def make_accounts(n: int, cal: Calendar, seed: int) -> Accounts:
    rng = rng_for(seed, 3)
    w = (1.0 - rng.random(n)) ** (-1.0 / PARETO_ALPHA)
    w = np.minimum(w, 0.04 * w.sum())
    order = np.argsort(-w, kind="stable")
    frac = np.empty(n)
    frac[order] = np.arange(n) / n
    weights = np.array([c[3] for c in nm.COUNTRIES])
    country = rng.choice(len(weights), size=n, p=weights / weights.sum())
    window = cal.end - cal.start + 1
    since = cal.start - np.round(rng.exponential(6 * 365, n)).astype(np.int64) - 1
    since = np.maximum(since, day(date(1992, 1, 1)))
    new = rng.random(n) < 0.12
    since[new] = rng.integers(cal.start, cal.end - min(60, window // 4), int(new.sum()))
    acc = Accounts(
        n=n,
        ids=id_strings(np.arange(1, n + 1), max(6, len(str(n)) + 1)),
        w=w,
        frac=frac,
        country=country,
        industry=rng.integers(0, len(nm.INDUSTRIES), n),
        since=since,
        start=np.maximum(since, cal.start),
        stop=np.full(n, cal.end, dtype=np.int64),
        growth=np.clip(rng.normal(0.03, 0.12, n), -0.4, 0.5),
        parent=np.full(n, -1, dtype=np.int64),
        destroyer=np.zeros(n, bool),
        diamond=np.zeros(n, bool),
        leader=np.zeros(n, bool),
        churned=np.zeros(n, bool),
        dormant=np.zeros(n, bool),
        closed=np.zeros(n, bool),
        base_name=_base_names(rng, n),
        legal=_LEGAL_START[country] + rng.integers(0, 1 << 30, n) % _LEGAL_COUNT[country],
        fav_cat=rng.integers(0, N_CAT, n),
        p_fav=rng.uniform(0.3, 0.7, n),
        price_factor=1.05 - 0.12 * (1 - frac) ** 2 + rng.normal(0, 0.02, n),
        disc_base=np.clip(0.02 + 0.12 * (1 - frac) ** 2 + rng.uniform(-0.02, 0.04, n), 0, 0.28),
        disc_zero=0.1 + 0.5 * frac,
        qscale=3.0 * w**0.35,
        freight_rate=rng.uniform(0.01, 0.025, n),
        lines_per_order=np.clip(1.5 + 3 * np.log10(w), 1.5, 12),
        employees=np.round(20 * w**0.8 * rng.lognormal(0, 0.5, n)).clip(1),
    )
    _plant(acc, cal, rng)
    return acc


def _plant(acc: Accounts, cal: Calendar, rng: np.random.Generator) -> None:
    """Choose the planted accounts and give them their profile."""
    n, frac = acc.n, acc.frac
    used = np.zeros(n, bool)
    window = cal.end - cal.start + 1

    dormant = _choose(rng, frac >= 0.1, max(1, round(0.03 * n)))
    acc.dormant[dormant] = used[dormant] = True

    old = acc.start <= cal.start + window // 4
    churned = _choose(rng, (frac >= 0.1) & ~used & old, max(1, round(0.05 * n)))
    acc.churned[churned] = used[churned] = True
    lag = np.clip(rng.uniform(0.2, 0.5, len(churned)) * window, 90, 600).astype(np.int64)
    acc.stop[churned] = cal.end - lag
    acc.closed[churned] = rng.random(len(churned)) < 0.35

    k = int(np.clip(round(0.004 * n), 3, 200))
    top = frac < (3 * k + 3) / n  # among the very largest accounts
    d = _choose(rng, top & ~used & old, k)
    acc.destroyer[d] = used[d] = True
    acc.fav_cat[d] = rng.choice(nm.LOW_MARGIN_CATEGORIES, len(d))
    acc.p_fav[d] = 0.8
    acc.price_factor[d] = rng.uniform(0.93, 0.96, len(d))
    acc.disc_base[d] = rng.uniform(0.1, 0.14, len(d))
    acc.disc_zero[d] = 0.05
    acc.freight_rate[d] = rng.uniform(0.04, 0.06, len(d))
    acc.growth[d] = rng.uniform(-0.02, 0.06, len(d))

    k = int(np.clip(round(0.01 * n), 4, 1000))
    g = _choose(rng, (frac >= 0.25) & (frac < 0.6) & ~used, k)
    acc.diamond[g] = used[g] = True
    age = np.round(rng.uniform(2.0, 3.2, len(g)) * 365).astype(np.int64)
    acc.since[g] = cal.end - np.minimum(age, max(window - 30, 400))
    acc.start[g] = np.maximum(acc.since[g], cal.start)
    acc.growth[g] = rng.uniform(0.9, 1.6, len(g))
    acc.w[g] *= 4.0  # a young account buying at the rate of a mid-size one by now
    acc.qscale[g] = 3.0 * acc.w[g] ** 0.35
    acc.lines_per_order[g] = np.clip(1.5 + 3 * np.log10(acc.w[g]), 1.5, 12)
    acc.fav_cat[g] = rng.choice(nm.HIGH_MARGIN_CATEGORIES, len(g))
    acc.p_fav[g] = 0.85
    acc.price_factor[g] = rng.uniform(1.02, 1.06, len(g))
    acc.disc_base[g] = rng.uniform(0.0, 0.02, len(g))
    acc.disc_zero[g] = 0.7
    acc.freight_rate[g] = rng.uniform(0.01, 0.02, len(g))

    k = int(np.clip(round(0.03 * n), 3, 30000))
    lead_big = _choose(rng, (frac < 0.1) & ~used, int(round(0.7 * k)))
    lead_mid = _choose(rng, (frac >= 0.1) & (frac < 0.5) & ~used, k - len(lead_big))
    leaders = np.concatenate([lead_big, lead_mid])
    acc.leader[leaders] = used[leaders] = True
    _plant_groups(acc, rng, used)


def _plant_groups(acc: Accounts, rng: np.random.Generator, used: np.ndarray) -> None:
    frac, n = acc.frac, acc.n
    eligible = (frac < 0.08) & ~acc.destroyer & ~acc.dormant & ~acc.churned
    hqs = np.flatnonzero(eligible)
    hqs = hqs[np.argsort(frac[hqs], kind="stable")]  # the largest first: it goes global
    k = int(np.clip(round(0.012 * n), 2, 12000))
    hqs = np.concatenate([hqs[:1], rng.permutation(hqs[1:])])[:k]
    pool = rng.permutation(np.flatnonzero((frac >= 0.3) & (frac < 0.97) & ~used))
    n_countries = len(nm.COUNTRIES)
    sizes = rng.integers(2, 6, len(hqs))
    if len(sizes):
        sizes[0] = rng.integers(8, 13)
    taken = 0
    for i, hq in enumerate(hqs):  # a loop over groups (about 1% of the accounts)
        size = int(min(sizes[i], len(pool) - taken, n_countries - 1))
        if size <= 0:
            break
        kids = pool[taken : taken + size]
        taken += size
        others = np.delete(np.arange(n_countries), acc.country[hq])
        acc.country[kids] = rng.permutation(others)[:size]
        acc.legal[kids] = _LEGAL_START[acc.country[kids]]
        acc.parent[kids] = hq
    # a subsidiary is named after its group: "<HQ name> <country>"
    child = acc.parent >= 0
    hq_name = acc.base_name.take(pa.array(np.where(child, acc.parent, 0)))
    country = pick(tuple(c[1] for c in nm.COUNTRIES), acc.country)
    child_name = pc.binary_join_element_wise(hq_name, country, " ")
    acc.base_name = pc.if_else(pa.array(child), child_name, acc.base_name)


def allocate_lines(acc: Accounts, lines: int) -> None:
    """Split ``lines`` order lines over the accounts (largest-remainder rounding)."""
    rate = np.log1p(acc.growth) / 365.0
    span = np.maximum(acc.stop - acc.start + 1, 0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        years = np.where(np.abs(rate) > 1e-12, -np.expm1(-rate * span) / rate, span) / 365.0
    weight = np.where(acc.dormant | (span <= 0), 0.0, acc.w**0.65 * years)
    buyers = np.flatnonzero(weight > 0)
    n_lines = np.zeros(acc.n, np.int64)
    if lines < len(buyers):
        best = buyers[np.argsort(-weight[buyers], kind="stable")[:lines]]
        n_lines[best] = 1
    else:
        n_lines[buyers] = 1
        share = (lines - len(buyers)) * weight / weight.sum()
        base = np.floor(share).astype(np.int64)
        rest = (lines - len(buyers)) - int(base.sum())
        if rest > 0:
            base[np.argsort(-(share - base), kind="stable")[:rest]] += 1
        n_lines += base
    acc.n_lines = n_lines
    orders = np.round(n_lines / acc.lines_per_order).astype(np.int64)
    acc.n_orders = np.where(n_lines > 0, np.clip(orders, 1, n_lines), 0)


def assign_owners(acc: Accounts, team: Team, seed: int) -> None:
    rng = rng_for(seed, 4)
    start = np.searchsorted(team.region, np.arange(len(REGIONS)))
    count = np.bincount(team.region, minlength=len(REGIONS))
    region = acc.region
    acc.owner = start[region] + (rng.random(acc.n) * count[region]).astype(np.int64)


def accounts_table(acc: Accounts, team: Team, seed: int) -> pa.Table:
    rng = rng_for(seed, 5)
    legal = pick(LEGAL_FORMS, acc.legal)
    name = pc.binary_join_element_wise(acc.base_name, legal, " ")
    parent = acc.ids.take(pa.array(np.where(acc.parent >= 0, acc.parent, 0)))
    parent = pc.if_else(pa.array(acc.parent >= 0), parent, pa.nulls(acc.n, pa.string()))
    status = np.full(acc.n, "active", dtype=object)
    status[acc.churned] = "inactive"
    status[acc.closed] = "closed"
    status[acc.dormant & (rng.random(acc.n) < 0.7)] = "prospect"
    noisy = acc.frac * rng.lognormal(0, 0.3, acc.n)
    segment = np.where(noisy < 0.05, "enterprise", np.where(noisy < 0.3, "mid-market", "smb"))
    return pa.table(
        {
            "account_id": acc.ids,
            "name": name,
            "parent_id": parent,
            "country": pick(tuple(c[0] for c in nm.COUNTRIES), acc.country),
            "region": pick(REGIONS, acc.region),
            "industry": pick(nm.INDUSTRIES, acc.industry),
            "owner": team.ids.take(pa.array(acc.owner)),
            "customer_since": dates(acc.since),
            "market_leader": pa.array(acc.leader),
            "status": pa.array(status, type=pa.string()),
            "employees": pa.array(acc.employees.astype(np.float64)),
            "segment": pa.array(segment, type=pa.string()),
        }
    )
