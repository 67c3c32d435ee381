"""Seed 000, "Architecture Review - Iteration 4": the 26k net and the variants it proposes.

Every net here shares Iteration 4's three-block layout. The seed gives the layers but no
forward(); we read it as its Option A code and text say: conv → BN → ReLU, "Block 1: 28x28 →
13x13" and "Block 2: 13x13 → 4x4" (so a 2×2 max-pool ends blocks 1 and 2), Dropout2d right
after each pool ("dropout after pooling"), GAP, Dropout(0.15), then the only Linear layer.

Shapes and receptive field (RF) / jump for Iteration 4 (Option A is the same with 28/36/48):
    input                      (N,  1, 28, 28)  RF  1  jump 1
    conv1 3×3 pad 1  1→16      (N, 16, 28, 28)  RF  3
    conv2 3×3       16→20      (N, 20, 26, 26)  RF  5
    pool1 2×2                  (N, 20, 13, 13)  RF  6  jump 2
    conv3 3×3       20→32      (N, 32, 11, 11)  RF 10
    conv4 3×3       32→48      (N, 48,  9,  9)  RF 14
    pool2 2×2                  (N, 48,  4,  4)  RF 16  jump 4  (floor: row/col 9 dropped)
    conv5 1×1       48→64      (N, 64,  4,  4)  RF 16
    GAP + Linear 64→10         (N, 10)          whole input
All convs keep nn.Conv2d's default bias, as the seed's code does (its Iteration 4 table counts
them; Option B's per-layer figures and Strategies 3–4 leave them out).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


def _cbr(conv_name: str, conv: nn.Conv2d, bn_name: str, relu_name: str) -> list[tuple]:
    """conv → BN → ReLU as named (name, module) pairs for an OrderedDict."""
    return [(conv_name, conv), (bn_name, nn.BatchNorm2d(conv.out_channels)), (relu_name, nn.ReLU())]


def _pool_drop(index: int, p: float) -> list[tuple]:
    """2×2 max-pool (halves H, W; RF + jump, jump ×2), then channel dropout (the seed's order)."""
    return [(f"pool{index}", nn.MaxPool2d(2)), (f"dropout{index}", nn.Dropout2d(p))]


class ReviewNet(nn.Module):
    """block1 (28→13 or 14) → block2 (→4 or 5) → conv5 1×1 → GAP → Dropout → Linear."""

    def __init__(self, block1: list[tuple], block2: list[tuple], c4: int, c5: int) -> None:
        super().__init__()
        self.block1 = nn.Sequential(OrderedDict(block1))
        self.block2 = nn.Sequential(OrderedDict(block2))
        # Block 3: a 1×1 conv widens channels without touching the RF ("better feature mixing").
        conv5 = nn.Conv2d(c4, c5, 1)  # (N, c5, H, W), RF unchanged
        self.block3 = nn.Sequential(OrderedDict(_cbr("conv5", conv5, "bn5", "relu5")))
        self.gap = nn.AdaptiveAvgPool2d(1)  # (N, c5, 1, 1)
        self.flatten = nn.Flatten()  # (N, c5)
        self.dropout3 = nn.Dropout(0.15)
        self.fc = nn.Linear(c5, 10)  # (N, 10) logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block3(self.block2(self.block1(x)))
        return self.fc(self.dropout3(self.flatten(self.gap(x))))


def _block1(c1: int, c2: int) -> list[tuple]:
    return [
        *_cbr("conv1", nn.Conv2d(1, c1, 3, padding=1), "bn1", "relu1"),  # (N, c1, 28, 28)
        *_cbr("conv2", nn.Conv2d(c1, c2, 3), "bn2", "relu2"),  # (N, c2, 26, 26)
        *_pool_drop(1, 0.05),  # (N, c2, 13, 13)
    ]


def _block2(c2: int, c3: int, c4: int) -> list[tuple]:
    return [
        *_cbr("conv3", nn.Conv2d(c2, c3, 3), "bn3", "relu3"),  # (N, c3, 11, 11)
        *_cbr("conv4", nn.Conv2d(c3, c4, 3), "bn4", "relu4"),  # (N, c4, 9, 9)
        *_pool_drop(2, 0.10),  # (N, c4, 4, 4)
    ]


def _plain(c1: int, c2: int, c3: int, c4: int, c5: int) -> ReviewNet:
    return ReviewNet(_block1(c1, c2), _block2(c2, c3, c4), c4, c5)


def build_iteration4() -> nn.Module:
    """Iteration 4 as its parameter table lists it: 1→16→20→32→48→64, GAP, Linear 64→10."""
    return _plain(16, 20, 32, 48, 64)


def build_option_a() -> nn.Module:
    """Option A (Strategy 1): the same net with channels 16→20→28→36→48."""
    return _plain(16, 20, 28, 36, 48)


def build_option_b() -> nn.Module:
    """Option B: conv2 widened to 24, conv3/conv4 made depthwise-separable, conv5 1×1 48→64."""
    block2 = [
        # Depthwise 3×3 (one filter per channel) then pointwise 1×1: RF +2 like a full 3×3.
        ("conv3_dw", nn.Conv2d(24, 24, 3, groups=24)),  # (N, 24, 11, 11)
        *_cbr("conv3_pw", nn.Conv2d(24, 32, 1), "bn3", "relu3"),  # (N, 32, 11, 11)
        ("conv4_dw", nn.Conv2d(32, 32, 3, groups=32)),  # (N, 32, 9, 9)
        *_cbr("conv4_pw", nn.Conv2d(32, 48, 1), "bn4", "relu4"),  # (N, 48, 9, 9)
        *_pool_drop(2, 0.10),  # (N, 48, 4, 4)
    ]
    return ReviewNet(_block1(16, 24), block2, 48, 64)


def build_iteration4_bottleneck() -> nn.Module:
    """Strategy 3 on Iteration 4: block 2 becomes reduce 1×1 → 3×3 → 3×3 → expand 1×1."""
    block2 = [
        # 20→16 before the costly 3×3s; each conv keeps Iteration 4's BN + ReLU after it.
        *_cbr("reduce2", nn.Conv2d(20, 16, 1), "bn_reduce2", "relu_reduce2"),  # (N, 16, 13, 13)
        *_cbr("conv3", nn.Conv2d(16, 32, 3), "bn3", "relu3"),  # (N, 32, 11, 11)
        *_cbr("conv4", nn.Conv2d(32, 32, 3), "bn4", "relu4"),  # (N, 32, 9, 9)
        *_cbr("expand2", nn.Conv2d(32, 48, 1), "bn_expand2", "relu_expand2"),  # (N, 48, 9, 9)
        *_pool_drop(2, 0.10),  # (N, 48, 4, 4)
    ]
    return ReviewNet(_block1(16, 20), block2, 48, 64)


def build_iteration4_asymmetric() -> nn.Module:
    """Strategy 4 on Iteration 4: conv2 (3×3) becomes a 1×3 then a 3×1 conv, as in the seed.

    The seed's code pads both (padding (0, 1) and (1, 0)), so conv2 keeps 28×28 where the
    unpadded 3×3 gave 26×26; every later map is one pool-step larger (14, 12, 10, 5). The
    pair has no BN/ReLU in between: it is a drop-in, rank-limited replacement of one 3×3 conv.
    """
    block1 = [
        *_cbr("conv1", nn.Conv2d(1, 16, 3, padding=1), "bn1", "relu1"),  # (N, 16, 28, 28) RF 3
        ("conv2_h", nn.Conv2d(16, 20, (1, 3), padding=(0, 1))),  # (N, 20, 28, 28) RF 3×5
        *_cbr("conv2_v", nn.Conv2d(20, 20, (3, 1), padding=(1, 0)), "bn2", "relu2"),  # RF 5×5
        *_pool_drop(1, 0.05),  # (N, 20, 14, 14)
    ]
    return ReviewNet(block1, _block2(20, 32, 48), 48, 64)  # block 2 → (N, 48, 5, 5)
