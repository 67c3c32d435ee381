"""The training settings form: a `TrainConfig` on screen, with the model picker at the top.

Choosing a model applies its recipe through `core.workflows.launch.new_run_config`, the same
rule the CLI
follows. The fields not shown here (Nesterov, EMA decay) come from that recipe too, so `config()`
is always a complete, valid-looking `TrainConfig`. torch-free: parameter counts and the device
list arrive later from background workers through `set_zoo_info` and `set_devices`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.shared.style import BAD_COLOR, OK_COLOR
from core.models import PARAM_BUDGET, get_spec, list_models
from core.training.config import MAX_TIME_BUDGET, OPTIMIZERS, SCHEDULES, TrainConfig
from core.training.speed import device_type_of
from core.workflows.launch import new_run_config

SETTINGS_KEY = "train/form"  # JSON of the form's TrainConfig fields, plus "writeup_recipe"
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
SCHEDULE_NAMES = {"onecycle": "One-cycle", "step": "Step decay", "cosine": "Cosine",
                  "constant": "Constant"}

Binding = tuple[QWidget, Callable[[], Any], Callable[[Any], None]]


def _spin(low: int, high: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setStepType(QSpinBox.StepType.AdaptiveDecimalStepType)
    box.setToolTip(tip)
    return box


def _dspin(low: float, high: float, step: float, decimals: int, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setToolTip(tip)
    return box


def _combo(items: dict[str, str], tip: str) -> QComboBox:
    box = QComboBox()
    for key, text in items.items():
        box.addItem(text, key)
    box.setToolTip(tip)
    return box


class TrainForm(QWidget):
    """Settings for the next run. `changed` fires on every edit; `layers_requested(model)` asks
    the tab to show the per-layer table."""

    changed = Signal()
    layers_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._applying = False  # set while the form fills itself: no `changed` storm
        self._fields: dict[str, Binding] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(self._build_model_picker())
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        outer.addLayout(self.form)
        self._build_main_fields()
        self.advanced_toggle = QToolButton(text="Advanced", checkable=True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setAutoRaise(True)
        self.advanced_toggle.toggled.connect(self._show_advanced)
        outer.addWidget(self.advanced_toggle)
        # What the collapsed section holds beyond the model's recipe: a remembered "Training
        # images 5,000" must not shrink later runs unseen.
        self.advanced_summary = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        outer.addWidget(self.advanced_summary)
        self.advanced = QWidget()
        self.advanced_form = QFormLayout(self.advanced)
        self.advanced_form.setContentsMargins(0, 0, 0, 0)
        self.advanced_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        main_fields = set(self._fields)
        self._build_advanced_fields()
        self._advanced_names = [n for n in self._fields if n not in main_fields]
        self.advanced.setVisible(False)
        outer.addWidget(self.advanced)
        outer.addStretch(1)  # spare height goes below the form, not between its rows
        self.changed.connect(self._refresh_advanced_summary)
        self._model_chosen()  # recipe and checkbox state of the first model
        self._refresh_advanced_summary()

    # --- building ---------------------------------------------------------------------------

    def _build_model_picker(self) -> QVBoxLayout:
        box = QVBoxLayout()
        row = QHBoxLayout()
        self.model_box = QComboBox()
        self.model_box.setToolTip("The network to train. Parameter counts and receptive fields "
                                  "appear once they are computed.")
        self.model_box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        family = None
        for spec in list_models():  # torch-free: names are known at once
            if family is not None and spec.family != family:
                self.model_box.insertSeparator(self.model_box.count())
            family = spec.family
            self.model_box.addItem(spec.name, spec.name)
        self.model_box.setCurrentIndex(0)
        self.model_box.currentIndexChanged.connect(self._model_chosen)  # after filling it
        row.addWidget(self.model_box, 1)
        self.layers_button = QPushButton("Layers…")
        self.layers_button.setToolTip("Per-layer table: output shape, parameters, receptive field")
        self.layers_button.clicked.connect(lambda: self.layers_requested.emit(self.model_name))
        row.addWidget(self.layers_button)
        box.addLayout(row)
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.model_info.setTextFormat(Qt.TextFormat.RichText)
        box.addWidget(self.model_info)
        self.writeup_recipe = QCheckBox("Use the write-up's recipe")
        self.writeup_recipe.toggled.connect(self._writeup_recipe_toggled)
        self._writeup_recipe_wanted = True  # the user's choice for write-up models, kept
        box.addWidget(self.writeup_recipe)
        self._zoo: dict[str, Any] = {}  # name → ZooInfo, once known
        return box

    def _bind(self, form: QFormLayout, name: str, label: str, widget: QWidget,
              get: Callable[[], Any], put: Callable[[Any], None]) -> None:
        form.addRow(label, widget)
        self._fields[name] = (widget, get, put)
        signal = getattr(widget, "valueChanged", None) or getattr(widget, "toggled", None)
        if isinstance(widget, QComboBox):
            signal = widget.currentIndexChanged
        signal.connect(self._emit_changed)

    def _bind_spin(self, form: QFormLayout, name: str, label: str,
                   box: QSpinBox | QDoubleSpinBox) -> None:
        cast = int if isinstance(box, QSpinBox) else float
        self._bind(form, name, label, box, box.value, lambda v: box.setValue(cast(v)))

    def _bind_combo(self, form: QFormLayout, name: str, label: str, box: QComboBox) -> None:
        def put(value: Any) -> None:
            index = box.findData(value)
            if index >= 0:
                box.setCurrentIndex(index)

        self._bind(form, name, label, box, box.currentData, put)

    def _bind_check(self, form: QFormLayout, name: str, label: str, box: QCheckBox) -> None:
        self._bind(form, name, label, box, box.isChecked, lambda v: box.setChecked(bool(v)))

    def _build_main_fields(self) -> None:
        f = self.form
        self._bind_spin(f, "epochs", "Epochs", _spin(1, 500, "Passes over the training set"))
        budget = _dspin(0.0, MAX_TIME_BUDGET, 10.0, 0, "Seconds for the whole run: the trainer "
                        "measures its speed and fits its steps and schedule into them, then "
                        "evaluates once (epochs are then ignored). Off: train the epochs")
        budget.setSpecialValueText("off")
        budget.setSuffix(" s")
        self._bind_spin(f, "time_budget", "Time budget", budget)
        budget.valueChanged.connect(  # the epochs do nothing while a budget is set
            lambda seconds: self._fields["epochs"][0].setEnabled(seconds == 0))
        self._bind_spin(f, "batch_size", "Batch size",
                        _spin(8, 8192, "Images per optimizer step"))
        self._bind_combo(f, "optimizer", "Optimizer",
                         _combo({k: OPTIMIZER_NAMES[k] for k in OPTIMIZERS}, "Optimizer"))
        lr = _dspin(0.0001, 5.0, 0.001, 4, "Peak learning rate (the one-cycle maximum)")
        lr.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self._bind_spin(f, "lr", "Learning rate", lr)
        self._bind_combo(f, "schedule", "Schedule", _combo(
            {k: SCHEDULE_NAMES[k] for k in SCHEDULES}, "How the learning rate changes, per step"))
        self._bind_spin(f, "label_smoothing", "Label smoothing", _dspin(
            0.0, 0.3, 0.01, 2, "Spread this much of each target over the other classes"))
        self._bind_spin(f, "augment", "Augmentation", _dspin(
            0.0, 2.0, 0.25, 2, "Strength of random rotation, shift, scale and shear "
                               "(1 = ±8°, ±8%, ±6° shear; 0 = none)"))
        self._bind_spin(f, "augment_stroke", "Stroke jitter", _dspin(
            0.0, 1.0, 0.1, 2, "Random thickening or thinning of the pen strokes"))
        self._bind_spin(f, "augment_aspect", "Aspect jitter", _dspin(
            0.0, 0.5, 0.05, 2, "Random narrowing or widening of the digits (±fraction of "
                               "their width): other people's proportions"))
        augment_box = self._fields["augment"][0]
        augment_box.valueChanged.connect(self._augment_changed)  # type: ignore[attr-defined]
        self._bind_check(f, "ema", "Weight averaging", QCheckBox(
            "EMA", toolTip="Evaluate and export an exponential moving average of the weights"))
        self._bind_spin(f, "seed", "Seed", _spin(0, 2**31 - 1, "Same seed, same run (on the CPU)"))
        self.detected_devices: list[Any] = []  # DeviceInfo rows, once set_devices() ran
        self.device_box = QComboBox(toolTip="Where to train. Detecting GPUs…")
        self.device_box.addItem("Fastest available", "auto")
        self.device_box.addItem("CPU", "cpu")
        self._bind_combo(f, "device", "Device", self.device_box)
        self._wanted_device = "auto"  # a saved choice waits here until the devices are known
        self._auto_device_type = "cpu"  # what "auto" means, once the devices are known
        self._recipe_device_type = "cpu"  # the device type whose fast path the fields show
        put = self._fields["device"][2]
        self._fields["device"] = (self.device_box, self.device_box.currentData,
                                  lambda v: (setattr(self, "_wanted_device", str(v)), put(v)))
        self.device_box.currentIndexChanged.connect(self._device_picked)

    def _build_advanced_fields(self) -> None:
        f = self.advanced_form
        self._bind_spin(f, "momentum", "Momentum / β₁", _dspin(
            0.0, 0.999, 0.01, 3, "SGD momentum, or Adam's beta1"))
        self._bind_spin(f, "weight_decay", "Weight decay", _dspin(
            0.0, 0.1, 0.0001, 5, "On conv and linear weights only"))
        self._bind_spin(f, "pct_start", "Warm-up fraction", _dspin(
            0.01, 0.99, 0.05, 2, "One-cycle: fraction of all steps spent warming up"))
        self._bind_spin(f, "step_size", "Decay every", _spin(
            1, 500, "Step schedule: epochs between decays"))
        self._bind_spin(f, "gamma", "Decay factor", _dspin(
            0.01, 1.0, 0.05, 2, "Step schedule: learning-rate factor per decay"))
        # Write-up 004's recipe tail (core/training/swa.py, tta.py).
        self._bind_spin(f, "augment_off_epochs", "Augmentation off in", _spin(
            0, 500, "Train the last N epochs on the digits as they are (0 = never)"))
        self._bind_spin(f, "swa_epochs", "SWA over", _spin(
            0, 500, "Average the weights of the last N epochs, BatchNorm statistics recomputed "
                    "on the training images; in those epochs it replaces EMA (0 = off)"))
        for name in ("augment_off_epochs", "swa_epochs"):
            box = self._fields[name][0]
            box.setPrefix("last ")  # type: ignore[attr-defined]
            box.setSuffix(" epochs")  # type: ignore[attr-defined]
            box.setSpecialValueText("off")  # type: ignore[attr-defined]
        self._bind_spin(f, "tta_degrees", "Test-time rotation", _dspin(
            0.0, 30.0, 1.0, 1, "Evaluate each digit also rotated by ± this many degrees and "
                               "average the answers (0 = off)"))
        self._bind_check(f, "tta_in_onnx", "TTA in export", QCheckBox(
            "rotations in the ONNX file", toolTip="The exported model reads each digit three "
                                                  "times, as the run was evaluated"))
        tta_box, tta_export = self._fields["tta_degrees"][0], self._fields["tta_in_onnx"][0]
        tta_box.valueChanged.connect(  # type: ignore[attr-defined]
            lambda degrees: tta_export.setEnabled(degrees > 0))
        tta_export.setEnabled(False)
        self._bind_spin(f, "val_split", "Validation images", _spin(
            0, 50_000, "Training images held out to choose settings without the test set"))
        self._bind_spin(f, "train_subset", "Training images", _spin(
            0, 60_000, "Use only the first N training images (0 = all 60,000): quick checks"))
        self._bind_spin(f, "test_subset", "Test images", _spin(
            0, 10_000, "Evaluate on only the first N test images (0 = all 10,000)"))
        for name in ("train_subset", "test_subset"):
            self._fields[name][0].setSpecialValueText("all")  # type: ignore[attr-defined]
        self._bind_check(f, "compile", "Compile", QCheckBox(
            "torch.compile", toolTip="Fuse the model's layers before training (a few seconds, "
                                     "cached); faster epochs. Falls back to eager if unavailable"))
        self._bind_check(f, "cpu_bf16", "CPU bf16", QCheckBox(
            "bf16 autocast on the CPU", toolTip="Train in bfloat16 on a CPU that computes it "
                                                "natively (AVX512-BF16 or AMX): ~1.6x faster "
                                                "steps there; ignored on other CPUs"))

    def _show_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if shown
                                          else Qt.ArrowType.RightArrow)
        self._refresh_advanced_summary()

    def advanced_changes(self) -> list[str]:
        """The Advanced fields whose value differs from the model's recipe, as shown there
        ("Training images 5,000")."""
        base = new_run_config({"model": self.model_name}, writeup_recipe=self.uses_writeup_recipe,
                              device_type=self._recipe_device_type)
        changes = []
        for name in self._advanced_names:
            widget, get, _ = self._fields[name]
            value, default = get(), getattr(base, name)
            if isinstance(widget, QDoubleSpinBox):  # the box rounds to its decimals
                same = abs(float(value) - float(default)) < 0.5 * 10 ** -widget.decimals()
            else:
                same = value == default
            if same:
                continue
            label = self.advanced_form.labelForField(widget)
            shown = (("on" if value else "off") if isinstance(widget, QCheckBox)
                     else widget.text())  # type: ignore[attr-defined]
            changes.append(f"{label.text() if label else name} {shown}")  # type: ignore[attr-defined]
        return changes

    def _refresh_advanced_summary(self) -> None:
        changes = [] if self.advanced_toggle.isChecked() else self.advanced_changes()
        self.advanced_summary.setText("Set under Advanced: " + " · ".join(changes)
                                      if changes else "")
        self.advanced_summary.setVisible(bool(changes))
        self.advanced_toggle.setText(f"Advanced ({len(changes)} changed)" if changes
                                     else "Advanced")

    # --- values -----------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return str(self.model_box.currentData())

    def config(self) -> TrainConfig:
        """The run the form describes: the model's recipe, then every field on screen."""
        base = new_run_config({"model": self.model_name}, writeup_recipe=self.uses_writeup_recipe,
                              device_type=self.device_type)
        return base.with_overrides(**{name: get() for name, (_, get, _) in self._fields.items()})

    @property
    def device_type(self) -> str:
        """"cpu", "cuda" or "mps": where the chosen device entry will train."""
        key = str(self.device_box.currentData() or "auto")
        return self._auto_device_type if key == "auto" else device_type_of(key)

    @property
    def uses_writeup_recipe(self) -> bool:
        return self.writeup_recipe.isChecked()

    def set_values(self, values: dict[str, Any]) -> None:
        """Fill fields from TrainConfig-style values (unknown keys are ignored)."""
        self._applying = True
        try:
            for name, value in values.items():
                if name in self._fields:
                    self._fields[name][2](value)
        finally:
            self._applying = False
        self._refresh_model_info()
        self._emit_changed()

    def apply_model_recipe(self) -> None:
        """Recipe fields take the chosen model's recipe (or the defaults, without it)."""
        recipe_keys = _recipe_keys() | {"compile"}  # the device's fast path sets compile
        keep = {k: get() for k, (_, get, _) in self._fields.items() if k not in recipe_keys}
        self._recipe_device_type = self.device_type
        config = new_run_config({"model": self.model_name}, writeup_recipe=self.uses_writeup_recipe,
                                device_type=self._recipe_device_type)
        self.set_values({**config.to_dict(), **keep})

    def _model_chosen(self) -> None:
        if self._applying:
            return
        spec = get_spec(self.model_name)
        self.writeup_recipe.blockSignals(True)
        self.writeup_recipe.setEnabled(not spec.is_ours and bool(spec.recipe))
        self.writeup_recipe.setChecked(spec.is_ours
                                    or (bool(spec.recipe) and self._writeup_recipe_wanted))
        self.writeup_recipe.setToolTip(
            "DigitLab's own models always train with the recipe they were tuned with."
            if spec.is_ours else f"Train with the settings of {spec.source}: "
            + (", ".join(f"{k}={v}" for k, v in spec.recipe.items()) or "none given"))
        self.writeup_recipe.blockSignals(False)
        self.apply_model_recipe()

    def _writeup_recipe_toggled(self, checked: bool) -> None:
        self._writeup_recipe_wanted = checked
        self.apply_model_recipe()

    def _device_picked(self) -> None:
        if not self._applying and self.device_box.currentData() is not None:
            self._wanted_device = str(self.device_box.currentData())
            self._follow_device_type()

    def _follow_device_type(self) -> None:
        """Another kind of device has its own fast recipe (CUDA: larger batches): show it."""
        if self.device_type != self._recipe_device_type:
            self.apply_model_recipe()

    def _augment_changed(self, strength: float) -> None:
        """Stroke and aspect jitter are parts of augmentation: at strength 0 they do nothing."""
        for name in ("augment_stroke", "augment_aspect"):
            self._fields[name][0].setEnabled(strength > 0)

    def _emit_changed(self) -> None:
        if not self._applying:
            self.changed.emit()

    # --- late facts -------------------------------------------------------------------------

    def set_zoo_info(self, infos: list[Any]) -> None:
        """ZooInfo rows from core.models.zoo_info: parameter counts into the picker's item texts."""
        self._zoo = {info.name: info for info in infos}
        for i in range(self.model_box.count()):
            info = self._zoo.get(self.model_box.itemData(i))
            if info is not None:
                mark = "✓" if info.under_budget else "✗"
                self.model_box.setItemText(i, f"{info.name}   {info.params:,} {mark}")
        self._refresh_model_info()

    def _refresh_model_info(self) -> None:
        spec = get_spec(self.model_name)
        info = self._zoo.get(spec.name)
        if info is None:
            facts = "<span style='color:gray'>counting parameters…</span>"
        else:
            color = OK_COLOR if info.under_budget else BAD_COLOR
            badge = "under 8k" if info.under_budget else f"over {PARAM_BUDGET // 1000}k"
            facts = (f"<b>{info.params:,}</b> params · RF {info.receptive_field} px · "
                     f"<span style='color:{color}'><b>{badge}</b></span>")
        self.model_info.setText(f"{facts}<br><span style='color:gray'>{spec.family} — "
                                f"{spec.description}</span>")

    def set_devices(self, devices: list[Any]) -> None:
        """DeviceInfo rows from core.training.devices, fastest first; 'auto' picks the first."""
        self.detected_devices = list(devices)
        wanted = self._wanted_device
        self._applying = True
        self.device_box.clear()
        self.device_box.addItem(f"Fastest: {devices[0].label}", "auto")
        for device in devices:
            self.device_box.addItem(device.label, device.key)
        index = self.device_box.findData(wanted)
        self.device_box.setCurrentIndex(max(0, index))
        self.device_box.setToolTip("Where to train: " + ", ".join(d.label for d in devices))
        self._auto_device_type = device_type_of(devices[0].key)
        self._applying = False
        self._follow_device_type()

    # --- persistence ------------------------------------------------------------------------

    def save(self, settings: QSettings) -> None:
        values = {name: get() for name, (_, get, _) in self._fields.items()}
        values.update(model=self.model_name, writeup_recipe=self.uses_writeup_recipe,
                      recipe_device_type=self._recipe_device_type)
        settings.setValue(SETTINGS_KEY, json.dumps(values))

    def restore(self, settings: QSettings) -> None:
        try:
            values = json.loads(str(settings.value(SETTINGS_KEY, "") or "{}"))
        except ValueError:
            return  # a damaged entry: keep the defaults
        if not isinstance(values, dict):
            return
        model = values.get("model")
        index = self.model_box.findData(model) if isinstance(model, str) else -1
        if index >= 0:
            # "seed_recipe": the key's name in settings saved before write-ups were called so
            wanted = values.get("writeup_recipe", values.get("seed_recipe", True))
            self._writeup_recipe_wanted = bool(wanted)
            self.model_box.setCurrentIndex(index)  # applies the recipe, then saved values win
        self.set_values(values)
        if values.get("recipe_device_type") in ("cpu", "cuda", "mps"):
            # The saved fields follow that device's recipe: keep them when it is found again.
            self._recipe_device_type = str(values["recipe_device_type"])


def _recipe_keys() -> frozenset[str]:
    from core.models.spec import RECIPE_KEYS

    return RECIPE_KEYS
