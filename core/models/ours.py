"""DigitLab's own models (nets in `digitnet.py`). Torch-free: the GUI lists these at start-up."""

from __future__ import annotations

from core.models.spec import OUR_FAMILY, ModelSpec

# The recipes our models were tuned with. Every choice was made on a 10,000-image validation
# split held out of the training images, never on the test set (benchmarks/RESULTS.md has the
# comparisons): Adam with a short OneCycle warm-up beat SGD + Nesterov; lighter augmentation
# (strength 0.6, stroke jitter 0.15) beat the full strength for the 8k nets with the same
# pen-style proxy accuracy; the smaller the net, the less regularisation it wants (below).
_RECIPE: dict[str, object] = {
    "epochs": 15, "batch_size": 128, "optimizer": "adam", "lr": 0.012, "momentum": 0.9,
    "schedule": "onecycle", "pct_start": 0.1, "weight_decay": 1e-4,
    "label_smoothing": 0.05, "augment": 1.0, "augment_stroke": 0.3, "ema": True,
}
_LIGHT_AUGMENT: dict[str, object] = {**_RECIPE, "augment": 0.6, "augment_stroke": 0.15}
# Under 1k parameters the net underfits: augmentation and label smoothing only take capacity away
# (no augmentation won on validation accuracy and on the pen-style proxy alike).
_UNDERFIT: dict[str, object] = {**_RECIPE, "augment": 0.0, "augment_stroke": 0.0,
                                "label_smoothing": 0.0}
# Under 4k: some augmentation still pays (on the pen-style proxy too), label smoothing does not.
_COMPACT: dict[str, object] = {**_RECIPE, "augment": 0.3, "augment_stroke": 0.1,
                               "label_smoothing": 0.0}

# What `--time-budget` trains on the CPU when no model is named (core.workflows.launch): the
# flagship over the few epochs a budget buys (~3 in 30 s, ~7 in 60 s on the idle 2-core
# machine). On validation after that many steps (benchmarks/bench_budget_recipe.py; RESULTS.md,
# "Time to accuracy") the flagship's own augmentation and label smoothing tied with none at all,
# and a higher peak learning rate with a longer warm-up was as good or a little better; so this
# recipe drops what costs time per step: the affine + stroke augmentation (1.7 ms of CPU a
# batch, ~5% of a step) and the pen re-drawings (minutes to draw the first time).
# bf16 autocast where the CPU computes it natively (issue 22): ~1.6x the steps in the same seconds
# on the 2-core EPYC, and on validation, 30 s budgets, seeds 0-2 (bench_budget_recipe.py
# --seconds 30): 99.37% mean against 99.23% in fp32. Batch 256 (99.26%), lr 0.03 (99.29%) and a
# longer warm-up (99.34%) did not beat it; at 60 s nothing did (RESULTS.md, "Time to accuracy").
TIME_BUDGET_RECIPE: dict[str, object] = {
    "model": "dl-dilated-8k", "augment": 0.0, "augment_stroke": 0.0, "label_smoothing": 0.0,
    "lr": 0.02, "pct_start": 0.2, "cpu_bf16": True,
    "augment_pen": 0.0,  # the pen re-drawings take minutes to draw the first time: not here
}


def _ours(name: str, builder: str, recipe: dict[str, object], description: str) -> ModelSpec:
    """One of our nets: `builder` is a function in core/models/digitnet.py."""
    return ModelSpec(name=name, family=OUR_FAMILY, source="DigitLab", description=description,
                     builder=f"core.models.digitnet:{builder}", recipe=dict(recipe))


OUR_MODELS: list[ModelSpec] = [
    _ours("dl-dilated-8k", "build_dilated", _LIGHT_AUGMENT,
          "Flagship under 8k: dl-flagship-8k with its last 3×3 dilated (RF 22 instead "
          "of 18, same 7,604 parameters), which won on validation accuracy and loss. "
          "What made it work: Conv-BN-ReLU without biases, one early max-pool, a 1×1 "
          "squeeze, GAP + 1×1 head; Adam with a short one-cycle warm-up, moderate "
          "affine + stroke-weight augmentation, label smoothing, weight EMA. 5 seeds, "
          "15 epochs: test mean 99.57% (99.50-99.63%)."),
    _ours("dl-flagship-8k", "build_flagship", _LIGHT_AUGMENT,
          "Our first flagship: 2 full-res 3×3 convs, early max-pool, 1×1 squeeze, three "
          "unpadded 3×3s, GAP + 1×1 head. What made it work: Conv-BN-ReLU without "
          "biases, Adam with a short one-cycle warm-up, moderate affine + stroke-weight "
          "augmentation, label smoothing, weight EMA. 5 seeds, 15 epochs: test mean "
          "99.44% (99.33-99.49%)."),
    _ours("dl-dilated-4k", "build_dilated_compact", _COMPACT,
          "Compact under 4k: dl-compact-4k with its last 3×3 dilated (RF 22, same "
          "3,982 parameters). What made it work: the flagship's layout and optimiser, "
          "and a recipe for a small net: no label smoothing and weak augmentation "
          "(0.3, stroke 0.1), both chosen on validation. 5 seeds, 15 epochs: test "
          "mean 99.46% (99.42-99.52%)."),
    _ours("dl-compact-4k", "build_compact", _RECIPE,
          "The flagship's layout at under 4,000 parameters (channels 8-12-8-10-10-12), "
          "full-strength augmentation (it tied the lighter one on validation). 5 seeds: "
          "test mean 99.26% (99.15-99.34%)."),
    _ours("dl-dilated-1k", "build_early_pool_tiny", _UNDERFIT,
          "Tiny under 1k (990 parameters): one full 3×3, max-pool straight to 13×13, "
          "four depthwise-separable 3×3s (last dilated, RF 24), GAP + 1×1 head. What "
          "made it work: no augmentation and no label smoothing (a net this small "
          "underfits; both only took capacity away, on validation and on the pen-style "
          "proxy), and spending no parameters at full resolution. 5 seeds: test mean "
          "98.82% (98.69-98.92%)."),
    _ours("dl-tiny-1k", "build_tiny", _LIGHT_AUGMENT,
          "Under 1,000 parameters: the same layout with depthwise-separable convs "
          "(channels 6-8-10-12-12); lighter augmentation (+0.3 on validation: it "
          "underfits). 5 seeds: test mean 98.54% (98.39-98.60%)."),
]
