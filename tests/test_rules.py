"""must / never rules: valid expressions work, unsafe or unknown ones are rejected by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from keyfolio.errors import RuleError
from keyfolio.selection.rules import evaluate_rules, parse_rule

COLS = ["cm_pct", "quadrant", "status", "region", "revenue", "name"]


@pytest.fixture
def pf() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cm_pct": [0.10, 0.02, None, 0.30],
            "quadrant": ["star", "status", "star", "streamline"],
            "status": ["active", "closed", "active", None],
            "region": ["EMEA", "APAC", "EMEA", "Americas"],
            "revenue": [100.0, -5.0, 50.0, 1000.0],
            "name": ["O'Brien; DROP TABLE x", "b", "c", "d"],
        }
    )


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("cm_pct >= 0.05 or quadrant == 'star'", [0, 2, 3]),
        ("cm_pct >= 0.05 and quadrant in ('star', 'strategic')", [0]),
        ("status = 'closed'", [1]),
        ("status is null", [3]),
        ("not (region = 'EMEA')", [1, 3]),
        ("abs(revenue) between 5 and 100", [0, 1, 2]),
        ("coalesce(cm_pct, 0) < 0.05", [1, 2]),
        ("lower(region) like 'em%'", [0, 2]),
        ("revenue * 2 - 1 > 150", [0, 3]),
        ("name = 'O''Brien; DROP TABLE x'", [0]),  # values stay values
    ],
)
def test_valid_rules(pf: pd.DataFrame, rule: str, expected: list[int]) -> None:
    match, matched = evaluate_rules(pf, [rule], kind="must rule")
    assert np.flatnonzero(match).tolist() == expected
    assert all(matched[i] == [rule] for i in expected)


def test_several_rules_record_which_matched(pf: pd.DataFrame) -> None:
    rules = ["status = 'closed'", "revenue < 0"]
    match, matched = evaluate_rules(pf, rules, kind="never rule")
    assert match.tolist() == [False, True, False, False]
    assert matched[1] == rules


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("turnover > 5", "unknown column 'turnover'"),
        ("cm_pct > 0; DROP TABLE portfolio", "one expression, found 2 statements"),
        ("read_csv('/etc/passwd') is not null", "function read_csv() is not allowed"),
        ("cm_pct > (select max(cm_pct) from portfolio)", "not allowed"),
        ("p.cm_pct > 1", "qualified column"),
        ("cm_pct >", "not a valid expression"),
        ("", "empty rule"),
    ],
)
def test_rejected_rules_name_the_rule(rule: str, message: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_rule(rule, COLS, kind="never rule")
    text = str(err.value)
    assert message in text
    assert f"never rule {rule!r}" in text


def test_unknown_function_is_rejected() -> None:
    with pytest.raises(RuleError, match="function"):
        parse_rule("getenv('HOME') = 'x'", COLS)


def test_type_error_at_evaluation_is_a_rule_error(pf: pd.DataFrame) -> None:
    with pytest.raises(RuleError, match="cannot be evaluated"):
        evaluate_rules(pf, ["region + 1 > 2"], kind="must rule")
