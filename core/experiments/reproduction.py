"""The reproduction experiment and its table: every write-up model trained with its own recipe,
set beside what its write-up claims (core/experiments/claims.py).

    digitlab-cli experiment run --reproduce [--set train_subset=10000] [--seeds 0 1 2]
    digitlab-cli report --reproduction [-o docs/REPRODUCTION.md]

Each write-up model is one variant ({"model": name}) trained with `writeup_recipe`: its recipe's
epochs (15, EVA5's 19), optimizer and schedule. When the training set is cut down to save time,
a recipe's validation split (Session-6 holds out 10%) is cut in the same proportion, so the
model still trains on 90% of what it is given. The variants run cheapest first (multiply-adds of
one image × epochs), so a run cut short still covers as many write-ups as it can. The document
states the budget it was run with.
"""

from __future__ import annotations

import math
import platform
from typing import Any

from core.experiments.claims import Claim, claim_for
from core.experiments.spec import ExperimentSpec
from core.experiments.statistics import cell
from core.experiments.storage import ExperimentStore, TrialState
from core.runs.report import TARGET_ACCURACY, format_seconds, summarize_run

REPRODUCTION = "reproduction"
MNIST_TRAIN = 60_000
MNIST_TEST = 10_000
NOISE_SE = 2.0  # a claim counts as reproduced within this many binomial standard errors
NOT_LEARNING = 20.0  # % test accuracy: a net below this has not learned (chance is ~10-11%)


def writeup_models() -> list[str]:
    from core.models import list_models

    return [spec.name for spec in list_models() if not spec.is_ours]


def training_cost(model: str) -> float:
    """Multiply-adds of one forward pass × the recipe's epochs: what orders the trials."""
    import torch

    from core.models import build_model, get_spec

    net = build_model(model).eval()
    macs = [0]

    def count(module: torch.nn.Module, _: object, out: torch.Tensor) -> None:
        if isinstance(module, torch.nn.Conv2d):
            macs[0] += module.weight.numel() * out.shape[2] * out.shape[3]
        elif isinstance(module, torch.nn.Linear):
            macs[0] += module.weight.numel()

    hooks = [m.register_forward_hook(count) for m in net.modules()]
    with torch.no_grad():
        net(torch.zeros(1, 1, 28, 28))
    for hook in hooks:
        hook.remove()
    return macs[0] * float(get_spec(model).recipe.get("epochs", 15))  # type: ignore[arg-type]


def reproduction_spec(name: str = REPRODUCTION, seeds: list[int] | None = None,
                      base: dict[str, Any] | None = None,
                      models: list[str] | None = None) -> ExperimentSpec:
    from core.models import get_spec

    base = dict(base or {})
    subset = int(base.get("train_subset", 0) or 0)
    variants: dict[str, dict[str, Any]] = {}
    for model in models or sorted(writeup_models(), key=training_cost):
        overrides: dict[str, Any] = {"model": model}
        val_split = int(get_spec(model).recipe.get("val_split", 0) or 0)  # type: ignore[call-overload]
        if subset and val_split and "val_split" not in base:
            overrides["val_split"] = max(1, round(val_split * subset / MNIST_TRAIN))
        variants[model] = overrides
    spec = ExperimentSpec(
        name=name, model=writeup_models()[0], writeup_recipe=True, seeds=seeds or [0],
        description="Every write-up model with its write-up's recipe, beside its claims.",
        base=base, variants=variants)
    spec.validate()
    return spec


def _tolerance(claim: float, n_test: int) -> float:
    p = min(max(claim / 100.0, 1e-4), 1 - 1e-4)
    return NOISE_SE * 100.0 * math.sqrt(p * (1 - p) / n_test)


def verdict(claim: Claim | None, state: TrialState, n_train: int, n_test: int,
            n_seeds: int = 1) -> str:
    """A note on whether the claim was reproduced, and the likely reason when it was not."""
    if state.status != "completed" or state.run is None:
        reason = state.run.error if state.run is not None and state.run.error else ""
        so_far = ""
        if state.run is not None and state.run.history:
            so_far = (f" after {state.run.epochs_done} of {state.run.epochs_planned} epochs "
                      f"(test {state.run.history[-1]['test_acc']:.2f}% so far)")
        return f"{state.status}{so_far}{': ' + cell(reason) if reason else ''}"
    notes = []
    summary = summarize_run(state.run)
    if claim is not None and claim.params is not None and claim.params != summary.params:
        notes.append(f"parameters differ from the claim by {summary.params - claim.params:+,}")
    learned = (summary.final_acc or 0.0) >= NOT_LEARNING
    if not learned:
        notes.append(f"did not learn: {summary.final_acc:.2f}% is what always answering one "
                     f"digit scores (training loss {state.run.history[-1]['train_loss']:.2f}, "
                     f"ln 10 = 2.30)")
    if claim is None or claim.accuracy is None:
        notes.append("no accuracy claimed")
    else:
        measured = summary.best_acc if claim.accuracy_kind == "best" else summary.final_acc
        tolerance = _tolerance(claim.accuracy, n_test)
        gap = (measured or 0.0) - claim.accuracy
        if gap > tolerance:
            notes.append(f"claim beaten ({claim.accuracy_kind} {gap:+.2f} points)")
        elif gap >= -tolerance:
            notes.append(f"claim reproduced ({claim.accuracy_kind} {gap:+.2f} points)")
        else:
            why = []  # the likely reasons, when the net did learn
            if learned and n_train < MNIST_TRAIN:
                why.append(f"trained on {n_train:,} of {MNIST_TRAIN:,} images")
            if learned and n_seeds == 1:
                why.append("one seed, so seed-to-seed spread is unknown")
            reasons = "; ".join(why)
            notes.append(f"not reproduced: {gap:+.2f} points against the claim"
                         f"{' (' + reasons + ')' if reasons else ''}")
    if not _recipe(state.run.model):
        from core.training.config import TrainConfig

        d = TrainConfig()
        notes.append(f"the write-up states no training recipe for it: DigitLab's defaults "
                     f"apply ({d.optimizer} lr {d.lr:g}, {d.schedule}, augmentation "
                     f"{d.augment:g}, {d.epochs} epochs)")
    changed = recipe_changes(state)
    if changed:
        notes.append(f"its write-up recipe has changed since this run ({', '.join(changed)}): "
                     f"re-run it")
    if claim is not None and claim.note:
        notes.append(claim.note)
    return "; ".join(notes)


def _recipe(model: str) -> dict[str, object]:
    from core.models import get_spec

    return get_spec(model).recipe


def recipe_changes(state: TrialState) -> list[str]:
    """Settings of the model's write-up recipe today that the run did not train with (the
    validation split aside: the reproduction scales it with a reduced training set)."""
    from core.models import get_spec

    if state.run is None:
        return []
    recipe = get_spec(state.run.model).recipe
    return sorted(key for key, value in recipe.items()
                  if key != "val_split" and state.run.config.get(key) != value)


def _own_target(claim: Claim | None, state: TrialState) -> str:
    if claim is None or claim.target is None or state.run is None or not state.run.history:
        return "–"
    target, summary = claim.target, summarize_run(state.run)
    checks = []
    if target.accuracy is not None:
        figures = summary.last3 if target.consistent else (summary.final_acc or 0.0,)
        checks.append(len(figures) > 0 and min(figures) >= target.accuracy)
    if target.params_below is not None:
        checks.append(0 < summary.params < target.params_below)
    if target.max_epochs is not None:
        checks.append(summary.epochs_done <= target.max_epochs)
    return "✅" if all(checks) else "❌"


def computed_params(model: str) -> str:
    """The parameters DigitLab counts in the model's layers (no training needed)."""
    from core.models.zoo_info import zoo_info

    return f"{zoo_info(model).params:,}"


def _seconds_between(start: str, end: str) -> float:
    from datetime import datetime

    try:
        return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start))
                   .total_seconds())
    except ValueError:
        return 0.0


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def reproduction_markdown(store: ExperimentStore | None = None,
                          name: str = REPRODUCTION) -> str:
    """docs/REPRODUCTION.md: the budget it ran on, then one row per write-up model (and seed)."""
    store = store or ExperimentStore()
    if not store.exists(name):
        from core.errors import ConfigError

        raise ConfigError(f"No reproduction experiment '{name}' yet: run `digitlab-cli "
                          f"experiment run --reproduce` first.")
    spec = store.load(name)
    order = {model: i for i, model in enumerate(writeup_models())}  # rows in write-up order
    states = sorted(store.states(name, seeds=spec.seeds),
                    key=lambda s: (order.get(s.trial.point.variant, len(order)), s.trial.seed))
    n_train = int(spec.base.get("train_subset", 0) or 0) or MNIST_TRAIN
    n_test = int(spec.base.get("test_subset", 0) or 0) or MNIST_TEST
    done = [s for s in states if s.status == "completed"]
    started = [s.run for s in states if s.run is not None]
    envs = [r.env for r in started]
    devices = sorted({str(e.get("device", "")) for e in envs if e.get("device")})
    threads = sorted({str(e.get("threads")) for e in envs if e.get("threads")})
    cpu = sorted({str(e.get("cpu_count")) for e in envs if e.get("cpu_count")})
    train_s = sum(summarize_run(s.run).seconds for s in done if s.run is not None)
    # From the first trial's start to the last record written: holds across killed sessions.
    span = (_seconds_between(min(r.created for r in started),
                             max(r.updated or r.created for r in started)) if started else 0.0)
    budget = (f"{n_train:,} training images"
              + (" (the full set)" if n_train == MNIST_TRAIN else f" (of {MNIST_TRAIN:,})")
              + f", {n_test:,} test images"
              + (" (the full test set)" if n_test == MNIST_TEST else "")
              + f", seeds {', '.join(map(str, spec.seeds))}, each recipe's own epochs "
                f"(15; EVA5 19)")
    lines = [
        "# Reproducing the write-ups",
        "",
        "Generated by `digitlab-cli report --reproduction` from the run store's "
        f"`{name}` experiment (`digitlab-cli experiment run --reproduce`). Every figure below "
        "was measured by DigitLab; nothing is copied from elsewhere but the claims, which "
        "cite the write-up's line (/work/shared/seeds/).",
        "",
        f"**Budget**: {budget}. Each model trains with its write-up's recipe "
        "(`--writeup-recipe`); a recipe's validation split is scaled with the training set. "
        + ("A reduced training set lowers accuracy: where a claim is not reproduced on this "
           "budget, that is the first suspect, not the write-up. " if n_train < MNIST_TRAIN
           else ""),
        "",
        f"**Machine**: {cell(platform.machine())}, {', '.join(cpu) or '?'} CPU cores; "
        f"devices {cell(', '.join(devices)) or '–'}; torch threads per trial "
        f"{', '.join(threads) or '–'}. Training and evaluation time of the finished trials "
        f"{format_seconds(train_s)}; wall time from the first trial's start to the last "
        f"record {format_seconds(span)} (the 2-core machine was shared with other work all "
        f"along, so times are upper bounds).",
        "",
        f"**Rule**: a claim counts as reproduced when DigitLab's figure of the same kind (best "
        f"or final epoch) is at most {NOISE_SE:g} binomial standard errors of the test set "
        f"below it (≈0.16 points at 99.35% on 10,000 images); one seed cannot say more. "
        f"DigitLab's targets: ≥ {TARGET_ACCURACY}% test accuracy in each of the last three "
        f"epochs, < 8,000 parameters, ≤ 15 epochs.",
        "",
        "| Model | Write-up | Params claimed | Params computed | Accuracy claimed | "
        "DigitLab best | DigitLab final | Last 3 epochs | ≥99.4% last 3 · <8k · ≤15 ep. | "
        "Write-up's own target | Note |",
        "|" + "---|" * 11,
    ]
    for state in states:
        model = str(state.trial.point.variant or state.trial.point.label)
        claim = claim_for(model)
        claimed_acc = "–" if claim is None or claim.accuracy is None else \
            f"{claim.accuracy:.2f}% ({claim.accuracy_kind}) — {claim.accuracy_cite}"
        claimed_params = "–" if claim is None or claim.params is None else \
            f"{claim.params:,} — {claim.params_cite}"
        seed = f" (seed {state.trial.seed})" if len(spec.seeds) > 1 else ""
        summary = summarize_run(state.run) if state.status == "completed" and state.run else None
        if summary is not None:  # only finished trials have figures to stand beside a claim
            measured = [f"{summary.best_acc:.2f}%", f"{summary.final_acc:.2f}%",
                        ", ".join(f"{a:.2f}" for a in summary.last3),
                        f"{_mark(summary.meets_accuracy)} {_mark(summary.meets_params)} "
                        f"{_mark(summary.meets_epochs)} ({summary.epochs_done})"]
        else:
            measured = ["–"] * 4
        lines.append(f"| {cell(model)}{seed} | {cell(claim.writeup if claim else '–')} | "
                     f"{cell(claimed_params)} | {computed_params(model)} | {cell(claimed_acc)} | "
                     f"{' | '.join(measured)} | "
                     f"{_own_target(claim, state) if summary else '–'} | "
                     f"{cell(verdict(claim, state, n_train, n_test, len(spec.seeds)), 2000)} |")
    pending = [s for s in states if s.status != "completed"]
    if pending:
        lines += ["", f"**Not finished** ({len(pending)} of {len(states)}): "
                  + ", ".join(f"{cell(s.trial.point.label)} ({s.status})" for s in pending)
                  + f". `digitlab-cli experiment run {name}` continues them; this document is "
                  "regenerated from what is in the store."]
    return "\n".join(lines) + "\n"
