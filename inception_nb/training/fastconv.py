"""Convolutions on tiny feature maps as plain matrix products: same weights, same results, faster on CPU.

At 28 x 28 input the later Inception blocks see 2 x 2 and 1 x 1 maps. A 3x3 convolution there spends
most of its work on padding zeros, and oneDNN's convolution kernels run such skinny shapes at a
fraction of the speed of one matrix product. Two exact rewrites fix that (docs/performance.md):

- a 1x1 convolution is a matrix product over channels at every pixel (``F.linear`` on N x H x W x C);
- a "same" k x k convolution on a map no wider than its padding reach (every input pixel within the
  kernel of every output pixel) is one dense matrix from all input pixels to all output pixels,
  ``(H*W*C_out) x (H*W*C_in)``, whose blocks are the kernel's taps: on a 2 x 2 map a 3x3 conv then
  does 16 instead of 36 multiply-adds per channel pair, and a 5x5 one 16 instead of 100.

The model keeps plain ``nn.Conv2d`` layers (what the notebooks print and the post describes);
:func:`matmul_convs` swaps them for :class:`MatmulConv2d` only while training runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MatmulConv2d", "matmul_convs"]


@lru_cache(maxsize=64)
def _tap_index(height: int, width: int, kernel: int, device: str) -> Tensor:
    """Kernel tap (row-major) linking each (output pixel, input pixel) pair, for a 'same' padded kernel."""
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    rows, cols = rows.reshape(-1), cols.reshape(-1)
    pad = kernel // 2
    tap_row = rows[None, :] - rows[:, None] + pad  # [output pixel, input pixel]
    tap_col = cols[None, :] - cols[:, None] + pad
    return (tap_row * kernel + tap_col).reshape(-1).to(device)


class MatmulConv2d(nn.Conv2d):
    """A Conv2d that runs as one matrix product where that is exact and cheaper; otherwise as a Conv2d."""

    def forward(self, x: Tensor) -> Tensor:
        """Return the same output as ``nn.Conv2d.forward``."""
        if not _plain_same_conv(self):
            return super().forward(x)
        kernel, pad = self.kernel_size[0], self.padding[0]
        batch, channels, height, width = x.shape
        if kernel == 1:
            weight = self.weight.reshape(self.out_channels, channels)
            return F.linear(x.permute(0, 2, 3, 1), weight, self.bias).permute(0, 3, 1, 2)
        if height - 1 > pad or width - 1 > pad:
            return super().forward(x)  # a map wider than the kernel's reach: the conv kernel is better
        pixels = height * width
        taps = self.weight.permute(0, 2, 3, 1).reshape(self.out_channels, kernel * kernel, channels)
        dense = taps.index_select(1, _tap_index(height, width, kernel, str(x.device)))
        dense = dense.view(self.out_channels, pixels, pixels, channels).transpose(0, 1)
        dense = dense.reshape(pixels * self.out_channels, pixels * channels)
        bias = None if self.bias is None else self.bias.repeat(pixels)
        out = F.linear(x.permute(0, 2, 3, 1).reshape(batch, pixels * channels), dense, bias)
        return out.view(batch, height, width, self.out_channels).permute(0, 3, 1, 2)


def _plain_same_conv(conv: nn.Conv2d) -> bool:
    """True for an ungrouped, stride-1 conv with a square odd kernel and 'same' zero padding."""
    kernel = conv.kernel_size[0]
    return (conv.groups == 1 and conv.stride == (1, 1) and conv.dilation == (1, 1)
            and conv.padding_mode == "zeros" and kernel % 2 == 1 and conv.kernel_size == (kernel, kernel)
            and conv.padding == (kernel // 2, kernel // 2))


@contextmanager
def matmul_convs(model: nn.Module, enabled: bool = True) -> Iterator[int]:
    """Within the block, run the model's eligible Conv2d layers as :class:`MatmulConv2d`; yield how many."""
    swapped = [m for m in model.modules() if enabled and type(m) is nn.Conv2d and _plain_same_conv(m)]
    for module in swapped:
        module.__class__ = MatmulConv2d
    try:
        yield len(swapped)
    finally:
        for module in swapped:
            module.__class__ = nn.Conv2d
