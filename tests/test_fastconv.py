"""The matrix-product convolutions are exact rewrites: same outputs, same gradients, restored after use."""

import copy

import pytest
import torch
from torch import nn

from inception_nb.data import DataConfig, load_data
from inception_nb.config import TrainConfig
from inception_nb.training.fit import fit
from inception_nb.training.fastconv import MatmulConv2d, matmul_convs
from inception_nb.model import InceptionV1


def outputs_and_grads(conv: nn.Conv2d, x: torch.Tensor) -> list:
    x = x.detach().clone().requires_grad_()
    out = conv(x)
    # A fixed random projection, so every output element's gradient matters.
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    params = [x, conv.weight] + ([conv.bias] if conv.bias is not None else [])
    return [out, *torch.autograd.grad((out * weights).sum(), params)]


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
    assert not any(isinstance(m, MatmulConv2d) for m in model.modules())
