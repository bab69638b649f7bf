"""Exact rewrites that train this network faster on CPU: same weights, same results.

Most of them run convolutions as plain matrix products.

At 28 x 28 input the later Inception blocks see 2 x 2 and 1 x 1 maps. A 3x3 convolution there spends
most of its work on padding zeros, and oneDNN's convolution kernels run such skinny shapes at a
fraction of the speed of one matrix product. Two exact rewrites fix that (docs/performance.md):

- a 1x1 convolution is a matrix product over channels at every pixel (``F.linear`` on N x H x W x C);
- a "same" k x k convolution on a map no wider than its padding reach (every input pixel within the
  kernel of every output pixel) is one dense matrix from all input pixels to all output pixels,
  ``(H*W*C_out) x (H*W*C_in)``, whose blocks are the kernel's taps: on a 2 x 2 map a 3x3 conv then
  does 16 instead of 36 multiply-adds per channel pair, and a 5x5 one 16 instead of 100.

A third rewrite joins the three 1x1 convolutions that read an Inception block's input (the 1x1 branch and the
two reductions) into one matrix product with one BatchNorm and one ReLU over their stacked channels, then splits
the result: BatchNorm normalises each channel on its own, so the sums are the same, in one larger product and
two fewer BatchNorm and ReLU passes per block (:class:`SharedInputBlock`). And a max pool over a 1 x 1 map (the
pool branch of 5a and 5b) returns its one pixel: PyTorch's pooling kernel takes 20 times longer than a copy there
(:class:`OnePixelMaxPool2d`).

The model keeps plain ``nn.Conv2d`` layers and blocks (what the notebooks print and the post describes);
:func:`matmul_convs` swaps the convolutions for :class:`MatmulConv2d`, and :func:`fast_training` the blocks and the
max pools too, only while training runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..model import InceptionBlock

__all__ = ["MatmulConv2d", "OnePixelMaxPool2d", "SharedInputBlock", "fast_training", "matmul_convs"]


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


def matmul_convs(model: nn.Module, enabled: bool = True) -> AbstractContextManager[int]:
    """Within the block, run the model's eligible Conv2d layers as :class:`MatmulConv2d`; yield how many."""
    return _swapped(_matmul_pairs(model) if enabled else [])


def _matmul_pairs(model: nn.Module) -> list[tuple[nn.Module, type]]:
    return [(m, MatmulConv2d) for m in model.modules() if type(m) is nn.Conv2d and _plain_same_conv(m)]


@contextmanager
def _swapped(pairs: list[tuple[nn.Module, type]]) -> Iterator[int]:
    """Within the block, give each module its rewrite's class; give back the plain ones after, error or not."""
    plain = [(module, type(module)) for module, _ in pairs]
    for module, rewrite in pairs:
        module.__class__ = rewrite
    try:
        yield len(pairs)
    finally:
        for module, cls in plain:
            module.__class__ = cls


class SharedInputBlock(InceptionBlock):
    """An InceptionBlock whose three 1x1 convolutions on the input run as one in training; otherwise unchanged."""

    def forward(self, x: Tensor) -> Tensor:
        """Return the same output as ``InceptionBlock.forward``, and update the same BatchNorm statistics."""
        heads = [self.branch1, self.branch2, self.branch3]
        if not (self.training and _shareable(heads)):
            return super().forward(x)
        convs, norms = [head[0] for head in heads], [head[1] for head in heads]
        sizes = [conv.out_channels for conv in convs]
        weight = torch.cat([conv.weight for conv in convs]).flatten(1)
        bias = None if convs[0].bias is None else torch.cat([conv.bias for conv in convs])
        stacked = F.linear(x.permute(0, 2, 3, 1), weight, bias).permute(0, 3, 1, 2)
        mean, var = torch.cat([bn.running_mean for bn in norms]), torch.cat([bn.running_var for bn in norms])
        stacked = F.batch_norm(stacked, mean, var, torch.cat([bn.weight for bn in norms]),
                               torch.cat([bn.bias for bn in norms]), True, norms[0].momentum, norms[0].eps)
        with torch.no_grad():  # F.batch_norm updated the stacked copies of the statistics; hand them back
            for bn, bn_mean, bn_var in zip(norms, mean.split(sizes), var.split(sizes)):
                bn.running_mean.copy_(bn_mean)
                bn.running_var.copy_(bn_var)
                bn.num_batches_tracked.add_(1)
        ones, reduced3, reduced5 = F.relu(stacked, inplace=True).split(sizes, dim=1)
        return torch.cat([ones, self.branch2[3:](reduced3), self.branch3[3:](reduced5), self.branch4(x)], dim=1)


def _conv_bn_relu(branch: nn.Sequential) -> bool:
    """True when a branch starts with a 1x1 conv, a training BatchNorm that tracks statistics by momentum, a ReLU."""
    if len(branch) < 3:
        return False
    conv, bn, relu = branch[0], branch[1], branch[2]
    # bn.training: a BatchNorm frozen with .eval() inside a training model normalises with its running statistics
    return (type(conv) in (nn.Conv2d, MatmulConv2d) and conv.kernel_size == (1, 1) and conv.stride == (1, 1)
            and conv.padding == (0, 0) and conv.groups == 1 and type(bn) is nn.BatchNorm2d and bn.training
            and bn.affine and bn.track_running_stats and bn.momentum is not None and type(relu) is nn.ReLU)


def _shareable(heads: list[nn.Sequential]) -> bool:
    """True when every head is conv-BatchNorm-ReLU, one stacked BatchNorm (and bias or none) serves them all, and
    no hook waits for a module the shared path does not call."""
    return (all(_conv_bn_relu(head) for head in heads)
            and len({(head[0].bias is None, head[1].eps, head[1].momentum) for head in heads}) == 1
            and not any(_hooked(module) for head in heads for module in (head, *head[:3])))


def _hooked(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks)


class OnePixelMaxPool2d(nn.MaxPool2d):
    """A MaxPool2d that returns a copy of a 1 x 1 map when its one window holds just that pixel."""

    def forward(self, x: Tensor) -> Tensor:
        """Return the same output as ``nn.MaxPool2d.forward``."""
        if x.shape[-2:] == (1, 1) and not self.return_indices and _pools_one_pixel_to_one(self):
            return x.clone()  # a copy, as the pool makes one: an in-place op after it must not reach x
        return super().forward(x)


def _pools_one_pixel_to_one(pool: nn.MaxPool2d) -> bool:
    """True when the pool maps a 1 x 1 map to a 1 x 1 map whose one window covers the pixel."""
    try:  # PyTorch's own output size and checks, on a tensor without data
        out = F.max_pool2d(torch.empty(1, 1, 1, 1, device="meta"), pool.kernel_size, pool.stride, pool.padding,
                           pool.dilation, pool.ceil_mode)
    except RuntimeError:
        return False  # the plain pool raises the same error
    taps = zip(*(value if isinstance(value, tuple) else (value, value)
                 for value in (pool.kernel_size, pool.padding, pool.dilation)))
    return out.shape[-2:] == (1, 1) and all(p % d == 0 and p // d < k for k, p, d in taps)  # a tap on the pixel


_FAST = {InceptionBlock: SharedInputBlock, nn.MaxPool2d: OnePixelMaxPool2d}


def fast_training(model: nn.Module, enabled: bool = True) -> AbstractContextManager[int]:
    """Within the block, train with every rewrite of this module: matrix-product convs, shared-input blocks,
    one-pixel pools; yield how many modules were swapped."""
    others = [(m, _FAST[type(m)]) for m in model.modules() if type(m) in _FAST]
    return _swapped(_matmul_pairs(model) + others if enabled else [])
