"""`ModelSpec`, the torch-free description of one zoo model, and the parameter budget."""

from __future__ import annotations

from dataclasses import dataclass, field

OUR_FAMILY = "DigitLab"
PARAM_BUDGET = 8000  # parameters: a model is "under budget" when it has strictly fewer than this


def under_budget(params: int, budget: int = PARAM_BUDGET) -> bool:
    """The budget rule, in one place: strictly fewer parameters than the budget."""
    return params < budget

# TrainConfig fields (core/config.py) a recipe may set: the seed's own training settings.
# Bookkeeping fields (model, seed, device, data_dir, subsets, logging) are not recipes.
RECIPE_KEYS = frozenset({
    "epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov", "schedule", "pct_start",
    "step_size", "gamma", "weight_decay", "label_smoothing", "augment", "augment_stroke",
    "augment_aspect", "augment_elastic", "augment_pen", "pen_writers", "ema", "ema_decay",
    "val_split",
    "augment_off_epochs", "swa_epochs", "tta_degrees", "tta_in_onnx",
})
_CHOICES = {"optimizer": ("sgd", "adam", "adamw"),
            "schedule": ("onecycle", "step", "cosine", "constant")}


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry. Our parameter counts are always computed from the built model;
    `claimed_*` keep what the source text says, for comparison."""

    name: str  # stable id, lowercase-kebab, e.g. "s6-model3-se"; saved in configs and exports
    family: str  # e.g. "Session-6 write-up"
    source: str  # write-up and section, e.g. "write-up 001 (Session-6), Model_3"
    description: str  # one line: what it is, deviations from the seed, the seed's own figures
    builder: str  # "module:function" returning an nn.Module; imported only when built
    # The seed's training settings as TrainConfig overrides; {} if it gives none. Read-only by
    # convention (copy it before changing). hash=False: a dict cannot be hashed.
    recipe: dict[str, object] = field(hash=False)
    claimed_params: int | None = None  # the seed's stated count (may disagree with its layers)
    claimed_accuracy: float | None = None  # the seed's reported MNIST test accuracy, percent

    @property
    def is_ours(self) -> bool:
        """DigitLab's own models (always trained with their own recipe)."""
        return self.family == OUR_FAMILY

    def __post_init__(self) -> None:
        # Programming errors in the catalog, not user errors: fail loudly at import/test time.
        if self.name != self.name.strip().lower() or " " in self.name or "_" in self.name:
            raise ValueError(f"model name {self.name!r} must be lowercase-kebab")
        module, _, function = self.builder.partition(":")
        if not module or not function:
            raise ValueError(f"{self.name}: builder {self.builder!r} must be 'module:function'")
        unknown = set(self.recipe) - RECIPE_KEYS
        if unknown:
            raise ValueError(f"{self.name}: recipe keys {sorted(unknown)} are not TrainConfig's")
        for key, choices in _CHOICES.items():
            if key in self.recipe and self.recipe[key] not in choices:
                raise ValueError(f"{self.name}: recipe {key}={self.recipe[key]!r} not in {choices}")
