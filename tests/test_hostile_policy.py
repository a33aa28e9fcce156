"""Hostile policies: every mistake in keyfolio.toml (or in a run's options) is refused with
one line naming the key, what was expected and what was found, and nothing is written.

The CLI cases run ``keyfolio run`` in a subprocess on a small sample workspace whose
``keyfolio.toml`` (the template, with the sample's size cuts) is edited by plain text
replacement. The sweep cases go through every number of the policy model (found by
introspection, so a new field cannot escape) and feed it inf, -inf, nan, a boolean and, for
whole numbers, -1 and 2.5. Hostile data and numpy warnings: test_hostile_run.py.
"""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import BaseModel

from hostile import cli, edit, no_numpy_text, one_line, run_folders, sample_workspace
from keyfolio.errors import PolicyError
from keyfolio.policy import Policy, parse_policy, template_text


@pytest.fixture(scope="module")
def base_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_workspace(tmp_path_factory.mktemp("hostile") / "base")


@pytest.fixture
def ws(base_ws: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(base_ws, root)
    return root


DEEP = 2000


def _deep_rule(n: int = DEEP) -> str:
    return "(" * n + "revenue > 0" + ")" * n


# (old, new) edits of the template, the key the error must name, and two more fragments
# the line must hold: what was expected and what was found.
# fmt: off
CASES: dict[str, tuple[list[tuple[str, str]], str, str, str]] = {
    # -- the failures of the acceptance corpus ----------------------------------------------
    "must rule 2,000 deep": (
        [("must = []", f'must = ["{_deep_rule()}"]')],
        "selection.must[0]", "at most 20 levels", f"found {DEEP}",
    ),
    "never rule 2,000 deep": (
        [("never = [", f'never = [\n  "{_deep_rule()}",')],
        "selection.never[0]", "at most 20 levels", f"found {DEEP}",
    ),
    "capacity_hours = inf": (
        [("capacity_hours = 12000", "capacity_hours = inf")],
        "selection.capacity_hours", "expected a finite number at least 0", "found inf",
    ),
    "hours.large = inf": (
        [("large = 400", "large = inf")],
        "selection.hours.large", "expected a finite number at least 0", "found inf",
    ),
    "negative seed": (
        [("seed = 42", "seed = -1")],
        "robustness.seed", "expected a whole number at least 0", "found -1",
    ),
    "infinite weight": (
        [("weight = 3", "weight = inf")],
        "attractiveness[0].weight", "expected a finite number greater than 0", "found inf",
    ),
    "infinite concentration": (
        [("concentration = 50", "concentration = inf")],
        "robustness.concentration", "expected a finite number greater than 0", "found inf",
    ),
    "degenerate assessment scale": (
        [("scale = [1.0, 5.0]", "scale = [3, 3]")],
        "assessments.scale", "low < high", "found [3, 3]",
    ),
    "reversed assessment scale": (
        [("scale = [1.0, 5.0]", "scale = [5, 1]")],
        "assessments.scale", "low < high", "found [5, 1]",
    ),
    # -- more of the same classes ------------------------------------------------------------
    "capacity_hours = nan": (
        [("capacity_hours = 12000", "capacity_hours = nan")],
        "selection.capacity_hours", "finite number", "found nan",
    ),
    "capacity_hours = -inf": (
        [("capacity_hours = 12000", "capacity_hours = -inf")],
        "selection.capacity_hours", "finite number", "found -inf",
    ),
    "horizon_years = nan": (
        [("horizon_years = 3", "horizon_years = nan")],
        "horizon_years", "greater than 0 and at most 30", "found nan",
    ),
    "discount_rate = inf": (
        [("discount_rate = 0.10", "discount_rate = inf")],
        "discount_rate", "at least 0 and less than 1", "found inf",
    ),
    "rate = -inf": (
        [("edi_message = 0.5", "edi_message = -inf")],
        "cost_to_serve.rates.edi_message", "finite number at least 0", "found -inf",
    ),
    "kam_hour_cost = nan": (
        [("kam_hour_cost = 90.0", "kam_hour_cost = nan")],
        "value.kam_hour_cost", "finite number at least 0", "found nan",
    ),
    "time_unit_days = 0": (
        [("time_unit_days = 7", "time_unit_days = 0")],
        "value.time_unit_days", "at least 1", "found 0",
    ),
    "min_repeat_customers = -1": (
        [("min_repeat_customers = 30", "min_repeat_customers = -1")],
        "value.min_repeat_customers", "whole number at least 1", "found -1",
    ),
    "window_months = -12": (
        [("window_months = 12", "window_months = -12")],
        "growth.window_months", "whole number at least 1", "found -12",
    ),
    "disagreement_sd = inf": (
        [("disagreement_sd = 1.0", "disagreement_sd = inf")],
        "assessments.disagreement_sd", "finite number at least 0", "found inf",
    ),
    "attractiveness_cut = nan": (
        [("attractiveness_cut = 50", "attractiveness_cut = nan")],
        "matrix.attractiveness_cut", "at least 0 and at most 100", "found nan",
    ),
    "growth_cuts reversed": (
        [("growth_cuts = [0.0, 0.10]", "growth_cuts = [0.10, 0.0]")],
        "matrix.growth_cuts", "low < high", "found [0.1, 0.0]",
    ),
    "strategic_cuts degenerate": (
        [("strategic_cuts = [40, 70]", "strategic_cuts = [70, 70]")],
        "matrix.strategic_cuts", "low < high", "found [70, 70]",
    ),
    "size cuts reversed": (
        [("cuts = [0.50, 0.85]", "cuts = [0.85, 0.50]")],
        "size.cuts", "low < high", "found [0.85, 0.5]",
    ),
    "size cut infinite": (
        [("cuts = [0.50, 0.85]", "cuts = [0.50, inf]")],
        "size.cuts[1]", "greater than 0 and at most 1", "found inf",
    ),
    "thresholds reversed": (
        [
            ('method = "pareto"', 'method = "thresholds"'),
            ("# thresholds = [50000, 250000]", "thresholds = [250000, 50000]"),
        ],
        "size.thresholds", "low < high", "found [250000, 50000]",
    ),
    "thresholds infinite": (
        [
            ('method = "pareto"', 'method = "thresholds"'),
            ("# thresholds = [50000, 250000]", "thresholds = [50000, inf]"),
        ],
        "size.thresholds[1]", "finite number", "found inf",
    ),
    "bands repeat a cut": (
        [("bands = [1, 3, 5, 10]", "bands = [1, 3, 3, 10]")],
        "strength[0].bands", "increasing", "found [1, 3, 3, 10]",
    ),
    "bands infinite": (
        [("bands = [1, 3, 5, 10]", "bands = [1, 3, 5, inf]")],
        "strength[0].bands[3]", "finite number", "found inf",
    ),
    "criterion range degenerate": (
        [("range = [1, 5]", "range = [5, 5]")],
        "strength[3].range", "low < high", "found [5, 5]",
    ),
    "criterion range reversed": (
        [("range = [0, 1]", "range = [1, 0]")],
        "strength[1].range", "low < high", "found [1, 0]",
    ),
    "map score infinite": (
        [("map = { true = 100, false = 30 }", "map = { true = inf, false = 30 }")],
        "attractiveness[3].map.true", "at least 0 and at most 100", "found inf",
    ),
    "map score above 100": (
        [("map = { true = 100, false = 30 }", "map = { true = 150, false = 30 }")],
        "attractiveness[3].map.true", "at least 0 and at most 100", "found 150",
    ),
    "keep_margin = -inf": (
        [("keep_margin = 5", "keep_margin = -inf")],
        "selection.keep_margin", "finite number at least 0", "found -inf",
    ),
    "min_attractiveness = nan": (
        [("min_attractiveness = 50", "min_attractiveness = nan")],
        "selection.min_attractiveness", "at least 0 and at most 100", "found nan",
    ),
    "solver time limit infinite": (
        [("time_limit_s = 30", "time_limit_s = inf")],
        "selection.time_limit_s", "finite number greater than 0", "found inf",
    ),
    "mip_rel_gap = nan": (
        [("mip_rel_gap = 0.0001", "mip_rel_gap = nan")],
        "selection.mip_rel_gap", "at least 0 and less than 1", "found nan",
    ),
    "max_key_accounts negative": (
        [("# max_key_accounts = 25", "max_key_accounts = -3")],
        "selection.max_key_accounts", "whole number at least 0", "found -3",
    ),
    "draws negative in the policy": (
        [("draws = 1000", "draws = -1")],
        "robustness.draws", "whole number at least 0", "found -1",
    ),
    "draws not whole": (
        [("draws = 1000", "draws = 1.5")],
        "robustness.draws", "whole number", "found 1.5",
    ),
    "draws beyond memory": (
        [("draws = 1000", "draws = 9223372036854775807")],
        "robustness.draws", "at most 1000000", "found 9223372036854775807",
    ),
    "contested reversed": (
        [("contested = [0.2, 0.8]", "contested = [0.8, 0.2]")],
        "robustness.contested", "low < high", "found [0.8, 0.2]",
    ),
    "contested degenerate": (
        [("contested = [0.2, 0.8]", "contested = [0.5, 0.5]")],
        "robustness.contested", "low < high", "found [0.5, 0.5]",
    ),
    "weight is a boolean": (
        [("weight = 3", "weight = true")],
        "attractiveness[0].weight", "finite number greater than 0", "found True",
    ),
    "weights overflow their sum": (
        [("weight = 3", "weight = 1.7e308"), ("weight = 3", "weight = 1.7e308")],
        "attractiveness", "weights that add up to a finite number", "found a total of inf",
    ),
    "TOML arrays 2,000 deep": (
        [("must = []", "must = " + "[" * DEEP + "]" * DEEP)],
        "selection.must", "at most 20 levels", f"found {DEEP}",
    ),
    "TOML inline tables 2,000 deep": (
        [("must = []", "must = []\ncapacity = " + "{a = " * DEEP + "1" + "}" * DEEP)],
        "selection.capacity", "at most 20 levels", f"found {DEEP}",
    ),
    "rule of 500 nested nots": (
        [("must = []", 'must = ["' + "not (" * 500 + "revenue > 0" + ")" * 500 + '"]')],
        "selection.must[0]", "at most 20 levels", "found 500",
    ),
    "rule of 3,000 chained nots": (
        [("must = []", 'must = ["' + "not " * 3000 + 'revenue > 0"]')],
        "selection.must[0]", "at most 20 levels", "too deeply nested",
    ),
}
# fmt: on


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_policy_is_one_line_and_writes_nothing(ws: Path, case: str) -> None:
    edits, key, expected, found = CASES[case]
    edit(ws, *edits)
    err = one_line(cli("run", str(ws), "--draws", "10"))
    assert f"{key}: " in err or f"{key} " in err, err
    assert expected in err, err
    assert found in err, err
    assert run_folders(ws) == []


@pytest.mark.parametrize(
    ("args", "option", "value"),
    [(["--draws", "-5"], "--draws", "-5"), (["--threads", "-1"], "--threads", "-1")],
)
def test_negative_run_options_are_one_line_usage_errors(
    ws: Path, args: list[str], option: str, value: str
) -> None:
    err = one_line(cli("run", str(ws), *args), code=2)
    assert option in err and "expected a whole number at least" in err, err
    assert f"found {value}" in err, err
    assert run_folders(ws) == []


def test_draws_option_is_checked_by_the_library(ws: Path) -> None:
    from keyfolio.pipeline import RunOptions, run
    from keyfolio.workspace import Workspace

    with pytest.raises(PolicyError, match=r"robustness\.draws.*whole number at least 0.*found -5"):
        run(Workspace.open(ws), RunOptions(robustness_draws=-5))
    assert run_folders(ws) == []


def test_rule_nesting_limit_is_exact() -> None:
    from keyfolio.errors import RuleError
    from keyfolio.selection.rules import MAX_DEPTH, evaluate_rules

    pf = pd.DataFrame({"revenue": [1.0, -1.0]})
    ok = "(" * MAX_DEPTH + "revenue > 0" + ")" * MAX_DEPTH
    assert evaluate_rules(pf, [ok], kind="must rule", key="selection.must")[0].tolist() == [
        True, False,
    ]  # fmt: skip
    deeper = "(" + ok + ")"
    with pytest.raises(RuleError, match=rf"selection\.must\[1\]: .*found {MAX_DEPTH + 1}$"):
        evaluate_rules(pf, [ok, deeper], kind="must rule", key="selection.must")
    # parentheses inside a string are text, not nesting
    text = "'" + "(" * 50 + "'"
    assert not evaluate_rules(pd.DataFrame({"s": ["x"]}), [f"s = {text}"], kind="must rule")[0][0]


def test_toml_nesting_limit_is_exact() -> None:
    from keyfolio.policy import MAX_NESTING

    at_limit = "[selection]\nmust = " + "[" * MAX_NESTING + "]" * MAX_NESTING
    with pytest.raises(PolicyError) as err:
        parse_policy(at_limit)
    assert "nested at most" not in str(err.value)  # refused for its type, not its depth
    with pytest.raises(PolicyError, match=rf"selection\.must: .*found {MAX_NESTING + 1} "):
        parse_policy("[selection]\nmust = " + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1))
    # brackets in strings and comments are not nesting
    assert parse_policy(
        "[selection]\nmust = [\"x = '[[[[[[[[[[[[[[[[[[[[[[[['\"] # [[[[[[[[[[[[[[[[[[[[[[[["
    )


@pytest.mark.parametrize(
    "edits",
    [
        [("capacity_hours = 12000", "capacity_hours = 1e300")],
        [("capacity_hours = 12000", "capacity_hours = 1e300"),
         ("large = 400", "large = 1e-300"), ("# max_key_accounts = 25", "max_key_accounts = 10")],
        [("keep_margin = 5", "keep_margin = 1e300")],
        [("concentration = 50", "concentration = 1e-300"), ("weight = 3", "weight = 1e-300")],
    ],
    ids=["capacity 1e300", "tiny hours, count limit", "margin 1e300", "tiny concentration"],
)  # fmt: skip
def test_extreme_finite_numbers_run_cleanly(ws: Path, edits: list[tuple[str, str]]) -> None:
    edit(ws, *edits)
    result = cli("run", str(ws), "--draws", "10")
    assert result.returncode == 0, result.stderr[-3000:]
    no_numpy_text(result)
    assert len(run_folders(ws)) == 1


# -- the sweep: every number of the policy model -------------------------------------------

SAMPLE_KEYS = {"rates": "edi_message", "hours": "large", "capacity": "EMEA", "map": "true"}


def _walk(tp: Any, path: str) -> Iterator[tuple[str, type]]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        yield from _walk(args[0], path)
    elif origin in (typing.Union, types.UnionType):
        for a in args:
            yield from _walk(a, path)
    elif tp in (float, int):
        yield path, tp
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        yield from _numbers(tp, path + ".")
    elif origin is tuple:
        for i, a in enumerate(args):
            yield from _walk(a, f"{path}[{i}]")
    elif origin is list:
        yield from _walk(args[0], f"{path}[0]")
    elif origin is dict:
        key = path.rsplit(".", 1)[-1]
        found = list(_walk(args[1], f"{path}.{SAMPLE_KEYS.get(key, '?')}"))
        if found and key not in SAMPLE_KEYS:  # a new table of numbers needs a sample key
            raise KeyError(f"SAMPLE_KEYS has no key for the numbers in {path}")
        yield from found


def _numbers(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, type]]:
    for name, f in model.model_fields.items():
        yield from _walk(f.annotation, prefix + name)


NUMBERS = sorted(_numbers(Policy))


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return (
            "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        )
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    assert isinstance(v, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(x)}" for k, x in v.items()) + "}"


def _document(data: dict[str, Any]) -> str:
    """TOML text of the policy dict (top-level scalars, then one table per section)."""
    out = [f"{k} = {_toml(v)}" for k, v in data.items() if not isinstance(v, dict | list)]
    for k, v in data.items():
        if isinstance(v, dict):
            out.append(f"[{k}]")
            out += [f"{kk} = {_toml(vv)}" for kk, vv in v.items()]
        elif isinstance(v, list):
            for item in v:
                out.append(f"[[{k}]]")
                out += [f"{kk} = {_toml(vv)}" for kk, vv in item.items()]
    return "\n".join(out) + "\n"


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.replace("]", "").replace("[", ".").split("."):
        steps.append(int(part) if part.isdigit() else part)
    return steps


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(tomllib.loads(template_text()))
    data["size"]["thresholds"] = [50000, 250000]
    for group in ("attractiveness", "strength"):
        data[group][0].update(range=[0, 100], map={"true": 100}, bands=[1.0])
    data["selection"]["capacity"] = {"EMEA": 3000}
    data["selection"]["max_key_accounts"] = 25
    node: Any = data
    steps = _steps(path)
    for s in steps[:-1]:
        node = node[s]
    node[steps[-1]] = value
    return data


def test_the_sweep_sees_every_kind_of_number() -> None:
    paths = [p for p, _ in NUMBERS]
    assert len(paths) > 40
    for expected in (
        "selection.capacity_hours", "selection.hours.large", "robustness.seed", "size.cuts[1]",
        "attractiveness[0].weight", "strength[0].map.true", "assessments.scale[0]",
        "robustness.contested[1]", "horizon_years",
    ):  # fmt: skip
        assert expected in paths


@pytest.mark.parametrize(("path", "kind"), NUMBERS, ids=[p for p, _ in NUMBERS])
def test_every_policy_number_is_finite_and_says_so(path: str, kind: type) -> None:
    hostile: list[Any] = [math.inf, -math.inf, math.nan, True]
    if kind is int:
        hostile += [-1, 2.5]
    expected = "a whole number" if kind is int else "a finite number"
    for v in hostile:
        with pytest.raises(PolicyError) as err:
            parse_policy(_document(_with(path, v)))
        msg = str(err.value)
        assert f"{path}: expected {expected}" in msg, (v, msg)
        assert msg.endswith(f"found {v!r}") or f"found {v!r};" in msg, (v, msg)


@pytest.mark.parametrize(
    "path",
    ["size.cuts", "size.thresholds", "assessments.scale", "matrix.growth_cuts",
     "matrix.strategic_cuts", "robustness.contested", "attractiveness[0].range"],
)  # fmt: skip
def test_every_range_is_ordered(path: str) -> None:
    for pair in ([0.9, 0.5], [0.5, 0.5]):
        with pytest.raises(PolicyError, match=rf"{re.escape(path)}: expected .*low < high"):
            parse_policy(_document(_with(path, pair)))


def test_the_template_still_parses() -> None:
    policy = parse_policy(template_text())
    assert policy.selection.capacity_hours == 12000
    assert parse_policy(_document(_with("horizon_years", 3))).horizon_years == 3
