"""Exponential moving average of a model's weights and BatchNorm statistics.

The decay warms up as (1 + n) / (10 + n) toward its configured value: with a fixed 0.999 the
average would still remember the random initial weights for thousands of steps, and the
per-epoch test curve of a 15-epoch run would be meaningless for its first epochs.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class WeightEMA:
    def __init__(self, model: nn.Module, decay: float) -> None:
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.updates = 0  # a Python int: reading a device counter would sync every step

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        keep = self.current_decay()
        averaged, current, counters = self._pairs(model)
        torch._foreach_lerp_(averaged, current, 1.0 - keep)
        for ema_t, cur_t in counters:  # e.g. BatchNorm's num_batches_tracked
            ema_t.copy_(cur_t)

    def _pairs(self, model: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor], list[Any]]:
        """Matching tensors of the average and the model, collected once per model: walking
        two state dicts every step cost more than the averaging itself (~0.2 s an epoch)."""
        if getattr(self, "_pairs_of", None) is not model:
            averaged, current, counters = [], [], []
            for ema_t, cur_t in zip(self.module.state_dict().values(),
                                    model.state_dict().values(), strict=True):
                if ema_t.is_floating_point():
                    averaged.append(ema_t)
                    current.append(cur_t.detach())
                else:
                    counters.append((ema_t, cur_t))
            self._cached, self._pairs_of = (averaged, current, counters), model
        return self._cached

    def state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
