"""Seed 002, EVA5 S4: eight convs, ReLU *then* BatchNorm, no fully connected layer.

The seed's code comments and its printed torchsummary disagree: the comments pad conv6
(14×14 → 14×14) and not conv7 (7×7 → 5×5), the summary shows conv6 14×14 → 12×12 and conv7
6×6 → 6×6. We reproduce the summary, which is what ran (9,274 parameters either way; padding
adds none). With that, AvgPool2d(3, stride 2) sees a 4×4 map and keeps only its top-left 3×3
window: the last row and column of conv8's output never reach the logits.

Shapes, receptive field (RF) and jump (hand-computed; the seed's comments claim 77 at the end):
    conv1 3×3 p1  1→4    (N,  4, 28, 28)  RF  3  jump 1
    conv2 3×3 p1  4→4    (N,  4, 28, 28)  RF  5
    conv3 3×3 p1  4→8    (N,  8, 28, 28)  RF  7
    pool1 2×2            (N,  8, 14, 14)  RF  8  jump 2
    conv4 3×3 p1  8→12   (N, 12, 14, 14)  RF 12
    conv5 3×3 p1 12→12   (N, 12, 14, 14)  RF 16
    conv6 3×3 p0 12→16   (N, 16, 12, 12)  RF 20
    pool2 2×2            (N, 16,  6,  6)  RF 22  jump 4
    conv7 3×3 p1 16→20   (N, 20,  6,  6)  RF 30
    conv8 3×3 p0 20→10   (N, 10,  4,  4)  RF 38   (no ReLU/BN: these are the class maps)
    avgpool 3, stride 2  (N, 10,  1,  1)  RF 46  jump 8
The seed ends with log_softmax; our trainer applies cross-entropy to logits, so we return them.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn


def _conv_relu_bn(i: int, c_in: int, c_out: int, padding: int) -> list[tuple[str, nn.Module]]:
    """The seed's order: conv → ReLU → BN (BN normalises the rectified activations)."""
    return [
        (f"conv{i}", nn.Conv2d(c_in, c_out, 3, padding=padding)),
        (f"relu{i}", nn.ReLU()),
        (f"bn{i}", nn.BatchNorm2d(c_out)),
    ]


def build_s4() -> nn.Module:
    """The EVA5 S4 net as printed by torchsummary: (N, 1, 28, 28) -> (N, 10) logits."""
    layers = [
        *_conv_relu_bn(1, 1, 4, 1),
        *_conv_relu_bn(2, 4, 4, 1),
        *_conv_relu_bn(3, 4, 8, 1),
        ("pool1", nn.MaxPool2d(2, 2)),
        *_conv_relu_bn(4, 8, 12, 1),
        *_conv_relu_bn(5, 12, 12, 1),
        *_conv_relu_bn(6, 12, 16, 0),  # summary: 14×14 → 12×12 (the comment says padding 1)
        ("pool2", nn.MaxPool2d(2, 2)),
        *_conv_relu_bn(7, 16, 20, 1),  # summary: 6×6 → 6×6 (the comment says no padding)
        ("conv8", nn.Conv2d(20, 10, 3)),  # (N, 10, 4, 4)
        ("avgpool", nn.AvgPool2d(3, 2)),  # (N, 10, 1, 1)
        ("flatten", nn.Flatten()),  # (N, 10): the seed's x.view(-1, 10)
    ]
    return nn.Sequential(OrderedDict(layers))
