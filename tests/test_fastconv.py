"""The matrix-product convolutions and shared-input blocks are exact rewrites: same outputs, same gradients, same
BatchNorm statistics, restored after use."""

import copy
import itertools
import re

import pytest
import torch
from torch import nn

from inception_nb.data import DataConfig, load_data
from inception_nb.config import TrainConfig
from inception_nb.training.fit import fit
from inception_nb.training.fastconv import (MatmulConv2d, OnePixelMaxPool2d, SharedInputBlock, fast_training,
                                           matmul_convs)
from inception_nb.model import InceptionBlock, InceptionV1


def outputs_and_grads(layer: nn.Module, x: torch.Tensor) -> list:
    x = x.detach().clone().requires_grad_()
    out = layer(x)
    # A fixed random projection, so every output element's gradient matters.
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    return [out, *torch.autograd.grad((out * weights).sum(), [x, *layer.parameters()])]


@pytest.mark.parametrize("kernel", [1, 3, 5])
@pytest.mark.parametrize("size", [(1, 1), (2, 2), (1, 2), (3, 3), (4, 4)])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_matmul_conv_matches_conv2d(kernel, size, channels_last, bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 10, kernel, padding=kernel // 2, bias=bias)
    fast = copy.deepcopy(conv)
    fast.__class__ = MatmulConv2d
    x = torch.randn(3, 6, *size)
    if channels_last:
        conv, fast = conv.to(memory_format=torch.channels_last), fast.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    expected, got = outputs_and_grads(conv, x), outputs_and_grads(fast, x)
    assert got[0].shape == expected[0].shape
    for a, b in zip(got, expected):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4), (a - b).abs().max()


def test_strided_and_unpadded_convs_are_left_alone():
    model = nn.Sequential(nn.Conv2d(3, 8, 7, stride=2, padding=3), nn.Conv2d(8, 8, 3), nn.Conv2d(8, 8, 3, padding=1))
    with matmul_convs(model) as swapped:
        assert swapped == 1
        assert [type(m) for m in model] == [nn.Conv2d, nn.Conv2d, MatmulConv2d]


def test_matmul_convs_swap_the_seed_model_and_restore_it():
    torch.manual_seed(0)
    model = InceptionV1(num_classes=10, in_channels=1, preset="seed", stem_batchnorm=True).eval()
    x = torch.randn(4, 1, 32, 32)
    keys = list(model.state_dict())
    expected = model(x)
    with matmul_convs(model) as swapped:
        # every block conv (57 convs in all; the stem's strided 7x7 is the one left out)
        assert swapped == 56
        assert torch.allclose(model(x), expected, atol=1e-5)
        assert list(model.state_dict()) == keys
    assert all(type(m) is nn.Conv2d for m in model.modules() if isinstance(m, nn.Conv2d))
    with pytest.raises(RuntimeError, match="boom"):
        with matmul_convs(model):
            raise RuntimeError("boom")
    assert not any(isinstance(m, MatmulConv2d) for m in model.modules())


@pytest.mark.slow  # trains a model
def test_fit_gives_back_a_model_of_plain_convs(tmp_path):
    data = load_data(DataConfig(image_size=32, channels=1, batch_size=32, limit=64, seed=0))
    torch.manual_seed(0)
    model = InceptionV1(num_classes=10, in_channels=1, preset="seed")
    fit(model, data, TrainConfig(epochs=1, out_dir=None, progress=False, device="cpu", matmul_convs=True))
    assert not any(isinstance(m, (MatmulConv2d, SharedInputBlock)) for m in model.modules())


def two_training_steps(block: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Outputs of the second call, gradients of input and parameters, and every buffer after both calls, by name."""
    x = x.detach().clone().requires_grad_()
    block(x)
    out = block(x)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    names, params = zip(*block.named_parameters())
    grads = torch.autograd.grad((out * weights).sum(), [x, *params])
    return {"output": out, "input grad": grads[0], **{f"grad {n}": g for n, g in zip(names, grads[1:])},
            **dict(block.named_buffers())}


@pytest.mark.parametrize("bias, eps", [(True, 1e-5), (False, 1e-3)])  # the seed's and torchvision's convs
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("size", [(1, 1), (3, 3)])
def test_shared_input_block_matches_the_block_in_training(bias, eps, channels_last, size):
    torch.manual_seed(0)
    block = InceptionBlock(12, 4, 5, 6, 2, 3, 4, conv_bias=bias, bn_eps=eps).train()
    fast = copy.deepcopy(block)
    fast.__class__ = SharedInputBlock
    x = torch.randn(5, 12, *size)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    expected, got = two_training_steps(block, x), two_training_steps(fast, x)
    # output, input grad, one per parameter (6 convs with or without bias, 6 BatchNorms), 6 x 3 BatchNorm buffers
    assert list(got) == list(expected) and len(got) == 2 + (24 if bias else 18) + 18
    assert torch.equal(got["branch4.2.num_batches_tracked"], torch.tensor(2))  # both calls counted
    assert not torch.equal(got["branch3.4.running_mean"], torch.zeros(3))  # the statistics moved
    # A conv bias just before a training BatchNorm has a true gradient of 0 (BatchNorm subtracts the batch mean):
    # both blocks give rounding noise there, whose size depends on the thread count, so those must only be ~0.
    conv_biases = {f"grad {name}.bias" for name, module in block.named_modules() if isinstance(module, nn.Conv2d)}
    scale = max(expected[name].abs().max() for name in expected if name.startswith("grad"))
    for name in expected:
        a, b = got[name], expected[name]
        assert a.dtype == b.dtype and a.shape == b.shape, name
        if name in conv_biases:
            assert a.abs().max() < 1e-5 * scale and b.abs().max() < 1e-5 * scale, name
        else:
            assert torch.allclose(a.float(), b.float(), atol=1e-5, rtol=1e-4), (name, (a - b).abs().max())


def test_shared_input_block_steps_aside_where_it_cannot_share():
    torch.manual_seed(0)
    naive = InceptionBlock(6, 2, 3, 4, 2, 3, 2, reductions=False)  # 3x3 and 5x5 read the input directly
    mixed = InceptionBlock(6, 2, 3, 4, 2, 3, 2)
    mixed.branch3[1].momentum = 0.3  # one BatchNorm unlike the others
    frozen = InceptionBlock(6, 2, 3, 4, 2, 3, 2)
    frozen.branch1[1].eval()  # fine-tuning with one BatchNorm's statistics frozen
    hooked = InceptionBlock(6, 2, 3, 4, 2, 3, 2)
    seen = []
    hooked.branch2[0].register_forward_hook(lambda module, inputs, output: seen.append(output.shape))
    x = torch.randn(4, 6, 3, 3)
    for block in (naive, mixed, frozen, hooked, InceptionBlock(6, 2, 3, 4, 2, 3, 2).eval()):
        fast = copy.deepcopy(block)
        fast.__class__ = SharedInputBlock
        assert torch.equal(fast(x), block(x))  # the unchanged path, bit for bit
        assert all(torch.equal(a, b) for a, b in zip(fast.buffers(), block.buffers()))
    assert len(seen) == 2  # the hook ran for the plain block and for its rewrite


def test_fast_training_swaps_blocks_and_convs_and_restores_them():
    model = InceptionV1(num_classes=10, in_channels=1, preset="seed", stem_batchnorm=True)
    with fast_training(model):
        assert sum(type(m) is SharedInputBlock for m in model.modules()) == 9
        assert sum(type(m) is MatmulConv2d for m in model.modules()) == 56
        assert sum(type(m) is OnePixelMaxPool2d for m in model.modules()) == 4 + 9  # the stem's and the blocks'
    with pytest.raises(RuntimeError, match="boom"):
        with fast_training(model):
            raise RuntimeError("boom")
    assert {type(m) for m in model.modules()} & {SharedInputBlock, MatmulConv2d, OnePixelMaxPool2d} == set()
    with fast_training(model, enabled=False):
        assert not any(type(m) in (SharedInputBlock, MatmulConv2d) for m in model.modules())


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode",
                         list(itertools.product([1, 2, 3, 5], [1, 2, 3], [0, 1, 2], [1, 2], [False, True])))
def test_one_pixel_max_pool_matches_max_pool(kernel, stride, padding, dilation, ceil_mode):
    pool = nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    fast = copy.deepcopy(pool)
    fast.__class__ = OnePixelMaxPool2d
    # Dilated pools: outputs only (PyTorch 2.14's own max-pool backward aborts on some dilated, padded shapes).
    compare = outputs_and_grads if dilation == 1 else (lambda layer, x: [layer(x)])
    for size in [(1, 1), (2, 2), (5, 4)]:
        x = torch.randn(2, 3, *size).contiguous(memory_format=torch.channels_last)
        try:
            expected = compare(pool, x)
        except RuntimeError as error:  # a pool that does not fit the map: the rewrite must refuse it the same way
            with pytest.raises(RuntimeError, match=re.escape(str(error)[:40])):
                fast(x)
            continue
        got = compare(fast, x)
        assert got[0].shape == expected[0].shape and all(torch.equal(a, b) for a, b in zip(got, expected))
        assert fast(x).data_ptr() != x.data_ptr()  # a copy, never the input itself
