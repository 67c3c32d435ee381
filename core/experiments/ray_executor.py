"""The Ray executor: trials as Ray Tune trials, on this machine or a cluster (`digitlab[cluster]`).

Each trial runs `core.experiments.trial.run_trial` on a worker, in a scratch run store there.
After every epoch the worker ships its run folder (record, steps, checkpoints) as bytes to a small
actor on the driver's machine, which writes it into the local run store: workers need no disk
shared with the driver, and every finished epoch is home before Tune hears of it, so a worker
that dies loses at most the epoch it was in. Tune then retries the trial (`max_failures`), and
the retry resumes from the last epoch that came home; a trial that keeps failing is recorded as
failed (its run resumes on the next `experiment run`). With ASHA, trials whose objective trails
their rung stop early: their runs are kept, marked stopped ("early-stopped by ASHA ...").

Same seed, same numbers: a trial gets `cpus_per_trial` CPUs and as many torch threads, and gives
the figures the local executor gives it with that many threads (tests/core/experiments).
Nothing here imports ray until an executor runs: the packaged app never needs it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.experiments.spec import AshaSpec
from core.experiments.storage import EARLY_STOPPED
from core.experiments.trial import (
    ExperimentReporter,
    TrialOutcome,
    TrialTask,
    one_line,
    pack_run,
    run_trial,
    unpack_run,
)
from core.runs.store import RunStore
from core.training.control import TrainControl
from core.training.metrics import EpochMetrics

LOCAL = "local"  # --ray local[:N]: a private Ray instance on this machine (N CPUs)
CONNECT_DEADLINE_S = 10.0  # how long a cluster's address may take to answer
MAX_CPUS_PER_TRIAL = 256
MAX_FAILURES = 100


def check_reachable(address: str, deadline_s: float = CONNECT_DEADLINE_S) -> None:
    """ConfigError at once when nothing listens at a HOST:PORT (or ray://HOST:PORT) address.

    Ray keeps retrying an address nobody answers at (3 minutes and more of its own warnings);
    one plain TCP connection with a deadline says so first. "auto" is left to Ray: it reads
    the address of the cluster `ray start` left on this machine, and fails fast without one.
    """
    target = address.removeprefix("ray://")
    host, sep, port_text = target.rpartition(":")
    if address == "auto" or not sep:
        return
    host = host.strip("[]")  # an IPv6 address in brackets
    if not port_text.isdigit() or not 0 < int(port_text) < 65536 or not host:
        raise ConfigError(f"--ray '{address}' is not an address: give HOST:PORT (Ray's head "
                          f"node, port 6379 unless changed), auto, or local[:CPUS].")
    try:
        with socket.create_connection((host, int(port_text)), timeout=deadline_s):
            pass
    except OSError as e:
        reason = "no answer" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise ConfigError(f"Nothing answers at {host}:{port_text} (waited up to "
                          f"{deadline_s:g} s for Ray's head node: {reason}). Start the cluster "
                          f"with `ray start --head` there, check the address and port, or use "
                          f"--ray local.") from None


def import_ray() -> Any:
    try:
        import ray
        from ray import tune  # noqa: F401  (Tune is part of the extra)
    except ImportError:
        raise ConfigError("Running on Ray needs the cluster extra: pip install "
                          "'digitlab[cluster]' (Ray Tune), on this machine and on every "
                          "worker.") from None
    return ray


class RayExecutor:
    def __init__(self, store: RunStore | None = None, address: str = "auto",
                 cpus_per_trial: int = 1, max_failures: int = 1,
                 asha: AshaSpec | None = None, objective: str = "val_acc") -> None:
        self.store = store or RunStore()
        if not 1 <= cpus_per_trial <= MAX_CPUS_PER_TRIAL:
            raise ConfigError(f"--cpus-per-trial {cpus_per_trial} is out of range: 1 to "
                              f"{MAX_CPUS_PER_TRIAL}.")
        if not 0 <= max_failures <= MAX_FAILURES:
            raise ConfigError(f"--max-failures {max_failures} is out of range: 0 to "
                              f"{MAX_FAILURES} retries of a trial whose worker dies.")
        self.address, self.cpus_per_trial = address, cpus_per_trial
        self.max_failures, self.asha, self.objective = max_failures, asha, objective
        self.name = f"Ray ({address})"
        self._started_ray = False

    # --- connection ----------------------------------------------------------------------------

    def connect(self) -> Any:
        """Join the cluster (or start the private local instance) once; returns the ray module."""
        ray = import_ray()
        if ray.is_initialized():
            return ray
        env_vars: dict[str, str] = {}
        if self.address.startswith(LOCAL):
            cpus = self.address.partition(":")[2]
            if os.environ.get("DIGITLAB_DATA"):  # the same machine: the same MNIST folder
                env_vars["DIGITLAB_DATA"] = os.environ["DIGITLAB_DATA"]
            ray.init(num_cpus=int(cpus) if cpus.isdigit() else None, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR,
                     runtime_env={"env_vars": env_vars})
        else:
            # Workers on other machines get this DigitLab's `core` package with each job, so
            # driver and workers run the same code; they need torch installed and MNIST (their
            # DIGITLAB_DATA, or they fetch it).
            import core

            check_reachable(self.address)  # Ray itself retries a dead address for minutes
            try:
                ray.init(address=self.address, log_to_driver=False,
                         logging_level=logging.ERROR,
                         runtime_env={"py_modules": [str(Path(core.__file__).parent)],
                                      "env_vars": env_vars})
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ConfigError(f"Cannot reach a Ray cluster at '{self.address}' ({one_line(e)})."
                                  f" Start one with `ray start --head`, or use --ray local.") \
                    from None
        self._started_ray = True
        return ray

    def close(self) -> None:
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False

    @property
    def slots(self) -> int:
        ray = self.connect()
        return max(1, int(ray.cluster_resources().get("CPU", 1)) // self.cpus_per_trial)

    # --- running -------------------------------------------------------------------------------

    def run(self, tasks: list[TrialTask], reporter: ExperimentReporter,
            control: TrainControl) -> list[TrialOutcome]:
        from dataclasses import replace

        from ray import tune
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = self.connect()
        tasks = [replace(t, threads=self.cpus_per_trial, executor=self.name) for t in tasks]
        here = ray.get_runtime_context().get_node_id()
        exchange = ray.remote(num_cpus=0)(_RunExchange).options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)
        ).remote(str(self.store.root), {t.key: t.resume_run_id for t in tasks})
        scheduler = None
        if self.asha is not None:
            from ray.tune.schedulers import ASHAScheduler

            scheduler = ASHAScheduler(
                time_attr="epoch", metric=self.objective,
                mode="max" if self.objective == "val_acc" else "min",
                max_t=max(int(t.config["epochs"]) for t in tasks),
                grace_period=self.asha.grace_period,
                reduction_factor=self.asha.reduction_factor,
                # A trial at its last epoch finishes by itself (its final run folder must still
                # come home); ASHA's own stop there would cut that off.
                stop_last_trials=False)
        token, stopper, progress = _tune_callbacks(control, reporter)
        trainable = tune.with_resources(tune.with_parameters(_trainable, exchange=exchange),
                                        {"cpu": self.cpus_per_trial})
        with tempfile.TemporaryDirectory(prefix="digitlab-tune-") as tune_dir:
            tuner = tune.Tuner(
                trainable,
                param_space={"task": tune.grid_search([t.to_dict() for t in tasks])},
                tune_config=tune.TuneConfig(scheduler=scheduler, reuse_actors=False),
                run_config=tune.RunConfig(
                    name="trials", storage_path=tune_dir, verbose=0,
                    failure_config=tune.FailureConfig(max_failures=self.max_failures),
                    stop=stopper, callbacks=[progress]))
            try:
                with _tune_environment():
                    grid = tuner.fit()
            finally:
                _DRIVER_HOOKS.pop(token, None)
            outcomes = [self._outcome(result, exchange, control) for result in grid]
        reported = _REPORTED.pop(token, set())
        for outcome in outcomes:
            if outcome.key not in reported:  # failed, stopped early or stopped on request
                reporter.trial_finished(outcome)
        ray.kill(exchange)
        return outcomes

    def _outcome(self, result: Any, exchange: Any, control: TrainControl) -> TrialOutcome:
        """What became of one Tune trial, with its local run marked accordingly."""
        import ray

        task = TrialTask.from_dict(result.config["task"])
        metrics = result.metrics or {}
        run_id = str(metrics.get("run_id") or ray.get(exchange.latest.remote(task.key)) or "")
        planned = int(task.config.get("epochs", 0))
        if metrics.get("finished") and result.error is None:
            status, error = str(metrics["status"]), str(metrics.get("error", ""))
        elif result.error is None and run_id and \
                self.store.get(run_id).record.epochs_done >= planned > 0:
            status, error = "completed", ""  # stopped by Tune after its last epoch came home
        elif result.error is not None:
            status, error = "failed", f"its Ray worker failed ({one_line(result.error)})"
        elif control.stop_requested:
            status, error = "stopped", "stopped on request"
        else:
            status = EARLY_STOPPED
            error = (f"{EARLY_STOPPED} by ASHA after epoch {metrics.get('epoch', '?')}: its "
                     f"{self.objective} trailed its rung")
        if run_id:
            run = self.store.get(run_id)
            if status != run.record.status:
                run.mark("stopped" if status == EARLY_STOPPED else status, error)
            history = run.record.history
        else:  # it never got to train: leave a failed run saying why
            from core.experiments.trial import _TaggedStore

            tagged = _TaggedStore(self.store.root, task.tag(), {"executor": self.name})
            run = tagged.create(dict(task.config), name=task.run_name)
            run.mark("failed", error or "it ended before its first epoch")
            run_id, history, status = run.id, [], "failed"
        return TrialOutcome(task.key, run_id, status, error, len(history), history)


# Read by Tune in this (driver) process, so set here, only while Tune runs:
# - a trial that fails before its first epoch reports no objective; Tune's strict check would
#   turn that into an error of the whole experiment instead of one failed trial;
# - Tune's own console tables: the experiment's reporter prints the progress that matters.
_TUNE_ENV = {"TUNE_DISABLE_STRICT_METRIC_CHECKING": "1", "RAY_AIR_NEW_OUTPUT": "0"}


@contextlib.contextmanager
def _tune_environment():  # type: ignore[no-untyped-def]
    old = {key: os.environ.get(key) for key in _TUNE_ENV}
    os.environ.update(_TUNE_ENV)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _RunExchange:
    """Lives on the driver's machine: takes shipped run folders into the local store, and hands
    a trial's latest run folder to a worker that resumes it."""

    def __init__(self, store_root: str, resume_ids: dict[str, str]) -> None:
        self.store = RunStore(Path(store_root))
        self.runs = {key: run_id for key, run_id in resume_ids.items() if run_id}

    def deliver(self, key: str, files: dict[str, bytes]) -> str:
        run_id = unpack_run(files, self.store)
        self.runs[key] = run_id
        return run_id

    def latest(self, key: str) -> str:
        return self.runs.get(key, "")

    def files(self, key: str) -> dict[str, bytes]:
        run_id = self.runs.get(key)
        return pack_run(self.store.root / run_id) if run_id else {}


class _ShippingReporter(ExperimentReporter):
    """On the worker: after each epoch, ship the run home, then tell Tune (ASHA decides on it)."""

    def __init__(self, exchange: Any, store: RunStore, key: str) -> None:
        self.exchange, self.store, self.key = exchange, store, key
        self.run_id = ""  # in the scratch store
        self.home_id = ""  # in the driver's store

    def trial_started(self, key: str, info: Any) -> None:
        self.run_id = info.run_id

    def trial_epoch(self, key: str, metrics: EpochMetrics) -> None:
        from ray import tune

        self.ship()
        tune.report({**_flat(metrics), "finished": False, "run_id": self.home_id})

    def ship(self) -> None:
        import ray

        if self.run_id:
            files = pack_run(self.store.root / self.run_id)
            self.home_id = ray.get(self.exchange.deliver.remote(self.key, files))


def _flat(metrics: EpochMetrics) -> dict[str, Any]:
    data = {k: v for k, v in metrics.to_dict().items() if v is not None}
    data["epoch_json"] = json.dumps(metrics.to_dict())
    return data


def _trainable(config: dict[str, Any], exchange: Any) -> None:
    """One Tune trial, on a worker."""
    import ray
    from ray import tune

    task = TrialTask.from_dict(config["task"])
    with tempfile.TemporaryDirectory(prefix="digitlab-trial-") as scratch:
        store = RunStore(Path(scratch) / "runs")
        # A retry (or a resumed trial) continues from the last epoch that reached home.
        files = ray.get(exchange.files.remote(task.key))
        if files:
            from dataclasses import replace

            task = replace(task, resume_run_id=unpack_run(files, store))
        if task.config.get("data_dir") and not Path(task.config["data_dir"]).is_dir():
            task = replace_config(task, data_dir="")  # the driver's folder is not here
        reporter = _ShippingReporter(exchange, store, task.key)
        outcome = run_trial(task, store, reporter, TrainControl())
        reporter.run_id = outcome.run_id or reporter.run_id
        reporter.ship()
        last = EpochMetrics.from_dict(outcome.history[-1]) if outcome.history else None
        tune.report({**(_flat(last) if last else {}), "finished": True,
                     "status": outcome.status, "error": outcome.error,
                     "run_id": reporter.home_id})


def replace_config(task: TrialTask, **changes: Any) -> TrialTask:
    from dataclasses import replace

    return replace(task, config={**task.config, **changes})


# Tune pickles its run configuration (stopper and callbacks included) to save the experiment's
# state; a TrainControl and a reporter hold locks and cannot be pickled. The stopper and callback
# carry a token instead and find them here, in the driver process where Tune calls them.
_DRIVER_HOOKS: dict[str, tuple[TrainControl, ExperimentReporter]] = {}
_REPORTED: dict[str, set[str]] = {}  # token → trial keys whose end was already reported


def _driver_hooks(token: str) -> tuple[TrainControl, ExperimentReporter]:
    return _DRIVER_HOOKS.get(token) or (TrainControl(), ExperimentReporter())


def _tune_callbacks(control: TrainControl,
                    reporter: ExperimentReporter) -> tuple[str, Any, Any]:
    """A Tune stopper that ends every trial once the experiment is asked to stop, and a callback
    that forwards per-epoch results to the experiment's reporter (both run in the driver)."""
    import secrets

    from ray import tune

    token = secrets.token_hex(8)
    _DRIVER_HOOKS[token] = (control, reporter)

    class StopWhenAsked(tune.Stopper):  # type: ignore[misc]
        def __init__(self) -> None:
            self.token = token

        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            return _driver_hooks(self.token)[0].stop_requested

        def stop_all(self) -> bool:
            return _driver_hooks(self.token)[0].stop_requested

    class Progress(tune.Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.token = token

        def on_trial_start(self, iteration: int, trials: list[Any], trial: Any,
                           **info: Any) -> None:
            _driver_hooks(self.token)[1].status(f"{trial.config['task']['key']}: started on Ray")

        def on_trial_result(self, iteration: int, trials: list[Any], trial: Any,
                            result: dict[str, Any], **info: Any) -> None:
            key, reporter = trial.config["task"]["key"], _driver_hooks(self.token)[1]
            if result.get("finished"):  # heard as it happens; the rest after Tune ends
                _REPORTED.setdefault(self.token, set()).add(key)
                reporter.trial_finished(TrialOutcome(
                    key, str(result.get("run_id", "")), str(result.get("status", "")),
                    str(result.get("error", "")), int(result.get("epoch", 0) or 0),
                    [json.loads(result["epoch_json"])] if "epoch_json" in result else []))
            elif "epoch_json" in result:
                metrics = EpochMetrics.from_dict(json.loads(result["epoch_json"]))
                reporter.trial_epoch(key, metrics)

        def on_trial_recover(self, iteration: int, trials: list[Any], trial: Any,
                             **info: Any) -> None:
            _driver_hooks(self.token)[1].status(
                f"{trial.config['task']['key']}: its worker failed; retrying from its last "
                f"epoch that reached home")

    return token, StopWhenAsked(), Progress()
