"""The definition editor's form applied to the policy text: each field sets one key of
keyfolio.toml (a criterion's weight or scale, a matrix cut, a capacity setting, the must and
never rules) in the text it was shown from, keeping every other line and comment as it is.

Field names: ``weight:<group>:<i>`` and ``scale:<group>:<i>`` (the i-th criterion of
``[[attractiveness]]`` / ``[[strength]]``, from 0), ``matrix:<key>``, ``selection:<key>``
(an empty value removes an optional number: no cap), and ``selection:must`` /
``selection:never`` (one rule a line). A value that is not what the key takes is a
:class:`~keyfolio.errors.PolicyError` naming the key; the result is checked by
:func:`keyfolio.policy.parse_policy` as any policy text is.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from keyfolio.errors import PolicyError
from keyfolio.policy import Policy, parse_policy

GROUPS = ("attractiveness", "strength")
SCALES = ("percentile", "minmax", "bands", "map", "direct")
MATRIX_KEYS = ("attractiveness_cut", "strength_cut")
SELECTION_NUMBERS = ("capacity_hours", "max_key_accounts", "min_attractiveness", "keep_margin")
OPTIONAL = ("capacity_hours", "max_key_accounts", "min_attractiveness")  # empty: none
RULES = ("must", "never")
_HEADER = re.compile(r"^\s*\[")


def apply_form(text: str, fields: Mapping[str, str]) -> str:
    """``text`` with every known field of ``fields`` set (others are ignored). A field
    whose value is the one the text already has leaves its lines alone (comments kept)."""
    try:
        shown: Policy | None = parse_policy(text)
    except PolicyError:
        shown = None
    for name, raw in fields.items():
        edit = _edit(name, raw.strip() if isinstance(raw, str) else "")
        if edit is None:
            continue
        table, index, key, value, typed = edit
        if shown is not None and _value_of(shown, table, index, key) == typed:
            continue
        text = set_key(text, table, index, key, value)
    return text


Edit = tuple[str, int | None, str, str | None, Any]  # table, index, key, TOML value, value


def _edit(name: str, value: str) -> Edit | None:
    """What form field ``name`` sets to ``value`` (None: not a field of the form)."""
    parts = name.split(":")
    if len(parts) == 3 and parts[0] in ("weight", "scale") and parts[1] in GROUPS:
        group, index = parts[1], _index(parts[2], name)
        if parts[0] == "weight":
            number = _number(value, f"{group}[{index}].weight")
            return group, index, "weight", number, float(number)
        if value not in SCALES:
            raise PolicyError(
                f"{group}[{index}].scale: expected one of {', '.join(SCALES)}, found {value!r}"
            )
        return group, index, "scale", json.dumps(value), value
    if len(parts) != 2 or parts[0] not in ("matrix", "selection"):
        return None
    table, key = parts
    if (table == "matrix" and key in MATRIX_KEYS) or (
        table == "selection" and key in SELECTION_NUMBERS
    ):
        if value == "" and key in OPTIONAL:
            return table, None, key, None, None
        number = _number(value, f"{table}.{key}")
        return table, None, key, number, float(number)
    if table == "selection" and key in RULES:
        rules = [line.strip() for line in value.splitlines() if line.strip()]
        return table, None, key, _rules(rules), rules
    return None


def _value_of(policy: Policy, table: str, index: int | None, key: str) -> Any:
    section: Any = getattr(policy, table)
    if index is not None:
        if index >= len(section):
            return _MISSING
        section = section[index]
    value = getattr(section, key, _MISSING)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return list(value) if isinstance(value, list) else value


_MISSING = object()


def _index(raw: str, name: str) -> int:
    if not raw.isdigit():
        raise PolicyError(f"form field {name!r}: expected a criterion number, found {raw!r}")
    return int(raw)


def _number(value: str, label: str) -> str:
    try:
        x = float(value)
    except ValueError:
        raise PolicyError(f"{label}: expected a number, found {value!r}") from None
    if not math.isfinite(x):
        raise PolicyError(f"{label}: expected a finite number, found {value!r}")
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _rules(rules: list[str]) -> str:
    if not rules:
        return "[]"
    return "[\n" + "".join(f"  {json.dumps(r, ensure_ascii=False)},\n" for r in rules) + "]"


# -- the text editor --------------------------------------------------------------------------
def set_key(text: str, table: str, index: int | None, key: str, value: str | None) -> str:
    """``text`` with ``key = value`` in ``[table]`` (``index`` None) or in the
    ``index``-th ``[[table]]``; ``value`` None removes the key. A table that is not there
    is added at the end (an array table must exist)."""
    lines = text.splitlines(keepends=True)
    block = _block(lines, table, index)
    if block is None:
        if index is not None:
            raise PolicyError(f"{table}[{index}]: no such criterion in the policy")
        if value is None:
            return text
        tail = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{tail}\n[{table}]\n{key} = {value}\n"
    start, end = block
    found = _find_key(lines, start + 1, end, key)
    if found is None:
        if value is None:
            return text
        at = start + 1  # right after the header: never inside a multi-line value
        return "".join([*lines[:at], f"{key} = {value}\n", *lines[at:]])
    first, last = found
    if value is None:
        return "".join([*lines[:first], *lines[last + 1 :]])
    comment = _comment(lines[first]) if first == last else ""
    new = f"{key} = {value}" + (f"  {comment}" if comment else "") + "\n"
    return "".join([*lines[:first], new, *lines[last + 1 :]])


def _block(lines: list[str], table: str, index: int | None) -> tuple[int, int] | None:
    """The header line of the table and the line after its last."""
    pattern = (
        re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]\s*(#.*)?$")
        if index is not None
        else re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]\s*(#.*)?$")
    )
    seen, start = -1, None
    depth = 0
    for i, line in enumerate(lines):
        if depth == 0 and _HEADER.match(line) and _is_header(line):
            if start is not None:
                return start, i
            if pattern.match(line.rstrip("\n")):
                seen += 1
                if index is None or seen == index:
                    start = i
            continue
        depth = max(depth + _depth_change(line), 0)
    return (start, len(lines)) if start is not None else None


def _is_header(line: str) -> bool:
    code = _code(line).strip()
    return code.startswith("[") and code.endswith("]") and "=" not in code


def _find_key(lines: list[str], start: int, end: int, key: str) -> tuple[int, int] | None:
    """The first and last line of ``key = ...`` in lines[start:end] (a multi-line array
    runs to its closing bracket)."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i in range(start, end):
        if pattern.match(lines[i]):
            depth, j = _depth_change(lines[i]), i
            while depth > 0 and j + 1 < end:
                j += 1
                depth += _depth_change(lines[j])
            return i, j
    return None


def _code(line: str) -> str:
    """The line without its comment (``#`` outside strings)."""
    quote = ""
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            return line[:i]
        i += 1
    return line


def _comment(line: str) -> str:
    code = _code(line)
    return line[len(code) :].strip()


def _depth_change(line: str) -> int:
    """Brackets opened minus closed on the line, strings and comment left out."""
    code = re.sub(r'"(?:\\.|[^"\\])*"|\'[^\']*\'', "", _code(line))
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")
