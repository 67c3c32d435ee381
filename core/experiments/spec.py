"""What an experiment is: a base recipe, named variants, a search space, seeds and an objective.

It is written down as a small TOML file kept with its runs (`experiment.toml`):

    name = "aug-sweep"
    model = "dl-dilated-4k"
    writeup_recipe = false       # a write-up's model: start from its write-up's recipe
    seeds = [0, 1, 2]
    objective = "val_acc"        # or "val_loss": what choices use; the test set never is

    [base]                       # TrainConfig settings for every trial
    val_split = 10000

    [variants.A]                 # named recipes (optional), crossed with a grid
    label_smoothing = 0.05

    [search]
    kind = "grid"                # grid | random | tpe (random and TPE need optuna)
    n_trials = 8                 # random / tpe: settings to sample
    sampler_seed = 0
    [search.space]
    augment = [0.3, 0.6, 1.0]                      # values (grid, or a choice)
    lr = {low = 0.005, high = 0.05, log = true}    # a range (random / tpe)

A point is one setting of the variant and the searched fields; a trial is a point with a seed.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass, field, fields
from itertools import product
from typing import Any

from core.errors import ConfigError
from core.training.config import TrainConfig

SEARCH_KINDS = ("grid", "random", "tpe")
OBJECTIVES = ("val_acc", "val_loss")
# Fields an experiment may set or search: every TrainConfig field but the ones it owns itself
# (seeds come from `seeds`) and the MNIST folder (where the data is, not how to train).
_NOT_SETTABLE = frozenset({"seed", "data_dir"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Limits that refuse at once what would otherwise run (or sample) for hours or days.
MAX_SEEDS = 100
MAX_SEED = 2**31 - 1  # numpy's and torch's generators both take it
MAX_N_TRIALS = 1000  # settings a random or TPE search samples
MAX_TRIALS = 5000  # points x seeds of one experiment
MAX_DESCRIPTION_CHARS = 1000
MAX_DEFINITION_BYTES = 1024 * 1024  # the saved experiment.toml; its reader refuses more


def settable_fields() -> dict[str, type]:
    """TrainConfig field → its type, for every field an experiment may set or search."""
    defaults = TrainConfig()
    return {f.name: type(getattr(defaults, f.name)) for f in fields(TrainConfig)
            if f.name not in _NOT_SETTABLE}


def coerce(key: str, value: Any) -> Any:
    """`value` as TrainConfig's type for `key`; ConfigError naming the key when it cannot be."""
    kinds = settable_fields()
    if key not in kinds:
        raise ConfigError(f"'{key}' is not a training setting an experiment can set. "
                          f"Settings: {', '.join(sorted(kinds))}.")
    kind = kinds[key]
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "on", "yes", "1"):
                return True
            if text in ("false", "off", "no", "0"):
                return False
            raise ValueError
        if kind is int:
            number = float(value)
            if isinstance(value, bool) or not math.isfinite(number) or number != int(number):
                raise ValueError
            return int(number)
        if kind is float:
            if isinstance(value, bool) or not math.isfinite(float(value)):
                raise ValueError
            return float(value)
        if not isinstance(value, str | int | float):
            raise TypeError  # a table or list where a word belongs
        return str(value)
    except (TypeError, ValueError, OverflowError):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "…"
        hint = {int: " (a whole number)", float: " (a finite number)"}.get(kind, "")
        article = "an" if kind.__name__[0] in "aeiou" else "a"
        raise ConfigError(f"{key} = {shown} is not {article} {kind.__name__}{hint}.") from None


@dataclass(frozen=True)
class Range:
    """A numeric range to sample from (random and TPE searches)."""

    low: float
    high: float
    log: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log}


@dataclass
class SearchSpec:
    kind: str = "grid"
    space: dict[str, list[Any] | Range] = field(default_factory=dict)
    n_trials: int = 0  # random / tpe: how many points to sample
    sampler_seed: int = 0


@dataclass
class AshaSpec:
    """Asynchronous successive halving (Ray executor): stop trials behind their rung early."""

    grace_period: int = 3  # epochs every trial runs before it can be stopped
    reduction_factor: int = 2


@dataclass(frozen=True)
class Point:
    """One setting of the experiment: a variant and values of the searched fields."""

    index: int
    variant: str  # "" when the experiment has no variants
    values: dict[str, Any]  # searched field → value

    @property
    def label(self) -> str:
        parts = [self.variant] if self.variant else []
        parts += [f"{k}={_short(v)}" for k, v in self.values.items()]
        return " · ".join(parts) if parts else "base"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "variant": self.variant, "values": self.values}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Point:
        """A saved point, every part checked: ConfigError saying what is wrong, never a
        TypeError (points.json may be damaged or written by hand)."""
        if not isinstance(data, dict):
            raise ConfigError(f"a point is {type(data).__name__}, not a table")
        index, variant, values = data.get("index"), data.get("variant", ""), data.get("values")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ConfigError(f"a point's index is {index!r:.40}, not a whole number ≥ 0")
        if not isinstance(variant, str) or not isinstance(values, dict):
            raise ConfigError(f"point {index} needs a variant name and a table of values")
        return cls(index, variant, {str(k): coerce(str(k), v) for k, v in values.items()})


@dataclass(frozen=True)
class Trial:
    point: Point
    seed: int

    @property
    def key(self) -> str:
        return trial_key(self.point.index, self.seed)


def trial_key(point_index: int, seed: int) -> str:
    return f"p{point_index:03d}-s{seed}"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@dataclass
class ExperimentSpec:
    name: str
    model: str = TrainConfig.model
    writeup_recipe: bool = False
    seeds: list[int] = field(default_factory=lambda: [0])
    objective: str = "val_acc"
    description: str = ""
    base: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    search: SearchSpec = field(default_factory=SearchSpec)
    asha: AshaSpec | None = None

    # --- checking ---------------------------------------------------------------------------

    def validate(self) -> None:
        """ConfigError naming the first thing wrong (before any trial starts)."""
        check_name(self.name)
        if not 1 <= len(self.seeds) <= MAX_SEEDS:
            raise ConfigError(f"Give 1 to {MAX_SEEDS} seeds (got {len(self.seeds):,}).")
        if any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED
               for s in self.seeds):
            raise ConfigError(f"seeds must be whole numbers from 0 to {MAX_SEED:,}.")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds repeat a value: {self.seeds}.")
        if not isinstance(self.description, str) or len(self.description) > MAX_DESCRIPTION_CHARS:
            raise ConfigError(f"The description is {len(str(self.description)):,} characters; "
                              f"keep it to at most {MAX_DESCRIPTION_CHARS:,} (a line or two "
                              f"saying what the experiment asks).")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)} (decisions use "
                              f"the validation split, never the test set).")
        self.base = {k: coerce(k, v) for k, v in self.base.items()}
        for name, overrides in self.variants.items():
            check_name(name, what="variant name")
            self.variants[name] = {k: coerce(k, v) for k, v in overrides.items()}
        search = self.search
        if search.kind not in SEARCH_KINDS:
            raise ConfigError(f"search kind must be one of {', '.join(SEARCH_KINDS)}.")
        for key, values in search.space.items():
            if isinstance(values, Range):
                if search.kind == "grid":
                    raise ConfigError(f"{key}: a grid needs a list of values, not a range.")
                kind = settable_fields().get(key)
                if kind not in (int, float):
                    coerce(key, values.low)  # raises for unknown keys
                    raise ConfigError(f"{key}: only numeric settings take a range.")
                if not (math.isfinite(values.low) and math.isfinite(values.high)):
                    raise ConfigError(f"{key}: a range needs finite ends.")
                if not values.low < values.high or (values.log and values.low <= 0):
                    raise ConfigError(f"{key}: a range needs low < high (and low > 0 for log).")
            else:
                if not values:
                    raise ConfigError(f"{key}: give at least one value to try.")
                search.space[key] = [coerce(key, v) for v in values]
        if search.kind != "grid":
            if not 1 <= search.n_trials <= MAX_N_TRIALS:
                raise ConfigError(f"A {search.kind} search needs n_trials from 1 to "
                                  f"{MAX_N_TRIALS:,} (settings to sample; got "
                                  f"{search.n_trials:,}).")
            if self.variants:
                raise ConfigError("Variants go with grid searches; for a random or TPE search "
                                  "put the choice into the search space.")
            if not search.space:
                raise ConfigError(f"A {search.kind} search needs a search space.")
        if self.asha is not None and not (1 <= self.asha.grace_period <= 1000
                                          and 2 <= self.asha.reduction_factor <= 100):
            raise ConfigError("ASHA needs grace_period from 1 to 1000 epochs and "
                              "reduction_factor from 2 to 100.")
        trials = self.point_count() * len(self.seeds)
        if trials > MAX_TRIALS:
            raise ConfigError(f"This experiment has {trials:,} trials (settings x seeds); at "
                              f"most {MAX_TRIALS:,} are allowed. Fewer values, variants or "
                              f"seeds, or split it into several experiments.")

    def point_count(self) -> int:
        """How many points (settings) the experiment tries, counted without listing them."""
        if self.search.kind != "grid":
            return self.search.n_trials
        sizes = [len(v) for v in self.search.space.values() if isinstance(v, list)]
        return math.prod(sizes) * max(1, len(self.variants))

    @property
    def chooses(self) -> bool:
        """Whether the experiment makes choices (and so needs a validation split)."""
        return self.search.kind != "grid" or self.asha is not None

    # --- points and trials ------------------------------------------------------------------

    def grid_points(self) -> list[Point]:
        keys = list(self.search.space)
        combos = list(product(*(self.search.space[k] for k in keys)))  # type: ignore[misc]
        variants = list(self.variants) or [""]
        return [Point(i, variant, dict(zip(keys, combo, strict=True)))
                for i, (variant, combo) in enumerate(product(variants, combos))]

    def overrides(self, point: Point, seed: int) -> dict[str, Any]:
        """TrainConfig overrides of one trial: model, base, variant, searched values, seed."""
        return {"model": self.model, **self.base, **self.variants.get(point.variant, {}),
                **point.values, "seed": seed}

    def trial_config(self, point: Point, seed: int) -> TrainConfig:
        from core.workflows.launch import new_run_config

        config = new_run_config(self.overrides(point, seed), self.writeup_recipe)
        config.validate()
        return config

    # --- TOML -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "description": self.description,
                                "model": self.model, "writeup_recipe": self.writeup_recipe,
                                "seeds": list(self.seeds), "objective": self.objective,
                                "base": dict(self.base),
                                "variants": {k: dict(v) for k, v in self.variants.items()},
                                "search": {"kind": self.search.kind,
                                           "n_trials": self.search.n_trials,
                                           "sampler_seed": self.search.sampler_seed,
                                           "space": {k: (v.to_dict() if isinstance(v, Range)
                                                         else list(v))
                                                     for k, v in self.search.space.items()}}}
        if self.asha is not None:
            data["asha"] = {"grace_period": self.asha.grace_period,
                            "reduction_factor": self.asha.reduction_factor}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentSpec:
        """Build and validate from TOML data; ConfigError says what is wrong and where."""
        known = {"name", "description", "model", "writeup_recipe", "seeds", "objective", "base",
                 "variants", "search", "asha"}
        unknown = set(data) - known
        if unknown:
            what = "key" if len(unknown) == 1 else "keys"
            raise ConfigError(f"Unknown experiment {what}: {', '.join(sorted(unknown))}. "
                              f"Known: {', '.join(sorted(known))}.")
        if "name" not in data:
            raise ConfigError("The experiment definition lacks 'name'.")
        search = _table(data, "search")
        space: dict[str, list[Any] | Range] = {}
        for key, value in _table(search, "space", "search.space").items():
            if isinstance(value, dict):
                if "low" not in value or "high" not in value:
                    raise ConfigError(f"search.space.{key}: a range needs low and high.")
                space[key] = Range(_number(value["low"], f"{key}.low"),
                                   _number(value["high"], f"{key}.high"),
                                   _flag(value.get("log", False), f"{key}.log"))
            else:
                space[key] = list(value) if isinstance(value, list) else [value]
        asha = data.get("asha")
        if asha is not None and not isinstance(asha, dict):
            raise ConfigError("asha must be a table: [asha] grace_period = 3 ...")
        seeds = data.get("seeds", [0])
        if not isinstance(seeds, list):
            raise ConfigError("seeds must be a list of whole numbers, e.g. seeds = [0, 1, 2].")
        spec = cls(
            name=_text(data["name"], "name"),
            description=_text(data.get("description", ""), "description"),
            model=_text(data.get("model", TrainConfig.model), "model"),
            writeup_recipe=_flag(data.get("writeup_recipe", False), "writeup_recipe"),
            seeds=[_whole(s, "seeds") for s in seeds],
            objective=_text(data.get("objective", "val_acc"), "objective"),
            base=_table(data, "base"),
            variants={str(k): _table(v, None, f"variants.{k}")
                      for k, v in _table(data, "variants").items()},
            search=SearchSpec(kind=_text(search.get("kind", "grid"), "search.kind"), space=space,
                              n_trials=_whole(search.get("n_trials", 0), "search.n_trials"),
                              sampler_seed=_whole(search.get("sampler_seed", 0),
                                                  "search.sampler_seed")),
            asha=AshaSpec(_whole(asha.get("grace_period", 3), "asha.grace_period"),
                          _whole(asha.get("reduction_factor", 2), "asha.reduction_factor"))
            if asha is not None else None)
        spec.validate()
        return spec

    @classmethod
    def from_toml(cls, text: str) -> ExperimentSpec:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"The experiment file is not valid TOML: {e}.") from None
        return cls.from_dict(data)

    def to_toml(self) -> str:
        return dump_toml(self.to_dict())


# --- reading a definition's values: each one the kind it must be, or one line saying so ----

def _table(data: Any, key: str | None, where: str | None = None) -> dict[str, Any]:
    value = data if key is None else data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where or key} must be a table ([{where or key}] with KEY = VALUE "
                          f"lines), not {type(value).__name__}.")
    return dict(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be text in quotes, not {type(value).__name__}.")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, not {type(value).__name__}.")
    return value


def _whole(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be whole numbers, not {value!r:.40}.")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number, not {value!r:.40}.")
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float
        raise ConfigError(f"{where} is too large.") from None


def check_name(name: str, what: str = "experiment name") -> str:
    if not _NAME.match(name or ""):
        raise ConfigError(f"The {what} {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                          f"starting with a letter or digit.")
    return name


# --- a small TOML writer (tomllib reads; the standard library has no writer) ---------------

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are TOML's too
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def dump_toml(data: dict[str, Any], _path: tuple[str, ...] = ()) -> str:
    """TOML text for `data`: scalars and lists first, then sub-tables; a range in a search
    space ({low, high, log}) is written inline."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        nested = isinstance(value, dict) and (not _path or _path[-1] != "space")
        if nested:
            tables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, table in tables:
        path = (*_path, key)
        header = ".".join(_toml_key(k) for k in path)
        body = dump_toml(table, path)
        lines.append("")
        lines.append(f"[{header}]")
        if body.strip():
            lines.append(body.rstrip("\n"))
    return "\n".join(lines).lstrip("\n") + "\n"
