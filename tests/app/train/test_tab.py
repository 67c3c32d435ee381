"""The Train tab end to end on real MNIST subsets: start, curves, stop, pause, close, errors.

Every test trains for real (tiny subsets on the CPU, seconds each) through the tab's buttons.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt

import app.train.tab
from app.shared.jobs import live_job_threads
from app.train.tab import TrainTab
from core.errors import DatasetError
from core.runs.store import RunStore
from core.training.config import steps_per_epoch
from core.training.control import TrainControl
from tests.support.stall_meter import StallMeter

REPO = Path(__file__).resolve().parents[3]
QUICK = dict(model="dl-tiny-1k", device="cpu", epochs=1, batch_size=64, train_subset=1024,
             test_subset=500)


@pytest.fixture
def tab(qtbot, mnist_dir: Path):
    widget = TrainTab()
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()  # joins every thread the tab started


def configure(tab: TrainTab, **values: object) -> None:
    """Set form fields the way a user would (model first: choosing it applies its recipe)."""
    values = {**QUICK, **values}
    box = tab.form.model_box
    box.setCurrentIndex(box.findData(values.pop("model")))
    tab.form.set_values(values)


def wait_idle(qtbot, tab: TrainTab, timeout: int = 90_000) -> None:
    qtbot.waitUntil(lambda: not tab.is_training and tab.start_button.isEnabled(), timeout=timeout)


def test_importing_and_building_the_tab_does_not_import_torch() -> None:
    code = ("import sys\n"
            "from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "import app.train.tab, app.shared.jobs, app.train.results_view, app.train.preview\n"
            "from app.train.tab import TrainTab\n"
            "tab = TrainTab()\n"
            "assert tab.form.model_box.count() > 10\n"
            "print('torch' in sys.modules)\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_one_epoch_run_fills_curves_store_and_results(qtbot, tab: TrainTab) -> None:
    configure(tab)
    with qtbot.waitSignal(tab.run_finished, timeout=90_000) as finished:
        qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
        assert tab.is_training and not tab.form.isEnabled()
    run_id = finished.args[0]
    wait_idle(qtbot, tab)
    x, _ = tab.plots.loss_curve.getData()
    assert x is not None and len(x) >= 1 and len(tab.plots.lr_curve.getData()[0]) >= 1
    assert len(tab.plots.test_acc_curve.getData()[1]) == 1
    records = RunStore().list()
    assert [r.id for r in records] == [run_id] and records[0].status == "completed"
    # The results view evaluates the best checkpoint in a worker and shows the matrix.
    qtbot.waitUntil(lambda: tab.results.results is not None, timeout=60_000)
    confusion = tab.results.matrix.confusion
    assert confusion.shape == (10, 10) and confusion.sum() == 500
    assert tab.results.gallery.count() == min(120, tab.results.results.n_wrong)
    assert tab.pages.currentWidget() is tab.results


def test_try_in_draw_exports_then_emits_the_path(qtbot, tab: TrainTab) -> None:
    pytest.importorskip("onnxruntime")
    configure(tab, train_subset=256, test_subset=100)
    tab.start()
    wait_idle(qtbot, tab)
    qtbot.waitUntil(lambda: tab.results.try_button.isEnabled(), timeout=60_000)
    with qtbot.waitSignal(tab.try_in_draw, timeout=120_000) as emitted:
        qtbot.mouseClick(tab.results.try_button, Qt.MouseButton.LeftButton)
    path = Path(emitted.args[0])
    assert path.suffix == ".onnx" and path.is_file()
    assert path.parent == Path(os.environ["DIGITLAB_HOME"]) / "exports"


# For what takes a second on an idle machine but may wait on an epoch's evaluation (and its first
# torch.compile) on a loaded one: a deadline that only a hang misses. Speed is the benchmarks'.
DEADLINE_MS = 180_000


class WatchedControl(TrainControl):
    """The tab's real pause/stop control, counting what the trainer asks of it: it calls
    `wait_while_paused` once before every batch (core/training/loop.py)."""

    made: ClassVar[list[WatchedControl]] = []

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0  # batch checks so far: one before each batch
        self.checks_after_stop = 0  # batch checks made once Stop was asked
        self.blocked = threading.Event()  # the trainer sits in a pause right now
        WatchedControl.made.append(self)

    def wait_while_paused(self) -> float:
        self.batches += 1
        if self.stop_requested:
            self.checks_after_stop += 1
        if self.paused:
            self.blocked.set()
        try:
            return super().wait_while_paused()
        finally:
            self.blocked.clear()


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> list[WatchedControl]:
    WatchedControl.made = []
    monkeypatch.setattr(app.train.tab, "TrainControl", WatchedControl)
    return WatchedControl.made


def test_stop_ends_the_run_between_batches_and_returns_to_idle(qtbot, tab: TrainTab,
                                                               watched) -> None:
    """Behaviour, not speed (benchmarks time things): after Stop the trainer begins no other
    batch, the run is saved as stopped, the tab goes idle."""
    configure(tab, epochs=20, train_subset=4096)
    config = tab.form.config()
    tab.start_stop_action.trigger()  # Ctrl+Return
    qtbot.waitUntil(lambda: tab.plots.loss.n >= 2, timeout=60_000)
    (control,) = watched
    qtbot.mouseClick(tab.stop_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, tab, timeout=DEADLINE_MS)
    # The check that saw the stop was the last one: no batch began after it.
    assert control.checks_after_stop == 1, control.checks_after_stop
    assert tab.start_stop_action.text() == "Start training"
    (record,) = RunStore().list()
    spe = steps_per_epoch(config.train_subset - config.val_split, config.batch_size)
    assert record.status == "stopped" and record.epochs_done < 20
    assert control.batches <= (record.epochs_done + 1) * spe  # it never finished that epoch


def test_pause_halts_the_steps_until_resume(qtbot, tab: TrainTab, watched) -> None:
    configure(tab, epochs=2, train_subset=2048)
    config = tab.form.config()
    tab.start()
    qtbot.waitUntil(lambda: tab.plots.loss.n >= 2, timeout=60_000)
    (control,) = watched
    qtbot.mouseClick(tab.pause_button, Qt.MouseButton.LeftButton)
    assert tab.pause_button.text() == "Resume" and tab.pause_action.text() == "Resume training"
    # The trainer reaches its next batch check and waits there (it fails here if it never does).
    qtbot.waitUntil(control.blocked.is_set, timeout=DEADLINE_MS)
    qtbot.wait(100)  # delivers the steps it reported before it stopped
    batches, step = control.batches, tab.progress.step
    qtbot.wait(500)  # nothing more comes: no batch, no step on screen
    assert control.blocked.is_set() and control.batches == batches
    assert tab.progress.step == step and tab.is_training
    tab.pause_action.trigger()  # Ctrl+P resumes
    assert tab.pause_button.text() == "Pause"
    qtbot.waitUntil(lambda: control.batches > batches, timeout=DEADLINE_MS)  # steps again
    wait_idle(qtbot, tab, timeout=DEADLINE_MS)
    assert tab.progress.step == 0  # back to idle…
    assert RunStore().list()[0].status == "completed"  # …after finishing every step
    spe = steps_per_epoch(config.train_subset - config.val_split, config.batch_size)
    assert control.batches == 2 * spe  # every batch of both epochs, none skipped or twice


def test_shutdown_mid_training_joins_the_thread(qtbot, tab: TrainTab) -> None:
    configure(tab, epochs=20, train_subset=4096)
    tab.start()
    qtbot.waitUntil(lambda: tab.plots.loss.n >= 1, timeout=60_000)
    assert tab.training.busy
    assert tab.shutdown(timeout=30.0) is True
    assert not tab.training.busy and not tab.is_training and not live_job_threads()
    assert RunStore().list()[0].status == "stopped"


def test_worker_error_shows_a_dialog_and_returns_to_idle(
        qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.data.mnist

    def no_network(folder, progress=None, should_stop=None):
        raise DatasetError("Could not download train-images-idx3-ubyte.gz (no network?).")

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("DIGITLAB_DATA", str(empty))
    monkeypatch.setattr(core.data.mnist, "fetch_mnist", no_network)
    widget = TrainTab()
    qtbot.addWidget(widget)
    try:
        assert not widget.banner.isHidden()  # it offers to fetch or choose a folder
        configure(widget)
        widget.start()
        qtbot.waitUntil(lambda: widget.error_box is not None, timeout=60_000)
        assert "no network" in widget.error_box.text()
        assert widget.error_box.windowTitle() == "Training failed"
        wait_idle(qtbot, widget, timeout=5000)
        assert RunStore().list()[0].status == "failed"
        widget.error_box.close()
    finally:
        widget.shutdown()


def test_a_chosen_mnist_folder_is_remembered_and_trained_on(
        qtbot, tmp_path: Path, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    monkeypatch.setenv("DIGITLAB_DATA", str(empty))
    first = TrainTab()
    qtbot.addWidget(first)
    assert not first.banner.isHidden()
    assert not first.banner.use_folder(str(empty))  # refused, with the reason shown
    assert first.banner.use_folder(str(mnist_dir))
    assert first.banner.isHidden()
    first.shutdown()
    tab = TrainTab()  # a later session: the folder comes back from QSettings
    qtbot.addWidget(tab)
    try:
        assert tab.banner.isHidden() and tab.banner.data_dir == str(mnist_dir)
        configure(tab, train_subset=256, test_subset=100)
        tab.start()
        wait_idle(qtbot, tab)
        record = RunStore().list()[0]
        assert record.status == "completed" and record.config["data_dir"] == str(mnist_dir)
    finally:
        tab.shutdown()


def test_unexpected_error_shows_details_and_marks_the_run_failed(
        qtbot, tab: TrainTab, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.training.loop

    def broken_evaluate(*args, **kwargs):
        raise RuntimeError("simulated bug in evaluation")

    monkeypatch.setattr(core.training.loop, "evaluate", broken_evaluate)
    configure(tab, train_subset=256)
    tab.start()
    qtbot.waitUntil(lambda: tab.error_box is not None, timeout=60_000)
    wait_idle(qtbot, tab, timeout=5000)
    box = tab.error_box
    assert box.text().startswith("Unexpected error: RuntimeError: simulated bug")
    assert "broken_evaluate" in box.detailedText()  # the traceback, for a bug report
    assert RunStore().list()[0].status == "failed"


def test_resume_of_a_stopped_run_finishes_it(qtbot, tab: TrainTab) -> None:
    configure(tab, epochs=2, train_subset=512, test_subset=200)
    tab.start()
    qtbot.waitUntil(lambda: tab.plots.test_acc.n >= 1, timeout=60_000)
    tab.stop()
    wait_idle(qtbot, tab)
    record = RunStore().list()[0]
    if record.status == "completed":
        pytest.skip("the second epoch finished before the stop arrived")
    assert record.status == "stopped" and record.epochs_done == 1
    with qtbot.waitSignal(tab.run_finished, timeout=90_000):
        tab.resume_run(record.id)
    wait_idle(qtbot, tab)
    record = RunStore().list()[0]
    assert record.status == "completed" and record.epochs_done == 2
    assert tab.plots.test_acc.n == 2  # the first epoch replayed from the store, then the second


def test_form_choices_persist_and_models_apply_their_recipe(qtbot, tab: TrainTab) -> None:
    box = tab.form.model_box
    box.setCurrentIndex(box.findData("eva5-s4"))
    assert tab.form.writeup_recipe.isEnabled() and tab.form.writeup_recipe.isChecked()
    config = tab.form.config()
    assert (config.epochs, config.schedule, config.step_size) == (19, "step", 9)
    tab.form.writeup_recipe.setChecked(False)  # DigitLab's defaults instead
    assert (tab.form.config().epochs, tab.form.config().schedule) == (15, "onecycle")
    tab.form.writeup_recipe.setChecked(True)
    tab.form.set_values({"seed": 42, "augment": 0.5})
    tab.form.save(tab.settings)
    again = TrainTab()
    qtbot.addWidget(again)
    restored = again.form.config()
    assert (restored.model, restored.seed, restored.augment, restored.epochs) == (
        "eva5-s4", 42, 0.5, 19)
    again.shutdown()


def test_jitter_fields_are_off_while_augmentation_is_off(qtbot, tab: TrainTab) -> None:
    box = tab.form.model_box
    box.setCurrentIndex(box.findData("dl-dilated-1k"))  # its recipe: no augmentation
    stroke, aspect = (tab.form._fields[k][0] for k in ("augment_stroke", "augment_aspect"))
    assert tab.form.config().augment == 0 and not stroke.isEnabled() and not aspect.isEnabled()
    box.setCurrentIndex(box.findData("dl-dilated-4k"))
    assert tab.form.config().augment > 0 and stroke.isEnabled() and aspect.isEnabled()
    tab.form.set_values({"augment": 0.0})
    assert not stroke.isEnabled()


def test_each_device_kind_shows_its_fast_recipe(qtbot, tab: TrainTab) -> None:
    from core.training.devices import DeviceInfo

    box = tab.form.model_box
    box.setCurrentIndex(box.findData("dl-flagship-8k"))
    cpu = tab.form.config()
    assert (cpu.batch_size, cpu.compile) == (128, True)
    tab.form.set_devices([DeviceInfo("cuda:0", "NVIDIA H100 (cuda:0)"), DeviceInfo("cpu", "CPU")])
    cuda = tab.form.config()  # "Fastest" is the GPU: larger batches, learning rate × 2
    assert (cuda.device, cuda.batch_size, cuda.lr) == ("auto", 512, pytest.approx(2 * cpu.lr))
    tab.form.device_box.setCurrentIndex(tab.form.device_box.findData("cpu"))
    assert tab.form.config().batch_size == 128
    tab.form.set_values({"batch_size": 256})  # the user's own choice stays on the same kind
    tab.form.device_box.setCurrentIndex(tab.form.device_box.findData("cpu"))
    assert tab.form.config().batch_size == 256


def test_lr_preview_follows_the_form(qtbot, tab: TrainTab) -> None:
    tab.form.set_values({"schedule": "constant", "lr": 0.02})
    qtbot.waitUntil(lambda: max(tab.lr_preview.curve.getData()[1]) == pytest.approx(0.02),
                    timeout=3000)
    tab.form.set_values({"schedule": "onecycle", "lr": 0.1})
    qtbot.waitUntil(lambda: min(tab.lr_preview.curve.getData()[1]) < 0.01, timeout=3000)


def test_augmentation_grid_and_device_list_load_after_show(qtbot, tab: TrainTab) -> None:
    tab.resize(1200, 800)
    tab.show()
    qtbot.waitUntil(lambda: tab.aug_preview.last_grid is not None, timeout=60_000)
    assert tab.aug_preview.last_grid.shape == (4, 10, 28, 28)
    qtbot.waitUntil(lambda: (tab.form.device_box.count() >= 2
                    and tab.form.device_box.itemData(1) != "cpu")
                    or tab.form.device_box.itemText(0).startswith("Fastest:"), timeout=60_000)
    keys = [tab.form.device_box.itemData(i) for i in range(tab.form.device_box.count())]
    assert keys[0] == "auto" and "cpu" in keys
    first = tab.aug_preview.last_grid.copy()
    tab.form.set_values({"augment": 2.0})
    qtbot.waitUntil(lambda: tab.aug_preview.last_grid is not None
                    and (tab.aug_preview.last_grid != first).any(), timeout=60_000)
    assert (tab.aug_preview.last_grid[0] == first[0]).all()  # the originals row stays
    qtbot.waitUntil(lambda: "✓" in tab.form.model_box.itemText(0), timeout=120_000)


def test_event_loop_stays_responsive_while_training(qtbot, tab: TrainTab) -> None:
    """A 10 ms timer during a several-epoch CPU run: the longest gap between its ticks."""
    configure(tab, model="dl-flagship-8k", epochs=4, train_subset=2048, test_subset=1000,
              batch_size=64)
    meter = StallMeter(interval_ms=10)
    tab.start()
    qtbot.waitUntil(lambda: tab.plots.loss.n >= 1, timeout=60_000)  # data loaded, training
    meter.start()
    wait_idle(qtbot, tab, timeout=180_000)
    meter.stop()
    stall = meter.summary()
    worst = stall["worst_ms"]
    print(f"\nworst event-loop stall while training: {worst:.0f} ms over {stall['ticks']} ticks "
          f"(median {stall['median_ms']:.0f} ms)")
    assert worst < 500, f"GUI stalled for {worst:.0f} ms"


def test_a_stop_before_the_first_epoch_keeps_the_previous_results(qtbot, tab: TrainTab) -> None:
    configure(tab, train_subset=256, test_subset=100)
    tab.start()
    wait_idle(qtbot, tab)
    qtbot.waitUntil(lambda: tab.results.results is not None, timeout=60_000)
    first = tab.results.results.run_id
    headline = tab.progress.headline.text()
    assert "· 1 epoch," in headline and "epochs" not in headline  # "1 epoch", not "1 epochs"
    configure(tab, epochs=20, train_subset=4096)
    tab.start()
    assert tab.results.results.run_id == first  # still on screen while the new run starts
    tab.stop()  # before its first epoch: it leaves no checkpoint, so nothing to show
    wait_idle(qtbot, tab)
    (second,) = [r for r in RunStore().list() if r.id != first]
    if second.epochs_done:
        pytest.skip("the first epoch finished before the stop arrived")
    assert tab.results.results is not None and tab.results.results.run_id == first
    assert tab.results.export_button.isEnabled()
    assert not tab.results.note.isHidden() and "run before" in tab.results.note.text()
    assert "0 epochs" in tab.progress.headline.text()
