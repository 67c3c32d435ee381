"""Seed 003, "MNIST CNN Architecture Experiments": six small channel-progression studies.

The seed gives each net's __init__ and says "all models use ReLU activation and MaxPool2D";
its per-experiment notes place the pools ("Conv2: ... + MaxPool2D"). None of the convs is
padded, so 28 → 26 → 24 → pool 12 (→ 10 → pool 5). There is no BatchNorm and no dropout.
The seed's nets end in log_softmax; our trainer applies cross-entropy to logits, so we return
the logits (log_softmax of them gives the seed's output exactly).

Experiment 1's "~21K (estimated)" is far off: its Linear(9216, 50) alone holds 460,850
weights; the net has 480,176 parameters. Experiments 5 and 6 are the same net (6 only trains
with batch 128 instead of 512), so they share `build_exp5`.
"""

from __future__ import annotations

import torch
from torch import nn


class ThreeConvNet(nn.Module):
    """Experiments 2–6: conv → ReLU → conv → ReLU → pool → conv → ReLU → pool → Linear(s).

        conv1 3×3  1→c1         (N, c1, 26, 26)  RF  3  jump 1
        conv2 3×3 c1→c2, pool   (N, c2, 12, 12)  RF  5 → 6  jump 2
        conv3 3×3 c2→c3, pool   (N, c3,  5,  5)  RF 10 → 12  jump 4
        flatten                 (N, 25·c3)
        fc1 [ReLU fc2]          (N, 10)          whole input (every position feeds the Linear)
    """

    def __init__(self, c1: int, c2: int, c3: int, hidden: int | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, kernel_size=3)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=3)
        self.conv3 = nn.Conv2d(c2, c3, kernel_size=3)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        features = c3 * 5 * 5
        if hidden is None:  # experiments 2, 3, 5, 6: straight to the 10 classes
            self.fc1 = nn.Linear(features, 10)
            self.fc2: nn.Module | None = None
        else:  # experiment 4: a hidden layer of `hidden` units
            self.fc1 = nn.Linear(features, hidden)
            self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv1(x))  # (N, c1, 26, 26)
        x = self.pool(self.relu(self.conv2(x)))  # (N, c2, 12, 12)
        x = self.pool(self.relu(self.conv3(x)))  # (N, c3, 5, 5)
        x = self.fc1(self.flatten(x))
        if self.fc2 is not None:
            x = self.fc2(self.relu(x))
        return x  # (N, 10) logits


class Exp1Net(nn.Module):
    """Experiment 1, the pytorch/examples MNIST layout (its dropouts are not in the seed).

        conv1 3×3  1→32         (N, 32, 26, 26)  RF 3
        conv2 3×3 32→64         (N, 64, 24, 24)  RF 5
        pool 2×2                (N, 64, 12, 12)  RF 6  jump 2
        fc1 9216→50, fc2 50→10  (N, 10)          whole input
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(9216, 50)  # 64 · 12 · 12 = 9216 inputs: 460,850 parameters
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.conv2(self.relu(self.conv1(x)))))  # (N, 64, 12, 12)
        return self.fc2(self.relu(self.fc1(self.flatten(x))))  # (N, 10) logits


def build_exp1() -> nn.Module:
    return Exp1Net()


def build_exp2() -> nn.Module:
    """Inverted progression 64→32→16, Linear 400→10: 27,738 parameters (as the seed says)."""
    return ThreeConvNet(64, 32, 16)


def build_exp3() -> nn.Module:
    """Minimal 8→16→8, Linear 200→10: 4,418 parameters."""
    return ThreeConvNet(8, 16, 8)


def build_exp4() -> nn.Module:
    """Experiment 3 with a hidden layer 200→50→10: 12,968 parameters."""
    return ThreeConvNet(8, 16, 8, hidden=50)


def build_exp5() -> nn.Module:
    """Front-loaded 64→32→8, Linear 200→10: 23,426 parameters (also experiment 6)."""
    return ThreeConvNet(64, 32, 8)
