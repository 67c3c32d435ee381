"""Per-layer table of a model: output shape, parameters, receptive field (RF) and jump.

This is the table the seed authors computed by hand. One forward pass of a zero image, with a
hook on every leaf module, records the layers in execution order. The RF and jump (input pixels
between neighbouring outputs, the effective stride) follow, per axis, the usual recurrence for
conv and pooling layers:

    rf_out = rf_in + (kernel - 1) · dilation · jump_in        jump_out = jump_in · stride

and are unchanged by BN, activations, dropout and 1×1 convs. Approximations, documented:
- Branches (skip connections, squeeze-and-excitation) are read as one chain in execution order,
  so each layer extends the largest RF seen so far: the max over paths. In this zoo the side
  branches are 1×1 skip convs (they add nothing) and SE gates (their rows are marked global, but
  their whole-map context only rescales channels, so the main path's RF does not take it on).
  A 3×3 conv on a side branch would be over-counted.
- Global pooling (adaptive pooling to 1×1) and everything after it, and a Linear layer fed
  with a flattened feature map, see the whole input: those rows are marked "global" and show
  the input size. The model's `receptive_field` is that of one position of the last spatial map
  (before any global pooling), the figure the seeds compare. As in their hand-computed tables,
  it may exceed the 28-pixel input: the excess lies in the zero padding.
- Only modules are seen: pooling done with torch.nn.functional inside forward() is invisible, so
  zoo models use nn.MaxPool2d / nn.AvgPool2d modules.
torch is imported inside `summarize`, so importing this module stays cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.models.spec import PARAM_BUDGET, under_budget

Pair = tuple[int, int]


@dataclass(frozen=True)
class LayerRow:
    name: str  # qualified module name, e.g. "block1.0.conv" ("" for a bare-module model)
    kind: str  # module class name, e.g. "Conv2d"
    output_shape: tuple[int, ...]  # including the batch dimension, e.g. (1, 16, 28, 28)
    params: int  # trainable parameters this layer owns (a reused layer counts once)
    rf: Pair  # receptive field (height, width) in input pixels
    jump: Pair  # input pixels between neighbouring outputs (height, width)
    is_global: bool = False  # sees the whole input

    @property
    def receptive_field(self) -> int:
        return max(self.rf)


@dataclass(frozen=True)
class ModelSummary:
    rows: list[LayerRow]
    total_params: int  # trainable parameters of the whole model
    receptive_field: int  # RF of one position of the last spatial map (max over H, W)
    jump: int  # its jump (max over H, W)
    global_pool: bool  # a global layer (GAP, or Linear over a map): outputs see it all
    input_shape: tuple[int, ...]
    budget: int = PARAM_BUDGET

    @property
    def under_budget(self) -> bool:
        return under_budget(self.total_params, self.budget)

    def verdict(self) -> str:
        if self.under_budget:
            spare = self.budget - self.total_params
            return f"under the {self.budget:,} budget ({spare:,} to spare)"
        return (f"OVER the budget: needs fewer than {self.budget:,} "
                f"(remove at least {self.total_params - self.budget + 1:,})")

    def to_text(self) -> str:
        """A fixed-width table, one line per layer, ending with the total and the verdict."""
        header = ("Layer", "Type", "Output", "Params", "RF", "Jump")
        lines = [header] + [
            (r.name or "(model)", r.kind, _shape(r.output_shape), f"{r.params:,}",
             "global" if r.is_global else _pair(r.rf), _pair(r.jump))
            for r in self.rows
        ]
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        right = (False, False, True, True, True, True)  # numbers right-aligned

        def fmt(line: tuple[str, ...]) -> str:
            cells = [cell.rjust(width) if align_right else cell.ljust(width)
                     for cell, width, align_right in zip(line, widths, right, strict=True)]
            return "  ".join(cells).rstrip()

        rule = "-" * len(fmt(header))
        out = [fmt(header), rule, *(fmt(line) for line in lines[1:]), rule]
        out.append(f"Total trainable parameters: {self.total_params:,}, {self.verdict()}")
        rf = f"Receptive field: {self.receptive_field} px (jump {self.jump})"
        if self.global_pool:
            rf += ", then a global layer (pooling, or a Linear over the map): outputs see it all"
        out.append(rf)
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_shape": list(self.input_shape),
            "total_params": self.total_params,
            "budget": self.budget,
            "under_budget": self.under_budget,
            "receptive_field": self.receptive_field,
            "jump": self.jump,
            "global_pool": self.global_pool,
            "rows": [
                {"name": r.name, "type": r.kind, "output_shape": list(r.output_shape),
                 "params": r.params, "receptive_field": r.receptive_field, "rf_hw": list(r.rf),
                 "jump": max(r.jump), "global": r.is_global}
                for r in self.rows
            ],
        }


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape[1:])  # without the batch dimension


def _pair(p: Pair) -> str:
    return str(p[0]) if p[0] == p[1] else f"{p[0]}×{p[1]}"


def _as_pair(v: Any) -> Pair:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _first_tensor(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return next((_first_tensor(v) for v in value if v is not None), None)
    return value


class _Tracker:
    """Running RF state along the (chained) main path, fed by forward hooks."""

    def __init__(self, input_hw: Pair) -> None:
        import torch

        self.nn = torch.nn
        self.input_hw = input_hw
        self.rf: Pair = (1, 1)
        self.jump: Pair = (1, 1)
        self.after_global = False  # the last op reduced to a single position
        self.flattened_map = False  # a Flatten just turned a >1-position map into a vector
        self.global_seen = False
        self.rows: list[LayerRow] = []
        self.counted: set[int] = set()

    def _grow(self, kernel: Pair, stride: Pair, dilation: Pair) -> None:
        (rh, rw), (jh, jw) = self.rf, self.jump
        self.rf = (rh + (kernel[0] - 1) * dilation[0] * jh, rw + (kernel[1] - 1) * dilation[1] * jw)
        self.jump = (jh * stride[0], jw * stride[1])

    def hook(self, name: str, module: Any, inputs: tuple, output: Any) -> None:
        nn = self.nn
        x, y = _first_tensor(inputs), _first_tensor(output)
        spatial_in = x is not None and x.ndim == 4 and x.shape[-2] * x.shape[-1] > 1
        is_global = False
        if spatial_in:
            self.after_global = self.flattened_map = False
            if isinstance(module, nn.Conv2d):
                self._grow(module.kernel_size, module.stride, module.dilation)
            elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
                dilation = getattr(module, "dilation", 1)  # AvgPool2d has none
                self._grow(_as_pair(module.kernel_size), _as_pair(module.stride),
                           _as_pair(dilation))
            elif isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
                (ih, iw), (oh, ow) = x.shape[-2:], y.shape[-2:]
                if (oh, ow) == (1, 1):
                    is_global = self.after_global = True  # the RF state stays that of the map
                else:  # approximately a pool with kernel ceil(in/out), stride floor(in/out)
                    self._grow((math.ceil(ih / oh), math.ceil(iw / ow)), (ih // oh, iw // ow),
                               (1, 1))
            elif y is not None and y.ndim == 2:  # Flatten of a map: the next Linear mixes it
                self.flattened_map = True
        else:  # a vector or a 1×1 map
            if isinstance(module, nn.Linear) and self.flattened_map:
                self.after_global = True
            is_global = self.after_global
        self.global_seen |= is_global
        params = 0
        if id(module) not in self.counted:
            self.counted.add(id(module))
            params = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
        shape = tuple(y.shape) if y is not None and hasattr(y, "shape") else ()
        rf = self.input_hw if is_global else self.rf
        self.rows.append(LayerRow(name, type(module).__name__, shape, params, rf, self.jump,
                                  is_global))


def summarize(model: Any, input_shape: tuple[int, ...] = (1, 1, 28, 28)) -> ModelSummary:
    """Run one zero batch of `input_shape` through `model` (eval mode, no grad) and tabulate."""
    import torch

    from core.models.registry import count_parameters

    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    tracker = _Tracker((int(input_shape[-2]), int(input_shape[-1])))
    handles = [
        module.register_forward_hook(
            lambda m, i, o, name=name: tracker.hook(name, m, i, o))
        for name, module in model.named_modules()
        if next(module.children(), None) is None  # leaf modules only
    ]
    training = {m: m.training for m in model.modules()}
    try:
        model.eval()  # BN uses running stats, dropout is off: batch 1 is fine
        with torch.no_grad():
            model(torch.zeros(input_shape, device=device, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        for m, flag in training.items():
            m.training = flag  # per module: a caller may have frozen some BN layers in eval
    total = count_parameters(model)
    rows = list(tracker.rows)
    unlisted = total - sum(r.params for r in rows)
    if unlisted:  # parameters held by containers or by layers the forward pass never ran
        rows.append(LayerRow("(other parameters)", "-", (), unlisted, tracker.rf, tracker.jump))
    return ModelSummary(rows, total, max(tracker.rf), max(tracker.jump), tracker.global_seen,
                        tuple(input_shape))
