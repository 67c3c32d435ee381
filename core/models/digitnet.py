"""DigitLab's own networks: plain conv stacks sized for a parameter budget.

What makes them work at this size:
- Conv → BatchNorm → ReLU everywhere, no bias before BN (a bias there is a wasted parameter).
- Two 3×3 convs at full resolution, then one early 2×2 max-pool: the expensive 24×24 maps are
  few, so an epoch is cheap, and the receptive field doubles its growth rate afterwards.
- A 1×1 "transition" conv after the pool squeezes channels before the next 3×3s.
- Unpadded convs shrink 12 → 6, so the last maps already see ~the whole 20×20 digit box;
  global average pooling and a 1×1 classifier replace any dense layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def conv_bn(c_in: int, c_out: int, k: int = 3, padding: int = 0,
            dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=padding, dilation=dilation,
                                   bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


@dataclass(frozen=True)
class DigitNetPlan:
    stem: tuple[int, int]  # channels of the two 3×3 convs at 28 → 26 → 24
    squeeze: int  # 1×1 conv after the pool (12×12)
    body: tuple[int, ...]  # channels of the unpadded 3×3 convs at 12 → 10 → 8 → 6
    dropout: float = 0.0
    dilate_last: bool = False  # last 3×3 with dilation 2: 8 → 4 px, RF +8 instead of +4


class GapClassifier(nn.Module):
    """Feature layers, global average pooling and a 1×1 conv to 10 logits: no dense layer."""

    def __init__(self, layers: list[nn.Module], channels: int) -> None:
        super().__init__()
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)  # (N, channels, 1, 1)
        self.classifier = nn.Conv2d(channels, 10, 1)  # (N, 10, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x))).flatten(1)  # (N, 10) logits


class DigitNet(GapClassifier):
    def __init__(self, plan: DigitNetPlan) -> None:
        c1, c2 = plan.stem
        layers: list[nn.Module] = [
            conv_bn(1, c1),  # (N, c1, 26, 26)  RF 3
            conv_bn(c1, c2),  # (N, c2, 24, 24)  RF 5
            nn.MaxPool2d(2),  # (N, c2, 12, 12)  RF 6, jump 2
            conv_bn(c2, plan.squeeze, k=1),  # (N, squeeze, 12, 12)
        ]
        c = plan.squeeze
        for i, width in enumerate(plan.body):  # each: -2 px, RF +4
            last = i == len(plan.body) - 1
            layers.append(conv_bn(c, width, dilation=2 if last and plan.dilate_last else 1))
            c = width
        if plan.dropout:
            layers.append(nn.Dropout(plan.dropout))
        super().__init__(layers, c)


def sep_conv_bn(c_in: int, c_out: int, dilation: int = 1) -> nn.Sequential:
    """Depthwise 3×3, pointwise 1×1, one BN: c_in·(9 + c_out) weights instead of 9·c_in·c_out."""
    return nn.Sequential(nn.Conv2d(c_in, c_in, 3, groups=c_in, dilation=dilation, bias=False),
                         nn.Conv2d(c_in, c_out, 1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class TinyDigitNet(GapClassifier):
    """Under 1,000 parameters: the same shape as DigitNet with depthwise-separable convs."""

    def __init__(self, widths: tuple[int, ...] = (6, 8, 10, 12, 12)) -> None:
        w0, w1, *body = widths
        layers: list[nn.Module] = [conv_bn(1, w0),  # (N, w0, 26, 26) RF 3
                                   sep_conv_bn(w0, w1),  # (N, w1, 24, 24) RF 5
                                   nn.MaxPool2d(2)]  # (N, w1, 12, 12) RF 6
        c = w1
        for width in body:  # 12 → 10 → 8 → 6, RF 10, 14, 18
            layers.append(sep_conv_bn(c, width))
            c = width
        super().__init__(layers, c)


class EarlyPoolTinyNet(GapClassifier):
    """Under 1,000 parameters: one full 3×3, then straight down to 13×13 and separable 3×3s.

    Under 1k every full-resolution layer after the first is compute without capacity: this net
    pools right after the first conv and spends the parameters on four depthwise-separable 3×3s
    at 13×13 and below, the last one dilated so the final 3×3 maps see the whole digit.
    """

    def __init__(self, stem: int = 6, widths: tuple[int, ...] = (9, 10, 11, 12)) -> None:
        layers: list[nn.Module] = [conv_bn(1, stem),  # (N, stem, 26, 26) RF 3
                                   nn.MaxPool2d(2)]  # (N, stem, 13, 13) RF 4, jump 2
        c = stem
        for i, width in enumerate(widths):  # 13 → 11 → 9 → 7, RF 8, 12, 16
            dilation = 2 if i == len(widths) - 1 else 1  # last: 7 → 3, RF 24
            layers.append(sep_conv_bn(c, width, dilation))
            c = width
        super().__init__(layers, c)


FLAGSHIP = DigitNetPlan(stem=(10, 16), squeeze=10, body=(14, 16, 16))
DILATED = DigitNetPlan(stem=(10, 16), squeeze=10, body=(14, 16, 16), dilate_last=True)
COMPACT = DigitNetPlan(stem=(8, 12), squeeze=8, body=(10, 10, 12))
DILATED_COMPACT = DigitNetPlan(stem=(8, 12), squeeze=8, body=(10, 10, 12), dilate_last=True)


def build_flagship() -> nn.Module:
    return DigitNet(FLAGSHIP)


def build_dilated() -> nn.Module:
    return DigitNet(DILATED)


def build_dilated_compact() -> nn.Module:
    return DigitNet(DILATED_COMPACT)


def build_compact() -> nn.Module:
    return DigitNet(COMPACT)


def build_tiny() -> nn.Module:
    return TinyDigitNet()


def build_early_pool_tiny() -> nn.Module:
    return EarlyPoolTinyNet()
