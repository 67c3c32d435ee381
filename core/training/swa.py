"""SWA: the equal-weight average of the weights at the end of each of the last N epochs.

The averaged weights never saw the BatchNorm statistics they would produce: the running means
and variances of any single epoch belong to other weights. Evaluated like that the average can
be far worse than any epoch it came from (write-up 004: "mid-epoch SWA eval without updating BN
will tank accuracy"), so `recompute_batchnorm` measures them again on the training images,
unaugmented, before every evaluation of the average.

Precedence with EMA: from the first epoch averaged by SWA on, the SWA average is what is
evaluated, checkpointed as the answer and exported; an EMA (when also on) is still kept and
answers for the epochs before. SWA averages the trained weights, not the EMA's.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from core.training.evaluate import prepare_input


class WeightAverage:
    """Running mean of a model's parameters, one update per epoch; buffers come from the data."""

    def __init__(self, model: nn.Module) -> None:
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.averaged = 0  # epochs in the average so far

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.averaged += 1
        for mean, current in zip(self.module.parameters(), model.parameters(), strict=True):
            if self.averaged == 1:
                mean.copy_(current.detach())  # exactly the first epoch's weights
            else:
                mean.add_(current.detach() - mean, alpha=1.0 / self.averaged)

    def state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "averaged": self.averaged}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.averaged = int(state["averaged"])


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, images_u8: torch.Tensor, batch_size: int) -> None:
    """Replace every BatchNorm's running statistics by those of `model` on `images_u8`.

    Like torch.optim.swa_utils.update_bn (cumulative averages over every batch), except that
    only the BatchNorm layers are put in training mode: dropout stays off, so the statistics
    are those of the activations the model will see when it is evaluated. Deterministic.
    """
    norms = batchnorm_layers(model)
    if not norms:
        return
    was_training = model.training
    model.eval()
    momenta = []
    for norm in norms:
        norm.reset_running_stats()
        momenta.append(norm.momentum)
        norm.momentum = None  # None: an equal-weight average over all batches
        norm.train()
    for i in range(0, len(images_u8), batch_size):
        model(prepare_input(images_u8[i:i + batch_size], None, None))
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.train(was_training)
