"""Numbers and ids from raw columns, vectorised: parsing text as numbers, the magnitude
bound of every canonical number (:data:`keyfolio.schema.NUMBER_BOUND`), and ids written
as floats (Parquet), which must be whole numbers that a float holds exactly.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keyfolio.schema import NUMBER_BOUND

_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
EXACT = 2**53  # every whole number below it is exactly a float64
# control characters (C0 but tab, DEL, C1): never part of an id a person typed
CONTROL = r"[\x00-\x08\x0a-\x1f\x7f-\x9f]"


def flags(n: int, value: bool) -> pa.Array:
    """``n`` booleans, all ``value``."""
    return pa.array(np.full(n, value, dtype=bool))


def bound_text() -> str:
    return f"{NUMBER_BOUND:.0e}".replace("e+", "e")


def bound_expectation() -> str:
    b = bound_text()
    return f"a number between -{b} and {b}"


def out_of_bound(values: pa.Array, *masks: pa.Array) -> pa.Array | None:
    """Numbers (in all of ``masks``) that are not finite or not within the bound (NaN and
    infinities included: no comparison holds for them); None when there is none. The
    common case is two passes over the float64 buffer: its smallest and largest value
    (NaN when any is; the slots of nulls may hold anything, and only send it the slow
    way)."""
    if values.type == pa.float64() and len(values):
        raw = np.frombuffer(values.buffers()[1], dtype=np.float64)
        raw = raw[values.offset : values.offset + len(values)]
        if -NUMBER_BOUND < raw.min() and raw.max() < NUMBER_BOUND:
            return None
    out = pc.and_(
        values.is_valid(), pc.invert(pc.fill_null(pc.less(pc.abs(values), NUMBER_BOUND), False))
    )
    for mask in masks:
        out = pc.and_(out, mask)
    return out if pc.any(out).as_py() else None


def parse_numbers(s: pa.Array, decimal: str, present: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(ok, numbers) of trimmed text. Arrow's own parse of the whole column first (fast);
    where it refuses anything, the slow path checks every value against the number
    pattern, so that the values accepted are the same either way. Words Arrow reads as
    numbers ("inf", "nan") are not numbers; ``1e309`` is one, beyond the bound."""
    if decimal == ",":
        ok = pc.invert(pc.match_substring(s, "."))
        s = pc.replace_substring(s, ",", ".")
    else:
        ok = flags(len(s), True)
    try:
        values = pc.cast(pc.if_else(present, s, pa.scalar(None, pa.string())), pa.float64())
    except pa.ArrowInvalid:
        ok = pc.and_(ok, pc.match_substring_regex(s, _NUMBER))
        clean = pc.if_else(ok, s, pa.scalar(None, pa.string()))
        return ok, pc.cast(clean, pa.float64())
    finite = pc.fill_null(pc.is_finite(values), False)
    odd = pc.and_(values.is_valid(), pc.invert(finite))  # inf, nan, or a huge 1e400
    if pc.any(odd).as_py():
        finite = pc.or_(finite, pc.and_(odd, pc.match_substring_regex(s, _NUMBER)))
    return pc.and_(ok, finite), values


def native_numbers(values: pa.Array) -> pa.Array:
    """Integers, floats and decimals as float64 (a large integer to its nearest float:
    beyond the bound, it is refused either way)."""
    return pc.cast(values, pa.float64(), safe=False)


def float_text(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(text, whole) of floats: a whole number that a float holds exactly is written
    without ".0" (7.0 → "7", as the id was meant); others as Arrow writes them
    ("7.5", "1e+17", "nan"). ``whole``: the value is such a number."""
    finite = pc.fill_null(pc.is_finite(values), False)
    whole = pc.and_(finite, pc.less(pc.abs(values), float(EXACT)))
    whole = pc.fill_null(pc.and_(whole, pc.equal(pc.floor(values), values)), False)
    as_int = pc.cast(pc.if_else(whole, values, 0.0), pa.int64())
    text = pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(values, pa.string()))
    return text, whole


def id_expectation() -> str:
    return f"an id: a whole number below 2^53 ({EXACT:,}) in a column of floats (store ids as text)"


def control_expectation() -> str:
    return "an id without control characters (only tab is allowed)"


def has_control(s: pa.Array, present: pa.Array) -> pa.Array | None:
    """Present values holding a control character; None when there is none. The bytes of
    all values are looked at at once first: only a column with a byte below 0x20 or from
    0x7F (a tab, a control character, or text beyond ASCII) is matched value by value."""
    if not _maybe_control(s):
        return None
    out = pc.and_(present, pc.fill_null(pc.match_substring_regex(s, CONTROL), False))
    return out if pc.any(out).as_py() else None


def _maybe_control(s: pa.Array) -> bool:
    if not (pa.types.is_string(s.type) or pa.types.is_large_string(s.type)) or len(s) == 0:
        return True  # no plain buffers to look at: match value by value
    width = np.int64 if pa.types.is_large_string(s.type) else np.int32
    offsets = np.frombuffer(s.buffers()[1], dtype=width)[s.offset : s.offset + len(s) + 1]
    data = s.buffers()[2]
    if data is None:
        return False
    b = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return len(b) > 0 and bool(b.min() < 0x20 or b.max() >= 0x7F)  # ASCII text: no


def number_expectation(decimal: str) -> str:
    if decimal == ",":
        return "a number with decimal comma, no thousands separator (e.g. 1234,5)"
    return "a number with decimal point, no thousands separator (e.g. 1234.5)"


__all__ = [
    "CONTROL",
    "EXACT",
    "bound_expectation",
    "control_expectation",
    "flags",
    "float_text",
    "has_control",
    "id_expectation",
    "native_numbers",
    "number_expectation",
    "out_of_bound",
    "parse_numbers",
]
