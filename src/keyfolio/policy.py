"""The policy: the written definition of a key account (``keyfolio.toml``).

Loaded with :func:`load_policy`, validated with pydantic. Every mistake becomes a
:class:`~keyfolio.errors.PolicyError` naming the key, what is allowed and what was found.
Unknown keys are errors too (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from keyfolio.errors import PolicyError

TIERS = ("large", "medium", "small")  # the size tiers, largest first (the order shown)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SizePolicy(_Model):
    """Size tiers small / medium / large."""

    basis: Literal["revenue", "contribution_margin"] = "contribution_margin"
    method: Literal["pareto", "thresholds"] = "pareto"
    # pareto: cumulative shares of the basis; large = accounts making the first cuts[0],
    # medium the next up to cuts[1], small the rest.
    cuts: tuple[float, float] = (0.80, 0.95)
    # thresholds: absolute amounts of the basis; medium from thresholds[0], large from [1].
    thresholds: tuple[float, float] | None = None

    @field_validator("cuts")
    @classmethod
    def _cuts(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not (0 < v[0] < v[1] <= 1):
            raise ValueError("two increasing shares in (0, 1], e.g. [0.80, 0.95]")
        return v

    @model_validator(mode="after")
    def _thresholds(self) -> SizePolicy:
        if self.method == "thresholds":
            if self.thresholds is None:
                raise ValueError(
                    "method = 'thresholds' needs thresholds = [medium_from, large_from]"
                )
            if not self.thresholds[0] < self.thresholds[1]:
                raise ValueError("thresholds must be increasing: [medium_from, large_from]")
        return self


class CostToServePolicy(_Model):
    rates: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    include_freight: bool = True  # freight on order headers counts as the activity "freight"


class GrowthPolicy(_Model):
    window_months: Annotated[int, Field(ge=1, le=36)] = 12


ScaleName = Literal["percentile", "minmax", "bands", "map", "direct"]
MissingRule = Literal["neutral", "median", "lowest", "exclude"]


class Criterion(_Model):
    """One weighted criterion of attractiveness or strength."""

    name: Annotated[str, Field(min_length=1)]
    source: Annotated[
        str, Field(pattern=r"^(metric|attribute|assessment|feedback):[A-Za-z_][A-Za-z0-9_]*$")
    ]
    weight: Annotated[float, Field(gt=0)] = 1.0
    scale: ScaleName = "percentile"
    invert: bool = False  # lower raw value is better
    bands: list[float] | None = None  # cut points for scale = "bands"
    map: dict[str, float] | None = None  # category -> 0-100 for scale = "map"
    range: tuple[float, float] | None = None  # stated raw range for scale = "direct"
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
        if self.bands and sorted(self.bands) != list(self.bands):
            raise ValueError(f"criterion {self.name!r}: bands must be increasing")
        if self.scale == "map" and not self.map:
            raise ValueError(
                f"criterion {self.name!r}: scale = 'map' needs map = {{ value = score }}"
            )
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"criterion {self.name!r}: range must be [low, high] with low < high")
        return self


class AssessmentPolicy(_Model):
    missing: MissingRule = "neutral"
    disagreement_sd: Annotated[float, Field(ge=0)] = 1.0  # flag when assessors' sd exceeds this
    scale: tuple[float, float] = (1.0, 5.0)  # the range people score on


class MatrixPolicy(_Model):
    attractiveness_cut: Annotated[float, Field(ge=0, le=100)] = 50.0
    strength_cut: Annotated[float, Field(ge=0, le=100)] = 50.0
    # Growth-potential band: a portfolio column cut into low / medium / high.
    growth_metric: Annotated[str, Field(min_length=1)] = "revenue_growth"
    growth_cuts: tuple[float, float] = (0.0, 0.10)
    # Strategic-value band: attractiveness (0-100) cut into low / medium / high.
    strategic_cuts: tuple[float, float] = (40.0, 70.0)

    @field_validator("growth_cuts", "strategic_cuts")
    @classmethod
    def _increasing(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not v[0] < v[1]:
            raise ValueError("two increasing cut points [low_to_medium, medium_to_high]")
        return v


def _default_hours() -> dict[Literal["small", "medium", "large"], float]:
    return {"large": 400.0, "medium": 250.0, "small": 150.0}


class SelectionPolicy(_Model):
    capacity_hours: Annotated[float, Field(ge=0)] | None = None
    hours: dict[Literal["small", "medium", "large"], Annotated[float, Field(ge=0)]] = Field(
        default_factory=_default_hours
    )
    capacity_by: Literal["region", "owner"] | None = None
    capacity: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    max_key_accounts: Annotated[int, Field(ge=0)] | None = None
    objective: Annotated[str, Field(min_length=1)] = "attractiveness"
    # per_hour: maximise sum(objective x hours) - every KAM hour goes to the most attractive
    # account that needs it (for 0-100 scores); per_account: maximise sum(objective) (for
    # money objectives such as profit_potential, already the value of making an account key).
    value: Literal["per_hour", "per_account"] = "per_hour"
    must: list[str] = Field(default_factory=list)
    never: list[str] = Field(default_factory=list)
    keep_margin: Annotated[float, Field(ge=0)] = 5.0
    # the floor: an account whose attractiveness is below it is not key, whatever the
    # capacity (capacity is a ceiling, not a target); None: no floor
    min_attractiveness: Annotated[float, Field(ge=0, le=100)] | None = None
    time_limit_s: Annotated[float, Field(gt=0)] = 30.0
    mip_rel_gap: Annotated[float, Field(ge=0, lt=1)] = 1e-4


class RobustnessPolicy(_Model):
    draws: Annotated[int, Field(ge=0)] = 1000
    concentration: Annotated[float, Field(gt=0)] = 50.0  # Dirichlet concentration around weights
    seed: int = 42
    contested: tuple[float, float] = (0.2, 0.8)
    # draws stop when this is spent (p_key then from the draws done, with a warning)
    time_limit_s: Annotated[float, Field(gt=0)] = 300.0

    @field_validator("contested")
    @classmethod
    def _bounds(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] <= v[1] <= 1:
            raise ValueError("two shares 0 <= low <= high <= 1, e.g. [0.2, 0.8]")
        return v


class ValuePolicy(_Model):
    kam_hour_cost: Annotated[float, Field(ge=0)] = 90.0  # cost of one KAM hour (ROCI)
    time_unit_days: Annotated[float, Field(gt=0)] = 7.0  # CLV model time unit (weeks)
    min_repeat_customers: Annotated[int, Field(ge=1)] = 30


class Policy(_Model):
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    horizon_years: Annotated[float, Field(gt=0, le=30)] = 3
    discount_rate: Annotated[float, Field(ge=0, lt=1)] = 0.10
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

    # Set by load_policy: the exact text and its hash, for run.json.
    text: str = Field(default="", exclude=True, repr=False)

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
    if isinstance(found, dict):
        return f"{loc}: {msg}"
    return f"{loc}: {msg} (found {found!r})"


def parse_policy(text: str, *, source: str = "keyfolio.toml") -> Policy:
    """Parse and validate policy text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        msgs = [_message(e) for e in exc.errors()]
        raise PolicyError(f"{source}: " + "; ".join(msgs)) from None
    return policy.model_copy(update={"text": text})


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
