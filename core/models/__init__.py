"""The model zoo: seed models from the write-ups (and DigitLab's own, in ours.py).

Importing this package does not import torch: the GUI lists models before torch is loaded.
`build_model(name)` imports the family module (and torch) when a model is actually needed.
"""

from core.models.registry import build_model, count_parameters, get_spec, list_models
from core.models.spec import PARAM_BUDGET, ModelSpec

__all__ = [
    "PARAM_BUDGET", "ModelSpec", "build_model", "count_parameters", "get_spec", "list_models",
]
