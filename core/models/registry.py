"""Look up, list and build zoo models by name; torch is imported only when a model is built.

The GUI lists the zoo at start-up, before torch is loaded, so nothing here (nor in spec.py and
catalog.py) may import torch at module level.
"""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError
from core.models.catalog import SEED_MODELS
from core.models.spec import ModelSpec

if TYPE_CHECKING:
    from torch import nn


def _our_models() -> list[ModelSpec]:
    """DigitLab's own models, listed first when `core/models/ours.py` exists.

    ---- Place for DigitLab's own models ----
    `core/models/ours.py` defines `OUR_MODELS: list[ModelSpec]` (from core.models.spec). Its
    top level must stay torch-free, like this module: import torch inside the builder
    functions, or keep the nn.Modules in another module that the builders name.
    """
    try:
        from core.models.ours import OUR_MODELS
    except ModuleNotFoundError as error:
        if error.name != "core.models.ours":
            raise  # ours.py exists but imports something missing: show that, do not hide it
        return []
    return list(OUR_MODELS)


def list_models() -> list[ModelSpec]:
    """Every model, ours first, then the seed models in seed order."""
    specs = [*_our_models(), *SEED_MODELS]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ValueError(f"two zoo models are named {spec.name!r}")
        seen.add(spec.name)
    return specs


def get_spec(name: str) -> ModelSpec:
    """The spec called `name`; ConfigError naming the closest names if there is none."""
    specs = {spec.name: spec for spec in list_models()}
    key = name.strip().lower()
    if key in specs:
        return specs[key]
    # Names containing what was typed first ("s6-model3" → "s6-model3-se"), then look-alikes.
    containing = [n for n in specs if key and key in n]
    close = list(dict.fromkeys(containing + difflib.get_close_matches(key, specs, n=3, cutoff=0.5)))
    close = close[:3]
    hint = f"Did you mean {', '.join(close)}?" if close else f"Known models: {', '.join(specs)}."
    raise ConfigError(f"Unknown model '{name}'. {hint}")


def build_model(name: str) -> nn.Module:
    """A freshly initialised model: (N, 1, 28, 28) normalised images -> (N, 10) logits."""
    spec = get_spec(name)
    module_name, _, function_name = spec.builder.partition(":")
    module = importlib.import_module(module_name)  # imports torch, once, here
    return getattr(module, function_name)()


def count_parameters(model: Any) -> int:
    """Trainable parameters (requires_grad), each shared tensor counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
