"""The contributions table's ``raw_text`` is formatted once per distinct value
(:func:`keyfolio.scoring.scores.raw_texts`); it must be the per-value text, whatever the
values: floats with -0.0, NaN and infinities, whole numbers, text, booleans, None and
mixtures of them (where 1, 1.0 and True are equal to a hash table but not as text)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from keyfolio.scoring.scores import _fmt_raw, raw_texts

FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1.0])
VALUES = st.one_of(
    st.none(), FLOATS, st.integers(-3, 3), st.booleans(), st.sampled_from(["a", "1", ""])
)


@settings(max_examples=300, deadline=None)
@given(st.lists(FLOATS, max_size=30))
def test_float_arrays(values: list[float]) -> None:
    raw = np.array(values, dtype=float)
    assert raw_texts(raw) == [_fmt_raw(v) for v in raw]


@settings(max_examples=300, deadline=None)
@given(st.lists(VALUES, max_size=30), st.sampled_from(["mixed", "floats", "ints", "text"]))
def test_object_arrays(values: list[object], kind: str) -> None:
    keep = {"floats": float, "ints": int, "text": str}.get(kind)
    if keep is not None:
        values = [v for v in values if v is None or type(v) is keep]
    raw = np.array(values + [None], dtype=object)[:-1]  # 1-d object, even when empty
    assert raw_texts(raw) == [_fmt_raw(v) for v in raw]
