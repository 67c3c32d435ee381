"""Small building blocks shared by several zoo families (imports torch: load lazily)."""

from __future__ import annotations

import torch
from torch import nn


class DepthwiseSeparableConv(nn.Module):
    """A k×k depthwise conv (one filter per input channel) then a 1×1 pointwise conv.

    (N, c_in, H, W) -> (N, c_out, H, W) with the default padding 1. It adds (k - 1) × jump to the
    receptive field like a full k×k conv, for c_in·k² + c_in·c_out weights instead of
    c_in·c_out·k². Biases are on by default because the seeds' code uses nn.Conv2d defaults.
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3, padding: int = 1,
                 bias: bool = True) -> None:
        super().__init__()
        self.dw = nn.Conv2d(c_in, c_in, kernel_size, padding=padding, groups=c_in, bias=bias)
        self.pw = nn.Conv2d(c_in, c_out, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class SqueezeExcite(nn.Module):
    """Seed 001's "lightweight" squeeze-and-excitation: per-channel gates from global context.

    (N, C, H, W) -> GAP (N, C) -> Linear(C, h) -> ReLU -> Linear(h, C) -> sigmoid -> scale the
    input channels. h = max(C // reduction, min_hidden): the seed's reduction 8 with at least 4
    hidden units, so it costs 2·C·h + h + C parameters (the seed's estimate omits the biases).
    """

    def __init__(self, channels: int, reduction: int = 8, min_hidden: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, min_hidden)
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.excitation = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = self.excitation(self.squeeze(x))  # (N, C) in (0, 1)
        return x * gates[:, :, None, None]


class GapHead(nn.Module):
    """Global average pooling to (N, C), the parameter-free head most seeds use before logits."""

    def __init__(self) -> None:
        super().__init__()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flatten(self.gap(x))
