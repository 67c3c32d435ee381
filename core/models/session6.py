"""Seed 001, "Session-6": three nets for 99.4% under 8k parameters (Adam + OneCycle).

Model_1's layers are given exactly. Model_2 and Model_3 are only sketched (depthwise-separable
convs, 1×1 skip convs, lightweight SE, progressive dropout); the versions here are our most
faithful reading: Model_1's three-block layout (28 → 14 → 7, padding 1 everywhere, GAP head),
with the second 3×3 conv of every block made a residual depthwise-separable block and the
class maps made by a 1×1 conv.

Receptive field (RF) / jump shared by all three (the seed's comments stop adding 8 per conv after
the second pool and print 20 and 24 for the last two convs; its own text says "32x32 final RF"):
    conv 3×3          (N,  C, 28, 28)  RF  3  jump 1
    conv 3×3          (N,  C, 28, 28)  RF  5
    max-pool 2×2      (N,  C, 14, 14)  RF  6  jump 2
    conv 3×3 ×2       (N,  C, 14, 14)  RF 10, 14
    max-pool 2×2      (N,  C,  7,  7)  RF 16  jump 4
    conv 3×3 ×2       (N,  C,  7,  7)  RF 24, 32
    GAP               (N, 10)          whole input
"""

from __future__ import annotations

import torch
from torch import nn

from core.models.blocks import DepthwiseSeparableConv, GapHead, SqueezeExcite


def _cbr(c_in: int, c_out: int) -> nn.Sequential:
    """3×3 conv, padding 1 (size kept) → BN → ReLU: (N, c_in, H, W) -> (N, c_out, H, W)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())


class Model1(nn.Module):
    """Model_1 exactly as listed: 1→6→12 | pool | 12→16→20 | pool | 20→16→10 | GAP."""

    def __init__(self) -> None:
        super().__init__()
        self.block1 = nn.Sequential(_cbr(1, 6), _cbr(6, 12))  # (N, 12, 28, 28) RF 5
        self.pool1 = nn.Sequential(nn.MaxPool2d(2), nn.Dropout(0.05))  # (N, 12, 14, 14) RF 6
        self.block2 = nn.Sequential(_cbr(12, 16), _cbr(16, 20))  # (N, 20, 14, 14) RF 14
        self.pool2 = nn.Sequential(nn.MaxPool2d(2), nn.Dropout(0.05))  # (N, 20, 7, 7) RF 16
        self.block3 = _cbr(20, 16)  # (N, 16, 7, 7) RF 24
        # The last conv makes the 10 class maps directly (no BN/ReLU): GAP of them are the logits.
        self.classifier = nn.Conv2d(16, 10, 3, padding=1)  # (N, 10, 7, 7) RF 32
        self.head = GapHead()  # (N, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool2(self.block2(self.pool1(self.block1(x))))
        return self.head(self.classifier(self.block3(x)))


class ResidualSeparable(nn.Module):
    """y = ReLU(SE?(BN(dwsep(x))) + skip(x)): the seed's "x = x + skip_conv(skip)" pattern.

    (N, c_in, H, W) -> (N, c_out, H, W). The skip is a 1×1 conv when channels change (no bias:
    the BN shift on the main path already adds a per-channel offset), else the identity.
    """

    def __init__(self, c_in: int, c_out: int, se: bool = False) -> None:
        super().__init__()
        self.conv = DepthwiseSeparableConv(c_in, c_out)
        self.bn = nn.BatchNorm2d(c_out)
        self.se = SqueezeExcite(c_out) if se else nn.Identity()
        self.skip = nn.Conv2d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.se(self.bn(self.conv(x))) + self.skip(x))


class Session6SeparableNet(nn.Module):
    """Model_2 (se=False) and Model_3 (se=True): Model_1's layout made separable and residual.

        stem     conv 1→8 + BN + ReLU                 (N,  8, 28, 28)  RF  3
        block1   residual dwsep 8→12 (the seed's example block: dw 8→8, pw 8→12)
                                                      (N, 12, 28, 28)  RF  5
        pool1    max-pool 2 + dropout                 (N, 12, 14, 14)  RF  6  jump 2
        conv2    conv 12→16 + BN + ReLU               (N, 16, 14, 14)  RF 10
        block2   residual dwsep 16→20                 (N, 20, 14, 14)  RF 14
        pool2    max-pool 2 + dropout                 (N, 20,  7,  7)  RF 16  jump 4
        conv3    conv 20→18 + BN + ReLU               (N, 18,  7,  7)  RF 24
        block3   residual dwsep 18→18, identity skip  (N, 18,  7,  7)  RF 32
        head     dropout, 1×1 conv 18→10, GAP         (N, 10)
    Full 3×3 convs stay where a block starts (conv2, conv3): with few input channels the
    separable saving is small and the full conv mixes channels spatially.
    """

    def __init__(self, se: bool, dropout: tuple[float, float, float]) -> None:
        super().__init__()
        self.stem = _cbr(1, 8)
        self.block1 = ResidualSeparable(8, 12, se)
        self.pool1 = nn.Sequential(nn.MaxPool2d(2), nn.Dropout(dropout[0]))
        self.conv2 = _cbr(12, 16)
        self.block2 = ResidualSeparable(16, 20, se)
        self.pool2 = nn.Sequential(nn.MaxPool2d(2), nn.Dropout(dropout[1]))
        self.conv3 = _cbr(20, 18)
        self.block3 = ResidualSeparable(18, 18, se)
        self.dropout3 = nn.Dropout(dropout[2])
        self.classifier = nn.Conv2d(18, 10, 1)  # (N, 10, 7, 7) class maps
        self.head = GapHead()  # (N, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.block1(self.stem(x)))
        x = self.pool2(self.block2(self.conv2(x)))
        x = self.dropout3(self.block3(self.conv3(x)))
        return self.head(self.classifier(x))


def build_model1() -> nn.Module:
    return Model1()


def build_model2() -> nn.Module:
    """Depthwise-separable + skips; dropout 0.05 after each pool as in Model_1 (none stated)."""
    return Session6SeparableNet(se=False, dropout=(0.05, 0.05, 0.0))


def build_model3() -> nn.Module:
    """Model_2 plus an SE gate in every residual block and the seed's dropout 0.03/0.03/0.02."""
    return Session6SeparableNet(se=True, dropout=(0.03, 0.03, 0.02))
