"""The reasons of the two common cases (below the floor, a newcomer below the bar) are made
for all their accounts at once (:func:`keyfolio.selection.reasons.reasons`); they must be the
texts the account-by-account procedure gives, over random portfolios with every kind of
forced decision, incumbents, NaN objectives and with or without a floor."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyfolio.policy import SelectionPolicy
from keyfolio.selection import reasons as r
from keyfolio.selection.decide import Inputs, Outcome, decide

QUADRANTS = ("strategic", "star", "status", "streamline")


@st.composite
def cases(draw: st.DrawFn) -> tuple[Inputs, Outcome, r.Context]:
    n = draw(st.integers(1, 40))

    def flags(p: float) -> np.ndarray:
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))) & (
            np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))) < p
        )

    score = np.array(draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)), float) * 2.5
    score[flags(0.2)] = np.nan
    att = np.array(draw(st.lists(st.floats(0, 100), min_size=n, max_size=n)))
    floor = draw(st.one_of(st.none(), st.sampled_from([40.0, 50.0])))
    hours = np.array(draw(st.lists(st.sampled_from((150.0, 250.0, 400.0)), min_size=n,
                                   max_size=n)))  # fmt: skip
    override_in, override_out = flags(0.1), flags(0.1) & ~flags(0.0)
    override_out &= ~override_in
    inp = Inputs(
        account_id=np.array([f"A{i:03d}" for i in range(n)], dtype=object), objective=score,
        hours=hours, group=None, selectable=~flags(0.15), must=flags(0.15), never=flags(0.15),
        not_assessed=flags(0.15), override_in=override_in, override_out=override_out,
        prev_key=flags(0.5), below_floor=None if floor is None else att < floor,
    )  # fmt: skip
    sel = SelectionPolicy(
        capacity_hours=float(draw(st.integers(0, 60)) * 50),
        keep_margin=draw(st.sampled_from([0.0, 2.5, 5.0])),
        max_key_accounts=draw(st.one_of(st.none(), st.integers(0, 12))),
    )
    out = decide(inp, sel)
    o_text = ["in by lead (2026-01-01): test" if i else "" for i in override_in | override_out]
    ctx = r.Context(
        objective="attractiveness", keep_margin=sel.keep_margin,
        must_rules=[["revenue > 1"] if m else [] for m in inp.must],
        never_rules=[["no orders"] if m else [] for m in inp.never],
        quadrant=np.array(draw(st.lists(st.sampled_from(QUADRANTS), min_size=n, max_size=n)),
                          dtype=object),
        not_assessed_on=["fit" if m else "" for m in inp.not_assessed], override_text=o_text,
        group_of=["G1" if not s and i % 2 else "" for i, s in enumerate(inp.selectable)],
        slack_hours=draw(st.sampled_from([float("inf"), 0.0, 100.0])),
        count_full=draw(st.booleans()),
        attractiveness=att if draw(st.booleans()) else None, floor=floor,
    )  # fmt: skip
    return inp, out, ctx


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_bulk_reasons_are_the_per_account_texts(case: tuple[Inputs, Outcome, r.Context]) -> None:
    inp, out, ctx = case
    v = inp.objective.astype(float)
    one_by_one = [
        (r._reason_key if out.is_key[i] else r._reason_not_key)(i, v, inp, out, ctx)  # type: ignore[operator]
        for i in range(len(v))
    ]
    rs, fs = r.reasons(inp, out, ctx)
    assert list(zip(rs, fs, strict=True)) == one_by_one
