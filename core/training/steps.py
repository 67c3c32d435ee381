"""One optimizer step on one batch: the step every training loop takes (epochs, a time budget,
fine-tuning), so what a step is lives in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F


def optimizer_step(forward: Callable[[torch.Tensor], torch.Tensor],
                   optimizer: torch.optim.Optimizer, scheduler: Any, x: torch.Tensor,
                   y: torch.Tensor, *, label_smoothing: float = 0.0, use_amp: bool = False,
                   before_schedule: Callable[[], None] | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward (bf16 autocast when `use_amp`), cross-entropy, backward, optimizer step, then the
    learning-rate schedule. Returns (the loss, detached and still on the device: no sync per
    step; the logits). `before_schedule` runs between the step and the schedule (a time budget
    counts the step there, before the schedule reads its progress)."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=use_amp):
        logits = forward(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if before_schedule is not None:
        before_schedule()
    scheduler.step()
    return loss.detach(), logits
