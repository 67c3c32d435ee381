"""Write the tables of benchmarks/RESULTS.md from benchmarks/records.jsonl.

Every benchmark appends a record (benchmarks/_common.py: figures, commit, machine, date,
command). Each generated table sits between two marker comments in RESULTS.md,

    <!-- results-table: NAME -->  ...  <!-- /results-table: NAME -->

and is rewritten from the records; the prose around the markers is left as it is. A row whose
code no longer exists (its benchmark script is gone, its model left the zoo, or the model's recipe
changed since) is marked as history. Records imported from the hand-written tables that came
before the records carry `"source": "imported from RESULTS.md"` and the commit that added the row.

    python scripts/results_tables.py            # rewrite the tables in RESULTS.md
    python scripts/results_tables.py --check    # exit 1 if RESULTS.md is not what the records say
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
RECORDS = REPO / "benchmarks" / "records.jsonl"
RESULTS = REPO / "benchmarks" / "RESULTS.md"
IMPORTED = "imported from RESULTS.md"

Record = dict[str, Any]


def read_records(path: Path = RECORDS) -> list[Record]:
    """Every record, in the order they were appended; a damaged line stops with its number."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise SystemExit(f"{path}:{number}: not a JSON record ({e.msg}).") from e
    return records


# --- is the code that produced a record still here? -------------------------------------------

def _zoo() -> dict[str, dict[str, Any]]:
    from core.models import list_models

    return {spec.name: dict(spec.recipe) for spec in list_models()}


def history_reason(record: Record, zoo: dict[str, dict[str, Any]]) -> str:
    """Why the code behind `record` no longer exists ("" when it still does)."""
    for word in str(record.get("command", "")).split():
        script = re.fullmatch(r"(benchmarks|scripts)/[\w./-]+\.(py|sh)", word)
        if script and not (REPO / word).exists():
            return f"{word} is gone"
    model = record.get("figures", {}).get("model")
    if model and model not in zoo:
        return f"{model} is no longer in the zoo"
    recipe = record.get("figures", {}).get("recipe") or {}
    changed = [k for k, v in recipe.items() if model and zoo[model].get(k, v) != v]
    if changed:
        return f"{model}'s recipe changed since ({', '.join(sorted(changed))})"
    return ""


# --- formatting -------------------------------------------------------------------------------

def _pct(x: float) -> str:
    return f"{x:.2f}%"


def _nums(xs: Iterable[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in xs)


def _span(xs: list[float], unit: str = " s") -> str:
    return f"{min(xs):.2f}–{max(xs):.2f}{unit}"


def _machine(r: Record) -> str:
    m = r.get("machine", {})
    if r.get("conditions"):
        return f"{m.get('name', '?')}, {r['conditions']}"
    load = m.get("load_avg_1min")
    return m.get("name", "?") + (f", load {load:.1f}" if load is not None else "")


def _trace(r: Record, reason: str) -> str:
    if r.get("source") == IMPORTED:
        where = f"imported (row added in {str(r.get('recorded_in', '?'))[:7]})"
    else:
        where = str(r.get("commit") or "no commit")[:7] + (" + local changes" if r.get("dirty")
                                                           else "")
    return f"history: {reason}; {where}" if reason else where


def _model(r: Record) -> str:
    f = r["figures"]
    return f"{f.get('model', '?')} {r['note']}" if r.get("note") else str(f.get("model", "?"))


def _epoch_note(r: Record) -> str:
    if r.get("note"):
        return r["note"]
    d = r["figures"]["digitlab"]
    compiled = (f"compiled first in {d['compile_s']:.1f} s" if d.get("compile") else "eager")
    return f"batch {d.get('batch_size', '?')}, {compiled}"


def _frontier_time(r: Record) -> str:
    f = r["figures"]
    extra = f", {r['compile_note']}" if r.get("compile_note") else ""
    return (f"{f['mean_15_epochs_s']:.0f} s{r.get('time_mark', '')} "
            f"(+{f['mean_compile_s']:.1f} s compile{extra})")


def _overrides(overrides: dict[str, Any]) -> str:
    shown = {k: v for k, v in overrides.items() if k != "device"}
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "none"


def _startup(f: dict[str, Any]) -> str:
    times = f.get("startup_s") or f["startup_range_s"]
    runs = len(f["startup_s"]) if f.get("startup_s") else f["startup_runs"]
    return (f"{f['startup_median_s']:.2f} s median of {runs} ({_span(times, '')}), "
            "torch not imported")


def _stall(f: dict[str, Any]) -> str:
    return (f"{f['worst_ms']:.0f} ms (p99 {f['p99_ms']:.0f} ms, median {f['median_ms']:.0f} ms, "
            f"{f['ticks']:,} ticks)")


@dataclass(frozen=True)
class Table:
    name: str
    rows: Callable[[Record], list[list[str]]]  # the rows one record makes ([] = not this table)
    header: list[str]


def _one(benchmark: str, cells: Callable[[Record], list[str]],
         when: Callable[[Record], bool] = lambda r: True) -> Callable[[Record], list[list[str]]]:
    return lambda r: [cells(r)] if r.get("benchmark") == benchmark and when(r) else []


def _gui_rows(r: Record) -> list[list[str]]:
    f = r["figures"]
    command = f"`{r['command']}`"
    if r.get("benchmark") == "gui":
        return [["window usable after start (plain install)", _startup(f), command],
                ["worst event-loop stall while the Train tab trains one full-MNIST epoch on the "
                 "CPU (10 ms timer)", _stall(f), command]]
    if r.get("benchmark") == "start_script":
        return [["window visible after `./scripts/start.sh` (warm venv, Xvfb)",
                 f"{f['start_sh_median_s']:.2f} s median of {len(f['start_sh_s'])} "
                 f"({_span(f['start_sh_s'], '')}); `.venv/bin/digitlab` directly "
                 f"{f['direct_median_s']:.2f} s ({_span(f['direct_s'], '')})", command]]
    if r.get("benchmark") == "packaged_startup":
        return [["window usable after start (packaged build)",
                 f"{_span(f['in_process_s'])} in-process; {_span(f['process_wall_s'])} process "
                 "wall", command]]
    return []


TABLES = [
    Table("draw_latency", _one("draw_latency", lambda r: [
        r["figures"].get("model", "?"), f"{r['figures']['preprocess_p50_ms']:.3f} ms",
        f"{r['figures']['total_p50_ms']:.3f} ms", f"{r['figures']['total_p99_ms']:.3f} ms",
        "met" if r["figures"]["total_p50_ms"] < 1 else "missed"]),
        ["model", "preprocessing p50", "end to end p50", "end to end p99", "target p50 < 1 ms"]),
    Table("frontier", _one("frontier", lambda r: [
        _model(r), _nums(s["final"] for s in r["figures"]["per_seed"]),
        _pct(r["figures"]["mean"]), _pct(r["figures"]["min"]), _pct(r["figures"]["max"]),
        _pct(r["figures"]["min_last3"]), _frontier_time(r)],
        when=lambda r: r["figures"].get("split", "test") == "test"),
        ["model", "final accuracy per seed", "mean", "min", "max", "lowest of last 3",
         "all epochs"]),
    Table("frontier_validation", _one("frontier", lambda r: [
        str(r["figures"]["model"]), _overrides(r["figures"].get("overrides", {})),
        _nums(s["final"] for s in r["figures"]["per_seed"]), _pct(r["figures"]["mean"]),
        f"{r['figures']['mean_final_loss']:.4f}"],
        when=lambda r: r["figures"].get("split") == "validation"),
        ["model", "changes to its recipe", "final validation accuracy per seed", "mean",
         "mean final loss"]),
    Table("recipe_validation", _one("recipe_validation", lambda r: [
        r["note"], _nums(r["figures"]["val_last3"]), _nums(r["figures"]["test_last3"])]),
        ["variant", "val, last 3 epochs", "test, last 3 epochs"]),
    Table("writeup_recipe", _one("writeup_recipe", lambda r: [
        _model(r), f"{r['figures']['params']:,}", r["figures"]["claim"],
        _pct(r["figures"]["final"]), _pct(r["figures"]["best"]), _nums(r["figures"]["last3"]),
        r["figures"]["epoch_s"]]),
        ["model", "params", "write-up's claim", "DigitLab final", "best", "last 3 epochs",
         "s/epoch"]),
    Table("epoch", _one("epoch", lambda r: [
        r["figures"]["model"], f"{r['figures']['baseline']['seconds']:.1f} s",
        f"{r['figures']['digitlab']['seconds']:.1f} s", _epoch_note(r),
        f"{r['figures']['speedup']:.2f}×",
        f"{r['figures']['digitlab']['peak_rss_mb']:,.0f} MB / "
        f"{r['figures']['baseline']['peak_rss_mb']:,.0f} MB"]),
        ["model", "baseline", "DigitLab", "what DigitLab did", "speed-up",
         "peak memory (DigitLab / baseline)"]),
    Table("desktop", _gui_rows, ["what", "figure", "command"]),
    Table("build", _one("build", lambda r: [
        r["figures"]["torch_wheel"], f"{r['figures']['build_s']:.0f} s",
        r["figures"]["folder_size"], r["figures"]["largest_parts"], r["figures"]["self_test"]]),
        ["torch wheel", "build time", "folder size", "largest parts", "self-test"]),
    Table("budget_recipe", _one("budget_recipe", lambda r: _budget_recipe_row(r["figures"])),
        ["recipe", "length", "validation per seed", "mean", "mean loss",
         "test per seed (recorded only)"]),
    Table("time_to_accuracy", lambda r: _time_to_accuracy_rows(r), [
        "budget", "DigitLab test accuracy per seed", "process wall time per seed",
        "what each run did (compile, CPU threads)", "target", "eager loop's accuracy by then",
        "command"]),
    Table("startup", _one("startup", lambda r: [_startup_spans(r["figures"]["runs"][-1]),
                                                 f"`{r['command']}`"]),
        ["where a `train --epochs 1` process spends its time (last run)", "command"]),
    Table("gpu_check", _one("gpu_check", lambda r: [
        f"{r['figures']['env'].get('gpu', '?')}", _pct(r["figures"]["mean_test_acc"]),
        f"{r['figures']['mean_wall_s']:.2f} s (max {r['figures']['max_wall_s']:.2f} s)",
        f"{r['figures']['mean_compile_s']:.1f} s (first {r['figures']['first_compile_s']:.1f} s)",
        _seconds(r["figures"].get("mean_time_to_99.0")),
        _seconds(r["figures"].get("mean_time_to_99.4"))]),
        ["GPU", "5-seed mean", "15 epochs, warm", "compile", "to 99.0%", "to 99.4%"]),
]


def _seconds(x: float | None) -> str:
    return "not reached" if x is None else f"{x:.2f} s"


def _startup_spans(run: dict[str, Any]) -> str:
    names = {"startup_s": "start-up", "data_and_model_s": "data + model",
             "compile_s": "compile", "epoch_s": "epoch", "exit_s": "exit", "total_s": "total"}
    return ", ".join(f"{label} {run[key]:.1f} s" for key, label in names.items() if key in run)


def _budget_recipe_row(f: dict[str, Any]) -> list[str]:
    """A recipe compared after a fixed step count (`--steps`: per_seed) or in real time-budget
    processes (`--seconds`: runs, their step counts as the clock gave them)."""
    recipe = f"{f['model']}: {f.get('note') or _overrides(f['overrides'])}"
    if "seconds" in f:
        runs = f["runs"]
        steps = ", ".join(f"{r['steps']:,}" for r in runs)
        return [recipe, f"{f['seconds']:g} s budget ({steps} steps)",
                _nums(r["val_acc"] for r in runs), _pct(f["mean_val_acc"]), "–",
                _nums(r["test_acc"] for r in runs)]
    return [recipe, f"{f['steps']:,} steps ({f['epochs']:.2f} epochs)",
            _nums(s["val_acc"] for s in f["per_seed"]), _pct(f["mean_val_acc"]),
            f"{f['mean_val_loss']:.4f}", _nums(s["test_acc"] for s in f["per_seed"])]


def _budget_run_did(d: dict[str, Any]) -> str:
    """What one budget run did about compiling and threads, in a few words (older records
    without these figures: "–")."""
    said = str(d.get("compile", ""))
    if not said:
        return "–"
    step = d.get("compiled_from_step", -1)
    did = ("compiled first" if step == 0 else
           f"eager, compiled from step {step:,}" if step and step > 0 else "eager")
    if d.get("compile_s"):
        did += f" ({d['compile_s']:.1f} s compiling)"
    if d.get("cache_at_start") == "empty":
        did = f"empty cache: {did}"
    if d.get("precision") == "bf16":
        did += ", bf16"
    if d.get("threads"):
        did += f", {d['threads']} thr"
    if d.get("verdict"):
        did += ", far from trained"
    return did


def _time_to_accuracy_rows(r: Record) -> list[list[str]]:
    if r.get("benchmark") != "time_to_accuracy":
        return []
    f, rows = r["figures"], []
    for budget, s in f["summary"].items():
        runs = [d for d in f["digitlab"] if f"{d['budget_s']:g}" == budget]
        target = f"≥ {s['target']}%: {'met' if s['met'] else 'NOT met'}" if s["target"] else "–"
        eager = ", ".join("no epoch done" if a is None else _pct(a) for a in s["baseline_accs"])
        subset = f" ({f['train_subset']:,} training images)" if f.get("train_subset") else ""
        rows.append([f"{budget} s{subset}", _nums(d["test_acc"] for d in runs),
                     ", ".join(f"{d['wall_s']:.1f} s" for d in runs),
                     "; ".join(_budget_run_did(d) for d in runs), target, eager or "–",
                     f"`{r['command']}`"])
    return rows


def render_named(name: str, records: Path) -> str:
    """Table `name` as `records` make it (benchmarks' --smoke modes print it)."""
    table = next(t for t in TABLES if t.name == name)
    return render(table, read_records(records), _zoo())


def _cell(text: str) -> str:
    return " ".join(str(text).replace("|", "\\|").split())


def render(table: Table, records: list[Record], zoo: dict[str, dict[str, Any]]) -> str:
    header = ["date", "machine", *table.header, "code"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in records:
        for row in table.rows(r):
            reason = history_reason(r, zoo)
            cells = [r.get("date", "?"), _machine(r), *row, _trace(r, reason)]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if len(lines) == 2:
        lines.append("| " + " | ".join(["no records yet", *[""] * (len(header) - 1)]) + " |")
    return "\n".join(lines)


def update(text: str, records: list[Record], zoo: dict[str, dict[str, Any]]) -> str:
    """`text` with every marked table rewritten; a table whose markers are missing is skipped."""
    for table in TABLES:
        start = f"<!-- results-table: {table.name} -->"
        end = f"<!-- /results-table: {table.name} -->"
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), flags=re.DOTALL)
        body = f"{start}\n{render(table, records, zoo)}\n{end}"
        text = pattern.sub(lambda _, body=body: body, text)  # a function: no escapes in body
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only say whether RESULTS.md matches the records (exit 1 if not)")
    parser.add_argument("--records", type=Path, default=RECORDS)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    old = args.results.read_text(encoding="utf-8")
    new = update(old, read_records(args.records), _zoo())
    if args.check:
        if new != old:
            print(f"{args.results} is out of date: run python scripts/results_tables.py",
                  file=sys.stderr)
            return 1
        return 0
    if new != old:
        args.results.write_text(new, encoding="utf-8")
        print(f"Rewrote the tables of {args.results}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
