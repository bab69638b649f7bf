"""The paper's "naive" Inception module (Figure 2(a)) and why GoogLeNet could not stack it.

Figure 2(a) runs a 1x1, a 3x3 and a 5x5 convolution and a 3x3 max pool side by side on the block's input
and concatenates them, with no 1x1 reductions and no projection after the pool. The pool passes all its
input channels through, so every block outputs more channels than it reads, and the next block's 3x3 and
5x5 convolutions read all of them. The paper (Section 4) names this "inevitable increase in the number of
outputs from stage to stage" as the reason for the reductions. The series' reduction-free block
(``InceptionBlock(..., reductions=False)``) keeps the pool projection, so its width stays Table 1's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..model import INCEPTION_TABLE

__all__ = ["NaiveInceptionBlock", "NaiveStage", "naive_growth", "naive_growth_table"]

# Side of each block's feature map in the 224 x 224 network (Table 1).
MAP_SIDE = {"inception3a": 28, "inception3b": 28, "inception4a": 14, "inception4b": 14, "inception4c": 14,
            "inception4d": 14, "inception4e": 14, "inception5a": 7, "inception5b": 7}


class NaiveInceptionBlock(nn.Module):
    """Figure 2(a): 1x1, 3x3 and 5x5 convolutions (each + ReLU) and a 3x3 max pool, concatenated."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3: int, ch5x5: int) -> None:
        super().__init__()
        self.branch1 = nn.Sequential(nn.Conv2d(in_channels, ch1x1, 1), nn.ReLU(inplace=True))
        self.branch2 = nn.Sequential(nn.Conv2d(in_channels, ch3x3, 3, padding=1), nn.ReLU(inplace=True))
        self.branch3 = nn.Sequential(nn.Conv2d(in_channels, ch5x5, 5, padding=2), nn.ReLU(inplace=True))
        self.branch4 = nn.MaxPool2d(3, stride=1, padding=1)  # no projection: all input channels pass
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + in_channels

    def forward(self, x: Tensor) -> Tensor:
        """Return the four outputs stacked along channels: N x (ch1x1 + ch3x3 + ch5x5 + in_channels) x H x W."""
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


@dataclass(frozen=True)
class NaiveStage:
    """One block of a GoogLeNet built from Figure 2(a) blocks, beside the real block."""

    name: str
    in_channels: int
    out_channels: int
    googlenet_out: int   # Table 1's output width, with reductions and pool projection
    macs: int            # multiply-adds of the naive block's convolutions at its map size in the 224 network
    googlenet_macs: int  # the same for the real block


def _conv_macs(cin: int, cout: int, kernel: int, side: int) -> int:
    return cin * cout * kernel * kernel * side * side


def naive_growth() -> list[NaiveStage]:
    """Return, block by block, the widths and multiply-adds of GoogLeNet built from Figure 2(a) blocks, each with
    Table 1's 1x1, 3x3 and 5x5 widths and fed the previous naive block's output."""
    stages, channels = [], INCEPTION_TABLE["inception3a"][0]
    for name, (real_in, ch1, red3, ch3, red5, ch5, proj) in INCEPTION_TABLE.items():
        side = MAP_SIDE[name]
        naive = sum(_conv_macs(channels, c, k, side) for c, k in ((ch1, 1), (ch3, 3), (ch5, 5)))
        real = (_conv_macs(real_in, ch1 + red3 + red5 + proj, 1, side) + _conv_macs(red3, ch3, 3, side)
                + _conv_macs(red5, ch5, 5, side))
        stages.append(NaiveStage(name, channels, ch1 + ch3 + ch5 + channels, ch1 + ch3 + ch5 + proj, naive, real))
        channels += ch1 + ch3 + ch5
    return stages


def naive_growth_table() -> str:
    """Return naive_growth() as a Markdown table with a total row (multiply-adds in millions, 224 x 224 input)."""
    stages = naive_growth()
    out = ["| block | input channels | output, Figure 2(a) blocks | output, GoogLeNet | M multiply-adds, Figure 2(a) "
           "| M multiply-adds, GoogLeNet |", "|---|---:|---:|---:|---:|---:|"]
    out += [f"| {s.name} | {s.in_channels:,} | {s.out_channels:,} | {s.googlenet_out:,} | {s.macs / 1e6:,.0f} "
            f"| {s.googlenet_macs / 1e6:,.0f} |" for s in stages]
    total, real = sum(s.macs for s in stages), sum(s.googlenet_macs for s in stages)
    out.append(f"| all nine | | | | {total / 1e6:,.0f} | {real / 1e6:,.0f} |")
    return "\n".join(out)
