"""A diagram of an Inception block: previous layer, four parallel branches, filter concatenation."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
from torch import nn

from .analysis import find_block
from .plots import fig_ax

__all__ = ["BLOCK_COLOURS", "draw_inception_block", "draw_block"]

# Colour per operation in the block diagram (and its legend): 1x1 convs, 3x3 convs, 5x5 convs, max pooling.
BLOCK_COLOURS = {1: "#ffe08a", 3: "#9fd3f5", 5: "#f5a9a9", "pool": "#b8e0a3", "io": "#e4e4e4"}


def draw_inception_block(ch1x1: int = 64, ch3x3red: int = 96, ch3x3: int = 128, ch5x5red: int = 16,
                         ch5x5: int = 32, pool_proj: int = 32, in_channels: int = 192, ax: Axes | None = None,
                         title: str | None = None, five_kernel: int = 5) -> Figure:
    """Return a diagram of an Inception block: previous layer, four parallel branches, concatenation."""
    fig, ax = fig_ax(ax, (9.5, 6.2))
    ax.set(xlim=(0, 10), ylim=(0, 10))
    ax.axis("off")
    out = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def box(x: float, y: float, text: str, colour: str, width: float = 2.1) -> None:
        ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.5), width, 1.0, facecolor=colour, edgecolor="#444",
                                    linewidth=1.2, boxstyle="round,pad=0.02,rounding_size=0.15"))
        ax.text(x, y, text, ha="center", va="center", fontsize=11)

    def arrow(x: float, y0: float, y1: float) -> None:
        ax.add_patch(FancyArrowPatch((x, y0), (x, y1), arrowstyle="-|>", mutation_scale=14, color="#444",
                                     linewidth=1.2, shrinkA=0, shrinkB=0))

    cols = [1.3 + i * 2.47 for i in range(4)]
    prev_y, low_y, high_y, cat_y = 1.0, 3.7, 6.1, 8.8
    box(5, prev_y, f"Previous layer\n{in_channels} ch", BLOCK_COLOURS["io"], width=9.5)
    box(5, cat_y, f"Filter concatenation\n{ch1x1} + {ch3x3} + {ch5x5} + {pool_proj} = {out} ch",
        BLOCK_COLOURS["io"], width=9.5)
    k = five_kernel
    for x, y, text, colour in ((cols[1], low_y, f"1x1 conv\n{ch3x3red} ch", 1),
                               (cols[2], low_y, f"1x1 conv\n{ch5x5red} ch", 1),
                               (cols[3], low_y, f"3x3 max pool\n{in_channels} ch", "pool"),
                               (cols[0], high_y, f"1x1 conv\n{ch1x1} ch", 1),
                               (cols[1], high_y, f"3x3 conv\n{ch3x3} ch", 3),
                               (cols[2], high_y, f"{k}x{k} conv\n{ch5x5} ch", k if k in (1, 3) else 5),
                               (cols[3], high_y, f"1x1 conv\n{pool_proj} ch", 1)):
        box(x, y, text, BLOCK_COLOURS[colour])
    arrow(cols[0], prev_y + 0.5, high_y - 0.5)  # the plain 1x1 branch has no reduction step
    for x in cols[1:]:
        arrow(x, prev_y + 0.5, low_y - 0.5)
        arrow(x, low_y + 0.5, high_y - 0.5)
    for x in cols:
        arrow(x, high_y + 0.5, cat_y - 0.5)
    kinds = ((1, "1x1 conv (reduce / project)"), (3, "3x3 conv"), (5, "5x5 conv"), ("pool", "3x3 max pool, stride 1"))
    legend = [Patch(facecolor=BLOCK_COLOURS[key], edgecolor="#444", label=label) for key, label in kinds
              if key != 5 or k == 5]  # torchvision's "5x5" branch is really 3x3 (pytorch/vision#906)
    ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=4, frameon=False, fontsize=9)
    ax.set_title(title or "Inception block: four parallel branches, each keeps H x W,\n"
                          "so their outputs stack along the channel axis")
    return fig


def draw_block(block: nn.Module, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Return draw_inception_block's diagram with the channel numbers read from an Inception block."""
    block = find_block(block)
    convs = [[m for m in getattr(block, f"branch{i}").modules() if isinstance(m, nn.Conv2d)] for i in range(1, 5)]
    ch = {"in_channels": convs[0][0].in_channels, "ch1x1": convs[0][0].out_channels,
          "ch3x3red": convs[1][0].out_channels, "ch3x3": convs[1][-1].out_channels,
          "ch5x5red": convs[2][0].out_channels, "ch5x5": convs[2][-1].out_channels,
          "pool_proj": convs[3][-1].out_channels}
    ch = {name: getattr(block, name, value) for name, value in ch.items()}
    return draw_inception_block(**ch, ax=ax, title=title, five_kernel=convs[2][-1].kernel_size[0])
