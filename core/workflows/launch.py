"""Starting a training run the same way from the CLI and the GUI: config, run store, trainer."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError
from core.runs.store import RunStore
from core.training.config import TrainConfig
from core.training.control import Reporter, TrainControl

if TYPE_CHECKING:
    from core.training.budget import BudgetStart


def new_run_config(overrides: dict[str, Any], writeup_recipe: bool = False,
                   device_type: str | None = None) -> TrainConfig:
    """TrainConfig for a new run: defaults, the model's recipe, the device's fast path
    (core/training/speed.py), then the user's overrides.

    Our own models always take their recipe (it is what they were tuned with); a write-up's model
    takes its write-up's recipe when `writeup_recipe` is set, so the write-up can be reproduced.
    A time budget on the CPU without a chosen model takes the time-budget recipe (model and
    settings for a few epochs, core.models.ours). `device_type` ("cpu", "cuda", "mps") names
    where it will train; None works it out from the overrides' device ("auto" asks torch, so
    the GUI passes the type it already knows).
    """
    from core.models import get_spec
    from core.models.ours import TIME_BUDGET_RECIPE
    from core.training.speed import device_recipe, device_type_of

    if device_type is None:
        device_type = device_type_of(str(overrides.get("device") or TrainConfig.device))
    budget_recipe = (dict(TIME_BUDGET_RECIPE) if overrides.get("time_budget")
                     and not overrides.get("model") and device_type == "cpu" else {})
    model = str(overrides.get("model") or budget_recipe.pop("model", TrainConfig.model))
    spec = get_spec(model)
    config = TrainConfig(model=model)
    if writeup_recipe or spec.is_ours:
        config = config.with_overrides(**spec.recipe)
    config = config.with_overrides(**budget_recipe)
    config = config.with_overrides(**device_recipe(device_type, config.to_dict(), spec.is_ours))
    return config.with_overrides(**overrides)


def _out_of_memory_explained(start: Callable[..., Any]) -> Callable[..., Any]:
    """CLI and GUI alike get `explain_out_of_memory`'s message instead of torch's."""

    @functools.wraps(start)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return start(*args, **kwargs)
        except Exception as error:
            explained = explain_out_of_memory(error)
            if explained is None:
                raise
            raise explained from error

    return wrapper


@_out_of_memory_explained
def start_training(config: TrainConfig, reporter: Reporter | None = None,
                   control: TrainControl | None = None, *, resume: str | None = None,
                   name: str = "", store: RunStore | None = None,
                   budget_start: BudgetStart | None = None):  # -> TrainResult
    """Create (or reopen, with `resume`) a run in the store and train it.

    `budget_start`: where `config.time_budget` is counted from (the CLI: process start);
    default: when training starts."""
    from core.data.mnist import check_mnist_folder
    from core.models import build_model
    from core.models.layers import summarize
    from core.training.loop import train

    store = store or RunStore()
    if resume:
        # Locked for this process (a second resume of the same run is refused), re-read under
        # the lock; a run interrupted before its first epoch starts again from scratch.
        run = store.open_for_resume(resume)
        try:
            config = TrainConfig.from_dict(run.record.config)
            config.validate()
            check_mnist_folder(config.data_dir or None)
        except BaseException:
            run.release_lock()
            raise
        return train(config, reporter=reporter, control=control, run=run,
                     resume=run.record.epochs_done > 0)
    config.validate()
    check_mnist_folder(config.data_dir or None)  # a partial or empty data folder: say so now
    summary = summarize(build_model(config.model))
    run = store.create(config.to_dict(), params=summary.total_params,
                       receptive_field=summary.receptive_field, name=name)
    return train(config, reporter=reporter, control=control, run=run, budget_start=budget_start)


def explain_out_of_memory(error: BaseException) -> ConfigError | None:
    """The user-facing error for a GPU that ran out of memory, or None for any other error.

    torch raises `torch.cuda.OutOfMemoryError` on CUDA and a RuntimeError saying "out of memory"
    on MPS. Cached GPU memory is released here, so a retry with a smaller batch can start.
    """
    if type(error).__name__ != "OutOfMemoryError" and not (
            isinstance(error, RuntimeError) and "out of memory" in str(error).lower()):
        return None
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return ConfigError("The GPU ran out of memory. Lower the batch size (or the model's size), "
                       "or train on the CPU.")
