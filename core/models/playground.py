"""Seed 004, "MNIST Optimization Playground": model1, model2, model3 and model3a.

Only model3 is described in any detail: channels 1→10→16→12→14→14→12, 3×3 kernels with padding
1, a single 2×2 max-pool, ReLU → BN, GAP and a 1×1 classifier, RF ≈ 20 after conv6. With every
conv 3×3 that is 8,410 parameters (over the seed's 8k limit, and not its ~7,602), and its RF
would be 22. Its model1 notes mention "1×1 bottlenecks", and an RF of 20 after conv6 needs one of
conv3..conv6 to be 1×1, so we make conv3, right after the pool, a 1×1 transition (16→12):
6,874 parameters, RF 18 (the seed's own figures count 7 after conv2 where two 3×3 convs give 5).
No subset of 1×1 convs reproduces 7,602 exactly with the stated channels.

model1/model2 share that topology with unpublished channels. model2 = model1 + BN after every
conv (+152 parameters = 76 BN channels) + dropout 0.1, so we picked channels 10→16→8→10→12→20
that give exactly the claimed 5,904 and 6,056 (one of many such choices; it keeps model3's
10→16 start and its single 1×1 after the pool).

    conv1 3×3 p1        (N, c1, 28, 28)  RF  3  jump 1
    conv2 3×3 p1        (N, c2, 28, 28)  RF  5
    pool 2×2            (N, c2, 14, 14)  RF  6  jump 2
    conv3 1×1           (N, c3, 14, 14)  RF  6
    conv4..6 3×3 p1     (N, c6, 14, 14)  RF 10, 14, 18
    GAP, 1×1 conv → 10  (N, 10)          whole input
"""

from __future__ import annotations

import torch
from torch import nn

from core.models.blocks import DepthwiseSeparableConv, GapHead


def _unit(c_in: int, c_out: int, k: int, bn: bool) -> list[nn.Module]:
    """conv (k×k, size kept) → ReLU [→ BN]: the seed found ReLU before BN best here."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.ReLU()]
    if bn:
        layers.append(nn.BatchNorm2d(c_out))
    return layers


class PlaygroundNet(nn.Module):
    """Six convs, one max-pool after conv2, conv3 1×1, GAP then a 1×1 conv classifier."""

    def __init__(self, channels: tuple[int, ...], bn: bool, dropout: float) -> None:
        super().__init__()
        c1, c2, c3, c4, c5, c6 = channels
        drop = [nn.Dropout(dropout)] if dropout > 0 else []
        self.block1 = nn.Sequential(*_unit(1, c1, 3, bn), *_unit(c1, c2, 3, bn))  # 28×28
        self.pool = nn.Sequential(nn.MaxPool2d(2), *drop)  # (N, c2, 14, 14)
        self.transition = nn.Sequential(*_unit(c2, c3, 1, bn))  # 1×1 bottleneck, RF unchanged
        self.block2 = nn.Sequential(*_unit(c3, c4, 3, bn), *_unit(c4, c5, 3, bn),
                                    *_unit(c5, c6, 3, bn), *drop)  # (N, c6, 14, 14)
        self.gap = nn.AdaptiveAvgPool2d(1)  # (N, c6, 1, 1)
        self.classifier = nn.Conv2d(c6, 10, 1)  # (N, 10, 1, 1): "GAP + 1×1 classifier"
        self.flatten = nn.Flatten()  # (N, 10) logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block2(self.transition(self.pool(self.block1(x))))
        return self.flatten(self.classifier(self.gap(x)))


class PlaygroundSeparableNet(nn.Module):
    """model3a, "MobileNet-inspired depthwise-separable blocks; GAP head; two pooling stages".

        stem conv 3×3 1→12          (N, 12, 28, 28)  RF  3
        sep 12→16                   (N, 16, 28, 28)  RF  5
        pool                        (N, 16, 14, 14)  RF  6  jump 2
        sep 16→24, sep 24→32        (N, 32, 14, 14)  RF 10, 14
        pool                        (N, 32,  7,  7)  RF 16  jump 4
        sep 32→40                   (N, 40,  7,  7)  RF 24
        GAP, 1×1 conv 40→10         (N, 10)
    Each separable block is MobileNet's dw → act → BN → pw → act → BN, with this seed's
    ReLU-before-BN order. Channels are ours, sized to the seed's ~4,560 parameters.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_unit(1, 12, 3, bn=True))
        self.stage1 = nn.Sequential(self._sep(12, 16), nn.MaxPool2d(2))
        self.stage2 = nn.Sequential(self._sep(16, 24), self._sep(24, 32), nn.MaxPool2d(2))
        self.stage3 = self._sep(32, 40)
        self.head = GapHead()  # (N, 40)
        self.classifier = nn.Linear(40, 10)  # same parameters as a 1×1 conv on the GAP output

    @staticmethod
    def _sep(c_in: int, c_out: int) -> nn.Sequential:
        sep = DepthwiseSeparableConv(c_in, c_out)
        return nn.Sequential(sep.dw, nn.ReLU(), nn.BatchNorm2d(c_in),
                             sep.pw, nn.ReLU(), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.classifier(self.head(x))  # (N, 10) logits


def build_model1() -> nn.Module:
    """Baseline: no BN, no dropout."""
    return PlaygroundNet((10, 16, 8, 10, 12, 20), bn=False, dropout=0.0)


def build_model2() -> nn.Module:
    """model1 + BN after each conv + dropout 0.1 after the pool and before the GAP."""
    return PlaygroundNet((10, 16, 8, 10, 12, 20), bn=True, dropout=0.1)


def build_model3() -> nn.Module:
    """The mainline 1→10→16→12→14→14→12 net (no dropout: the seed mentions none for it)."""
    return PlaygroundNet((10, 16, 12, 14, 14, 12), bn=True, dropout=0.0)


def build_model3a() -> nn.Module:
    return PlaygroundSeparableNet()
