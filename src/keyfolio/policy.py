"""The policy: the written definition of a key account (``keyfolio.toml``).

Loaded with :func:`load_policy`, validated with pydantic. Every mistake becomes a
:class:`~keyfolio.errors.PolicyError` naming the key, what is allowed and what was found.
Unknown keys are errors too (a typo must not silently fall back to a default).

Every number of the policy is one of the checked types below (:class:`Bounds`): finite (TOML
allows ``inf`` and ``nan``; a policy never does), a whole number where it counts something,
never a boolean, and within its bounds; every ``[low, high]`` pair is ordered, low < high
(:class:`Ordered`). The error says the whole constraint: "expected a finite number greater
than 0, found inf". Arrays and inline tables nest at most :data:`MAX_NESTING` levels deep
(Python's TOML reader recurses once per level).
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema

from keyfolio.errors import PolicyError

TIERS = ("large", "medium", "small")  # the size tiers, largest first (the order shown)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- numbers ----------------------------------------------------------------------------------
def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Bounds:
    """The check of one policy number (``Annotated[float, Bounds(gt=0)]``): a TOML number, not
    a boolean; finite; whole for an ``int`` field; within the bounds. Replaces pydantic's own
    float/int validation, so no number escapes it and the error states all of it."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def expected(self, whole: bool) -> str:
        parts = [f"{word} {_num(b)}" for word, b in (
            ("greater than", self.gt), ("at least", self.ge), ("less than", self.lt),
            ("at most", self.le)) if b is not None]  # fmt: skip
        kind = "a whole number" if whole else "a finite number"
        return f"expected {kind}" + (" " + " and ".join(parts) if parts else "")

    def _within(self, v: float) -> bool:
        return not (
            (self.gt is not None and not v > self.gt)
            or (self.ge is not None and not v >= self.ge)
            or (self.lt is not None and not v < self.lt)
            or (self.le is not None and not v <= self.le)
        )

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        whole = source is int
        expected = self.expected(whole)

        def check(v: Any) -> float | int:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(expected)
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(expected)
            if whole and isinstance(v, float):
                if not v.is_integer():
                    raise ValueError(expected)
                v = int(v)
            if not self._within(v):
                raise ValueError(expected)
            return int(v) if whole else float(v)

        return core_schema.no_info_plain_validator_function(check)


@dataclass(frozen=True)
class Ordered:
    """A ``[low, high]`` pair (its numbers checked first) with low < high."""

    example: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        example = self.example

        def check(v: tuple[float, float]) -> tuple[float, float]:
            if not v[0] < v[1]:
                raise ValueError(f"expected [low, high] with low < high, e.g. {example}")
            return v

        return core_schema.no_info_after_validator_function(check, handler(source))


Finite = Annotated[float, Bounds()]
NonNegative = Annotated[float, Bounds(ge=0)]
Positive = Annotated[float, Bounds(gt=0)]
Score = Annotated[float, Bounds(ge=0, le=100)]  # a 0-100 score
Count = Annotated[int, Bounds(ge=0)]
Share = Annotated[float, Bounds(ge=0, le=1)]
Range = Annotated[tuple[Finite, Finite], Ordered("[1, 5]")]

MAX_DRAWS = 1_000_000


class SizePolicy(_Model):
    """Size tiers small / medium / large."""

    basis: Literal["revenue", "contribution_margin"] = "contribution_margin"
    method: Literal["pareto", "thresholds"] = "pareto"
    # pareto: cumulative shares of the basis; large = accounts making the first cuts[0],
    # medium the next up to cuts[1], small the rest.
    cuts: Annotated[
        tuple[Annotated[float, Bounds(gt=0, le=1)], Annotated[float, Bounds(gt=0, le=1)]],
        Ordered("[0.80, 0.95]"),
    ] = (0.80, 0.95)
    # thresholds: absolute amounts of the basis; medium from thresholds[0], large from [1].
    thresholds: Annotated[tuple[Finite, Finite], Ordered("[50000, 250000]")] | None = None

    @model_validator(mode="after")
    def _thresholds(self) -> SizePolicy:
        if self.method == "thresholds" and self.thresholds is None:
            raise ValueError("method = 'thresholds' needs thresholds = [medium_from, large_from]")
        return self


class CostToServePolicy(_Model):
    rates: dict[str, NonNegative] = Field(default_factory=dict)
    include_freight: bool = True  # freight on order headers counts as the activity "freight"


class GrowthPolicy(_Model):
    window_months: Annotated[int, Bounds(ge=1, le=36)] = 12


ScaleName = Literal["percentile", "minmax", "bands", "map", "direct"]
MissingRule = Literal["neutral", "median", "lowest", "exclude"]


class Criterion(_Model):
    """One weighted criterion of attractiveness or strength."""

    name: Annotated[str, Field(min_length=1)]
    source: Annotated[
        str, Field(pattern=r"^(metric|attribute|assessment|feedback):[A-Za-z_][A-Za-z0-9_]*$")
    ]
    weight: Positive = 1.0
    scale: ScaleName = "percentile"
    invert: bool = False  # lower raw value is better
    bands: list[Finite] | None = None  # cut points for scale = "bands"
    map: dict[str, Score] | None = None  # category -> 0-100 for scale = "map"
    range: Range | None = None  # stated raw range for scale = "direct"
    missing: MissingRule | None = None  # default: the policy's [assessments] missing
    description: str = ""

    @property
    def kind(self) -> str:
        return self.source.split(":", 1)[0]

    @property
    def field(self) -> str:
        return self.source.split(":", 1)[1]

    @model_validator(mode="after")
    def _scale_args(self) -> Criterion:
        if self.scale == "bands" and not self.bands:
            raise ValueError(f"criterion {self.name!r}: scale = 'bands' needs bands = [cut, ...]")
        if self.scale == "map" and not self.map:
            raise ValueError(
                f"criterion {self.name!r}: scale = 'map' needs map = {{ value = score }}"
            )
        return self

    @field_validator("bands")
    @classmethod
    def _bands(cls, v: list[float] | None) -> list[float] | None:
        if v and any(not a < b for a, b in zip(v, v[1:], strict=False)):
            raise ValueError("expected increasing cut points (each greater than the one before)")
        return v


class AssessmentPolicy(_Model):
    missing: MissingRule = "neutral"
    disagreement_sd: NonNegative = 1.0  # flag when assessors' sd exceeds this
    scale: Range = (1.0, 5.0)  # the range people score on


class MatrixPolicy(_Model):
    attractiveness_cut: Score = 50.0
    strength_cut: Score = 50.0
    # Growth-potential band: a portfolio column cut into low / medium / high.
    growth_metric: Annotated[str, Field(min_length=1)] = "revenue_growth"
    growth_cuts: Annotated[tuple[Finite, Finite], Ordered("[0.0, 0.10]")] = (0.0, 0.10)
    # Strategic-value band: attractiveness (0-100) cut into low / medium / high.
    strategic_cuts: Annotated[tuple[Score, Score], Ordered("[40, 70]")] = (40.0, 70.0)


def _default_hours() -> dict[Literal["small", "medium", "large"], float]:
    return {"large": 400.0, "medium": 250.0, "small": 150.0}


class SelectionPolicy(_Model):
    capacity_hours: NonNegative | None = None
    hours: dict[Literal["small", "medium", "large"], NonNegative] = Field(
        default_factory=_default_hours
    )
    capacity_by: Literal["region", "owner"] | None = None
    capacity: dict[str, NonNegative] = Field(default_factory=dict)
    max_key_accounts: Count | None = None
    objective: Annotated[str, Field(min_length=1)] = "attractiveness"
    # per_hour: maximise sum(objective x hours) - every KAM hour goes to the most attractive
    # account that needs it (for 0-100 scores); per_account: maximise sum(objective) (for
    # money objectives such as profit_potential, already the value of making an account key).
    value: Literal["per_hour", "per_account"] = "per_hour"
    must: list[str] = Field(default_factory=list)
    never: list[str] = Field(default_factory=list)
    keep_margin: NonNegative = 5.0
    # the floor: an account whose attractiveness is below it is not key, whatever the
    # capacity (capacity is a ceiling, not a target); None: no floor
    min_attractiveness: Score | None = None
    time_limit_s: Positive = 30.0
    mip_rel_gap: Annotated[float, Bounds(ge=0, lt=1)] = 1e-4


class RobustnessPolicy(_Model):
    # at most MAX_DRAWS: the weight draws are made at once (draws x criteria numbers)
    draws: Annotated[int, Bounds(ge=0, le=MAX_DRAWS)] = 1000
    concentration: Positive = 50.0  # Dirichlet concentration around weights
    seed: Count = 42
    contested: Annotated[tuple[Share, Share], Ordered("[0.2, 0.8]")] = (0.2, 0.8)
    # draws stop when this is spent (p_key then from the draws done, with a warning)
    time_limit_s: Positive = 300.0


class ValuePolicy(_Model):
    kam_hour_cost: NonNegative = 90.0  # cost of one KAM hour (ROCI)
    # CLV model time unit (weeks); orders are counted per day, so at least a day
    time_unit_days: Annotated[float, Bounds(ge=1, le=366)] = 7.0
    min_repeat_customers: Annotated[int, Bounds(ge=1)] = 30


class EnginePolicy(_Model):
    """Where the facts stage runs (``[engine]``): a connection URL and, optionally, catalog
    tables (or Parquet URIs the engine reads) for the tables the stage reads."""

    url: Annotated[str, Field(min_length=1)] = "duckdb://"
    tables: dict[str, Annotated[str, Field(min_length=1)]] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _no_password(cls, v: str) -> str:
        if url_password(v):
            raise ValueError(
                "a URL with a password is refused in the policy file (it is versioned and "
                "recorded in every run); set it in the environment variable KEYFOLIO_ENGINE "
                "or pass --engine, found a password in the URL"
            )
        return v

    @field_validator("tables")
    @classmethod
    def _known_tables(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(ENGINE_TABLES))
        if unknown:
            raise ValueError(
                f"expected tables among {', '.join(ENGINE_TABLES)}, found {', '.join(unknown)}"
            )
        return v


ENGINE_TABLES = ("order_lines", "orders", "products", "costs")  # what the facts stage reads


def url_password(url: str) -> bool:
    """Whether a connection URL carries a password (``scheme://user:secret@host``)."""
    try:
        return bool(urlsplit(url).password)
    except ValueError:  # an unparseable port: the password test is on the text
        return "@" in url and ":" in url.split("://", 1)[-1].split("@", 1)[0]


class Policy(_Model):
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    horizon_years: Annotated[float, Bounds(gt=0, le=30)] = 3
    discount_rate: Annotated[float, Bounds(ge=0, lt=1)] = 0.10
    size: SizePolicy = SizePolicy()
    cost_to_serve: CostToServePolicy = CostToServePolicy()
    growth: GrowthPolicy = GrowthPolicy()
    value: ValuePolicy = ValuePolicy()
    assessments: AssessmentPolicy = AssessmentPolicy()
    attractiveness: list[Criterion] = Field(default_factory=list)
    strength: list[Criterion] = Field(default_factory=list)
    matrix: MatrixPolicy = MatrixPolicy()
    selection: SelectionPolicy = SelectionPolicy()
    robustness: RobustnessPolicy = RobustnessPolicy()
    engine: EnginePolicy = EnginePolicy()

    # Set by load_policy: the exact text and its hash, for run.json.
    text: str = Field(default="", exclude=True, repr=False)

    @field_validator("attractiveness", "strength")
    @classmethod
    def _weights(cls, v: list[Criterion]) -> list[Criterion]:
        total = sum(c.weight for c in v)
        if not math.isfinite(total):
            raise ValueError(
                f"expected weights that add up to a finite number, found a total of {total}"
            )
        return v

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _message(err: Any) -> str:
    loc = _loc(tuple(p for p in err["loc"] if not str(p).startswith("function-")))
    typ = err["type"]
    found = err.get("input")
    ctx = err.get("ctx") or {}
    if typ == "extra_forbidden":
        return f"{loc}: unknown key (check the spelling; see the template from `keyfolio init`)"
    if typ == "literal_error":
        return f"{loc}: expected one of {ctx.get('expected')}, found {found!r}"
    if typ == "missing":
        return f"{loc}: required key is missing"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if ", found " in msg:
        return f"{loc}: {msg}"
    if msg.startswith("expected "):
        return f"{loc}: {msg}, found {_shown(found)}"
    if isinstance(found, dict):
        return f"{loc}: {msg}"
    return f"{loc}: {msg} (found {_shown(found)})"


def _shown(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


MAX_NESTING = 20  # arrays and inline tables inside one another in keyfolio.toml
_SPECIAL = re.compile(r"[\n#\"'\[\]{}]")


def _nesting(text: str) -> tuple[int, str, int]:
    """The deepest nesting of arrays and inline tables in TOML text, the key of the value
    where it is and that value's line (one pass; strings and comments are skipped)."""
    depth, deepest, key, line, at = 0, 0, "", 1, 0
    table, value_key, value_line, line_start, i, n = "", "", 1, 0, 0, len(text)
    while (m := _SPECIAL.search(text, i)) is not None:
        i = m.start()
        c = text[i]
        if c == "\n":
            line, line_start = line + 1, i + 1
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if text[j] == "\n":
                    line, line_start = line + 1, j + 1
                j += 2 if c == '"' and text[j] == "\\" else 1
            i = j + len(quote)
            continue
        elif c in "[{":
            head = text[max(line_start, i - 200) : i].strip() if depth == 0 else "="
            if depth == 0 and c == "[" and not head:  # a table header: [name] or [[name]]
                end = text.find("\n", i)
                end = n if end < 0 else end
                table = text[i:end].split("#", 1)[0].strip().strip("[]").strip()
                i = end
                continue
            if depth == 0:
                name = head.rstrip("=").strip()
                value_key, value_line = (f"{table}.{name}" if table else name), line
            depth += 1
            if depth > deepest:
                deepest, key, at = depth, value_key, value_line
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return deepest, key, at


def _toml(text: str, source: str) -> dict[str, Any]:
    expected = f"expected arrays and inline tables nested at most {MAX_NESTING} levels deep"
    deepest, key, line = _nesting(text)
    if deepest > MAX_NESTING:
        raise PolicyError(
            f"{source}: {key or '(top level)'}: {expected}, found {deepest} (line {line})"
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # the scan above missed a nesting the reader cannot follow
        raise PolicyError(f"{source}: {expected}, found them nested too deeply to read") from None


def parse_policy(text: str, *, source: str = "keyfolio.toml") -> Policy:
    """Parse and validate policy text."""
    data = _toml(text, source)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        msgs = [_message(e) for e in exc.errors()]
        raise PolicyError(f"{source}: " + "; ".join(msgs)) from None
    return policy.model_copy(update={"text": text})


def with_values(policy: Policy, section: str, values: dict[str, Any], *, source: str) -> Policy:
    """The policy with ``values`` set in one section (e.g. a run's ``--draws``), checked as
    the file is: a PolicyError naming ``source`` and the key, e.g. ``robustness.draws``."""
    current = getattr(policy, section)
    try:
        new = type(current).model_validate({**current.model_dump(), **values})
    except ValidationError as exc:
        msgs = [f"{section}.{_message(e)}" for e in exc.errors()]
        raise PolicyError(f"{source}: " + "; ".join(msgs)) from None
    return policy.model_copy(update={section: new})


def load_policy(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: policy file is not UTF-8 text") from None
    return parse_policy(text, source=str(path))


def template_text() -> str:
    """The commented policy template written by ``keyfolio init``."""
    from importlib.resources import files

    return (files("keyfolio") / "templates" / "keyfolio.toml").read_text(encoding="utf-8")
