"""docs/REPRODUCTION.md, regenerated from the trial records in docs/reproduction/ only.

    digitlab-cli report --reproduction [--records DIR] [-o docs/REPRODUCTION.md]

The plan (plan.json: one measured epoch per model), a summary (claims reproduced, beaten, not
reproduced, pending; the write-ups' parameter counts that are wrong), the budget and machine the
records came from, then one row per write-up model. A claim is judged only against a figure of
the same kind (best or final epoch) trained on the same budget as the write-up (all 60,000
training images, the full test set); a model without such a record is "pending", whatever
figures other budgets gave (those stand apart, labelled with their budget).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from core.experiments.claims import CLAIMS, WRITEUP_TITLES, Claim, claim_for
from core.experiments.reproduction import (
    CLOSE_TO_CLAIM,
    MNIST_TEST,
    MNIST_TRAIN,
    changed_settings,
    trial_config,
    trial_seeds,
    writeup_models,
)
from core.experiments.reproduction_records import (
    DEFAULT_BASE,
    PLAN_FILE,
    TrialRecord,
    default_folder,
    read_plan,
    read_records,
    seconds_between,
)
from core.experiments.statistics import cell
from core.models.spec import under_budget
from core.runs.report import EPOCH_BUDGET, TARGET_ACCURACY, format_seconds

NOISE_SE = 2.0  # a claim counts as reproduced within this many standard errors
NOT_LEARNING = 20.0  # % test accuracy: a net below this has not learned (chance is ~10-11%)
PENDING = "pending (not yet trained on the full set)"
VERDICTS = ("reproduced", "beaten", "not reproduced", "failed", "pending")


def tolerance(claim: float, figures: list[float], n_test: int) -> float:
    """How far below (or above) a claim our figure may fall and still reproduce it. One seed:
    NOISE_SE binomial standard errors of the test set. Several: the claim is one run too, so
    the spread of one run (the seeds' standard deviation, at least the binomial error) times
    √(1 + 1/n)."""
    p = min(max(claim / 100.0, 1e-4), 1 - 1e-4)
    binomial = 100.0 * math.sqrt(p * (1 - p) / n_test)
    if len(figures) < 2:
        return NOISE_SE * binomial
    return NOISE_SE * max(binomial, statistics.stdev(figures)) * math.sqrt(1 + 1 / len(figures))


def judge(claim: Claim | None, records: list[TrialRecord],
          planned_seeds: int = 1) -> tuple[str, str]:
    """(verdict, text): verdict one of VERDICTS or "no claim"; `records` are the model's
    full-set records (any seeds)."""
    done = [r for r in records if r.status == "completed"]
    if not done:
        failed = [r for r in records if r.status == "failed"]
        if failed:
            r = failed[0]
            return "failed", (f"failed after {len(r.history)} of {r.epochs_planned} epochs: "
                              f"{cell(r.error or 'no reason recorded', 300)}")
        return "pending", PENDING
    if claim is None or claim.accuracy is None:
        return "no claim", "no accuracy claimed"
    figures = [r.figure(claim.accuracy_kind) or 0.0 for r in done]
    mean = sum(figures) / len(figures)
    n_test = int(done[0].config.get("test_subset") or 0) or MNIST_TEST
    gap, allowed = mean - claim.accuracy, tolerance(claim.accuracy, figures, n_test)
    seeds = f"mean of {len(done)} seeds " if len(done) > 1 else ""
    if gap > allowed:
        verdict, text = "beaten", f"claim beaten ({seeds}{claim.accuracy_kind} {gap:+.2f} points)"
    elif gap >= -allowed:
        verdict = "reproduced"
        text = f"claim reproduced ({seeds}{claim.accuracy_kind} {gap:+.2f} points)"
    else:
        verdict = "not reproduced"
        why = " (one seed, so seed-to-seed spread is unknown)" if len(done) == 1 and \
            min(figures) >= NOT_LEARNING else ""
        text = f"not reproduced: {seeds}{gap:+.2f} points against the claim{why}"
    if planned_seeds > len(done):
        text += f"; provisional: {planned_seeds - len(done)} more seed(s) to run (within " \
                f"{CLOSE_TO_CLAIM:g} points of the claim)"
    return verdict, text


def _notes(model: str, claim: Claim | None, records: list[TrialRecord], params: int,
           verdict_text: str) -> str:
    from core.models import get_spec
    from core.training.config import TrainConfig

    notes = []
    done = [r for r in records if r.status == "completed"]
    if done and claim is not None and claim.params is not None and claim.params != params:
        notes.append(f"parameters differ from the claim by {params - claim.params:+,}")
    for r in done:
        if (r.final_acc or 0.0) < NOT_LEARNING:
            notes.append(f"seed {r.seed} did not learn: {r.final_acc:.2f}% is what always "
                         f"answering one digit scores (training loss "
                         f"{r.history[-1]['train_loss']:.2f}, ln 10 = 2.30)")
    notes.append(verdict_text)
    if not get_spec(model).recipe:
        d = TrainConfig()
        notes.append(f"the write-up states no training recipe for it: DigitLab's defaults "
                     f"apply ({d.optimizer} lr {d.lr:g}, {d.schedule}, augmentation "
                     f"{d.augment:g}, {d.epochs} epochs)")
    for r in records:
        changed = changed_settings(r.config, trial_config(model, r.seed, DEFAULT_BASE))
        if changed:
            notes.append(f"seed {r.seed}'s record used other settings than its recipe gives "
                         f"today ({', '.join(changed)}): `digitlab-cli experiment run "
                         f"--reproduce` trains it again")
    if claim is not None and claim.note:
        notes.append(claim.note)
    return "; ".join(notes)


def _figures(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.2f}%"
    return (f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}% "
            f"({', '.join(f'{v:.2f}' for v in values)})")


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def _own_target(claim: Claim | None, r: TrialRecord, params: int) -> bool | None:
    if claim is None or claim.target is None:
        return None
    target, checks = claim.target, []
    if target.accuracy is not None:
        figures = r.last3 if target.consistent else (r.final_acc or 0.0,)
        checks.append(len(figures) > 0 and min(figures) >= target.accuracy)
    if target.params_below is not None:
        checks.append(0 < params < target.params_below)
    if target.max_epochs is not None:
        checks.append(len(r.history) <= target.max_epochs)
    return all(checks)


def _row(model: str, records: list[TrialRecord], others: list[TrialRecord], params: int,
         planned_seeds: int, show_others: bool) -> tuple[str, str]:
    claim = claim_for(model)
    verdict, text = judge(claim, records, planned_seeds)
    done = [r for r in records if r.status == "completed"]
    claimed_acc = "–" if claim is None or claim.accuracy is None else \
        f"{claim.accuracy:.2f}% ({claim.accuracy_kind}) — {claim.accuracy_cite}"
    claimed_params = "–" if claim is None or claim.params is None else \
        f"{claim.params:,} — {claim.params_cite}"
    if done:
        meets = [len(r.last3) == 3 and min(r.last3) >= TARGET_ACCURACY for r in done]
        own = [_own_target(claim, r, params) for r in done]
        accuracy = _mark(all(meets)) + (f" ({sum(meets)}/{len(meets)})" if len(done) > 1
                                        and any(meets) and not all(meets) else "")
        measured = [
            ", ".join(str(r.seed) for r in done),
            _figures([r.best_acc or 0.0 for r in done]),
            _figures([r.final_acc or 0.0 for r in done]),
            " / ".join(", ".join(f"{a:.2f}" for a in r.last3) for r in done),
            f"{accuracy} {_mark(under_budget(params))} "
            f"{_mark(0 < len(done[0].history) <= EPOCH_BUDGET)} ({len(done[0].history)})",
            "–" if own[0] is None else _mark(all(bool(o) for o in own))]
    else:
        measured = ["–"] * 6
    cells = [cell(model), cell(claim.writeup if claim else "–"), cell(claimed_params),
             f"{params:,}", cell(claimed_acc), *measured,
             cell(_notes(model, claim, records, params, text), 2000)]
    if show_others:
        cells.append(cell("; ".join(_other_budget(r) for r in others) or "–", 600))
    return verdict, "| " + " | ".join(cells) + " |"


def _other_budget(r: TrialRecord) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in sorted(r.base.items())
                         if DEFAULT_BASE.get(k, object()) != v)
    if r.status != "completed":
        return f"{settings}, seed {r.seed}: {r.status}"
    return f"{settings}, seed {r.seed}: final {r.final_acc:.2f}%, best {r.best_acc:.2f}%"


def _param_summary(params: dict[str, int]) -> list[str]:
    wrong, ours, agree = [], [], 0
    stated = [c for c in CLAIMS if c.params is not None]
    for c in stated:
        counted = params[c.model]
        if counted == c.params:
            agree += 1
        elif c.layers_as_stated:
            wrong.append(f"{c.model} ({c.params:,} stated, {counted:,} in the layers it "
                         f"states)")
        else:
            ours.append(f"{c.model} ({c.params:,} stated, {counted:,} in DigitLab's net)")
    lines = [f"**Parameter counts**: {agree} of the {len(stated)} stated counts match the "
             f"layers. Wrong in the write-up: {'; '.join(wrong) or 'none'}."]
    if ours:
        lines.append(f"Different where DigitLab filled in a sketch or changed the net (not "
                     f"evidence against the write-up): {'; '.join(ours)}.")
    return lines


def _plan_section(folder: Path, done_models: set[str]) -> list[str]:
    from core.errors import ConfigError

    how = ("`python benchmarks/bench_reproduction_plan.py` times one epoch of each model on "
           f"the full training set (CPU) and writes docs/reproduction/{PLAN_FILE}.")
    try:
        plan = read_plan(folder)
    except ConfigError as e:
        return [f"**Plan**: unusable ({cell(str(e))}). {how}"]
    if plan is None:
        return [f"**Plan**: not yet measured. {how} This section then lists each model's "
                f"epochs, measured seconds per epoch and estimated hours."]
    if plan.get("smoke"):
        return [f"**Plan**: not yet measured ({PLAN_FILE} holds only a smoke check on a tiny "
                f"subset, not a plan). {how}"]
    rows = plan["models"]
    one = sum(r["estimated_hours"] for r in rows)
    claimed = {c.model for c in CLAIMS if c.accuracy is not None}
    most = one + 2 * sum(r["estimated_hours"] for r in rows if r["model"] in claimed)
    left = sum(r["estimated_hours"] for r in rows if r["model"] not in done_models)
    m = plan.get("machine") if isinstance(plan.get("machine"), dict) else {}
    lines = [f"**Plan** (measured {cell(str(plan.get('date', '?')))} on "
             f"{cell(str(m.get('cpu', '?')))}, {cell(str(m.get('cores', '?')))} cores, "
             f"{cell(str(plan.get('threads', '?')))} torch threads; commit "
             f"{cell(str(plan.get('commit') or '?'))[:12]}): one epoch of each model on "
             f"{MNIST_TRAIN:,} training images, times its recipe's epochs, plus compiling. "
             + (f"Only {len(rows)} of {len(writeup_models())} models measured. "
                if len(rows) < len(writeup_models()) else "")
             + f"Seed 0 of every model: {one:.1f} h; at most {most:.1f} h if every claimed "
             f"model needs seeds 1 and 2 as well; {left:.1f} h of seed-0 trials left"
             + (f" (1-minute load {plan['load_avg_1min_before']:.1f} when the measurement "
                f"began: other work slows every figure)"
                if isinstance(plan.get("load_avg_1min_before"), int | float) else "") + ".",
             "", "| Model | Epochs | Seconds per epoch | Compile (s) | Estimated hours (1 seed) "
             "| Full-set record |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {cell(r['model'])} | {r['epochs']} | {r['epoch_seconds']:.0f} | "
                     f"{r['compile_seconds']:.0f} | {r['estimated_hours']:.2f} | "
                     f"{'yes' if r['model'] in done_models else 'not yet'} |")
    return lines


def reproduction_markdown(folder: Path | None = None) -> str:
    """The whole document, from the records in `folder` (default: docs/reproduction/)."""
    from core.models.zoo_info import zoo_info

    folder = Path(folder) if folder is not None else default_folder()
    models = writeup_models()
    records = read_records(folder, models)
    full = {m: records.of(m) for m in models}
    others = {m: [r for r in records.trials if r.model == m and r.tag] for m in models}
    params = {m: zoo_info(m).params for m in models}
    planned = {m: len(trial_seeds(m, records)) for m in models}
    done_models = {m for m in models if any(r.status == "completed" for r in full[m])}
    show_others = any(others.values())

    rows, tally = [], {v: [] for v in (*VERDICTS, "no claim")}
    for m in models:
        verdict, row = _row(m, full[m], others[m], params[m], planned[m], show_others)
        tally[verdict].append(m)
        rows.append(row)
    claimed = [c.model for c in CLAIMS if c.accuracy is not None]
    provisional = [m for m in claimed if m in done_models
                   and planned[m] > sum(r.status == "completed" for r in full[m])]
    counts = ", ".join(f"{len([m for m in tally[v] if m in claimed])} {v}" for v in VERDICTS
                       if v != "failed" or tally[v])
    named = " ".join(f"{v.capitalize()}: {', '.join(tally[v])}." for v in VERDICTS[:4]
                     if tally[v])
    summary = [f"**Summary**: of the {len(claimed)} accuracy claims, {counts}. {named}".rstrip()
               + (f" Judged on seed 0 alone so far (seeds 1 and 2 to come): "
                  f"{', '.join(provisional)}." if provisional else ""),
               "", f"{len(models) - len(claimed)} models state no accuracy (proposals the "
                   f"write-ups never trained, or gave no result for).", "",
               *_param_summary(params)]

    done = [r for m in models for r in full[m] if r.status == "completed"]
    lines = [
        "# Reproducing the write-ups", "",
        "Generated by `digitlab-cli report --reproduction` from the trial records in "
        "`docs/reproduction/` (one JSON file per finished trial, written and committed as it "
        "finished by `digitlab-cli experiment run --reproduce`, which also continues the trials "
        "still missing). Every figure below was measured by DigitLab; nothing is copied from "
        "elsewhere but the claims, which cite the write-up by title and line.", "",
        "**Write-ups**: " + "; ".join(f"{short} — *{cell(title)}*"
                                      for short, title in WRITEUP_TITLES.items()) + ".", "",
        *_plan_section(folder, done_models), "",
        *summary, "",
        f"**Budget**: {MNIST_TRAIN:,} training images (the full set; a recipe's validation "
        f"split held out of them, as its write-up says), {MNIST_TEST:,} test images (the full "
        f"test set), each recipe's own epochs (15; EVA5 19), on the CPU (`--writeup-recipe`). "
        f"Seed 0 of every model; seeds 1 and 2 as well where seed 0 lands within "
        f"{CLOSE_TO_CLAIM:g} points of the claim.", "",
        _machine_line(done), "",
        f"**Rule**: a claim counts as reproduced when DigitLab's figure of the same kind (best "
        f"or final epoch) is within {NOISE_SE:g} standard errors of it: with one seed, the "
        f"binomial error of the test set (≈0.16 points at 99.35% on 10,000 images); with "
        f"several, the seeds' mean, allowing for one run's spread (the seeds' standard "
        f"deviation, at least the binomial error) × √(1 + 1/seeds). Above that it is beaten, "
        f"below it not reproduced. DigitLab's targets: ≥ {TARGET_ACCURACY}% test accuracy in "
        f"each of the last three epochs, < 8,000 parameters, ≤ {EPOCH_BUDGET} epochs.", "",
        "| Model | Write-up | Params claimed | Params counted | Accuracy claimed | Seeds | "
        "DigitLab best | DigitLab final | Last 3 epochs | ≥99.4% last 3 · <8k · ≤15 ep. | "
        "Write-up's own target | Verdict and notes |"
        + (" Other budgets (not judged) |" if show_others else ""),
        "|" + "---|" * (13 if show_others else 12),
        *rows,
    ]
    if records.damaged:
        lines += ["", "**Damaged records** (not used): " + "; ".join(
            f"{cell(name)}: {cell(why)}" for name, why in records.damaged.items()) + "."]
    pending = [m for m in models if m not in done_models]
    if pending:
        lines += ["", f"**Not yet trained on the full set** ({len(pending)} of {len(models)}): "
                  f"{', '.join(pending)}. `digitlab-cli experiment run --reproduce` trains "
                  f"them (the trials without a record), then `digitlab-cli report "
                  f"--reproduction -o docs/REPRODUCTION.md` regenerates this document."]
    return "\n".join(lines) + "\n"


def _machine_line(done: list[TrialRecord]) -> str:
    if not done:
        return "**Machine**: – (no full-set trial recorded yet)."

    def values(key: str) -> str:
        found = sorted({str(r.machine.get(key)) for r in done if r.machine.get(key)})
        return cell(", ".join(found)) if found else "?"
    span = seconds_between(min(r.started for r in done), max(r.ended for r in done))
    commits = sorted({r.commit.split()[0][:12] for r in done if r.commit})
    return (f"**Machine**: {values('cpu')}; {values('cores')} cores; torch threads per trial "
            f"{values('threads')}; device {values('device')}. Training and evaluation time of "
            f"the {len(done)} recorded trials {format_seconds(sum(r.seconds for r in done))}; "
            f"from the first trial's start to the last one's end "
            f"{format_seconds(span)}. Code: commit{'s' if len(commits) > 1 else ''} "
            f"{', '.join(commits) or '?'}"
            + (" (some with uncommitted local changes)" if any("+" in r.commit for r in done)
               else "") + " (each record names its own).")

