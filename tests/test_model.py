"""InceptionV1: the seed preset is the post's network, the other presets are what they claim to be."""

import contextlib
import io
import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchsummary import summary

from inception_nb.model import (
    PRESETS, InceptionAux, InceptionBlock, InceptionOutputs, InceptionV1, aux_loss, min_input_size,
)
from inception_nb.pretrained import from_torchvision, to_torchvision

SEED_SUMMARY = Path(__file__).with_name("seed_summary.txt")
ROW = re.compile(r"^\s*(\w+)-(\d+)\s+(\[[-\d, ]+\])\s+([\d,]+)\s*$")


def _parse_rows(text: str) -> list[tuple[str, int, str, int]]:
    rows = []
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            kind, index, shape, params = match.groups()
            rows.append((kind, int(index), shape.replace(" ", ""), int(params.replace(",", ""))))
    return rows


def _total(text: str) -> int:
    return int(re.search(r"Total params: ([\d,]+)", text).group(1).replace(",", ""))


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------- the seed preset is the post's network

def test_seed_preset_matches_post_summary():
    expected_text = SEED_SUMMARY.read_text()
    expected = _parse_rows(expected_text)
    assert len(expected) == 190 and expected[-1] == ("Linear", 190, "[-1,1000]", 1_025_000)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        summary(InceptionV1(), (3, 224, 224), device="cpu")
    ours = [("inception_block" if kind == InceptionBlock.__name__ else kind, i, shape, params)
            for kind, i, shape, params in _parse_rows(buffer.getvalue())]
    assert len(ours) == len(expected)
    for mine, theirs in zip(ours, expected):
        assert mine == theirs
    assert _total(buffer.getvalue()) == _total(expected_text) == 7_012_472


def test_seed_stage_output_shapes_for_a_batch_of_32():
    model = InceptionV1().eval()
    shapes = {}
    for name, child in model.named_children():
        child.register_forward_hook(lambda m, args, out, name=name: shapes.__setitem__(name, list(out.shape)))
    with torch.no_grad():
        logits = model(torch.randn(32, 3, 224, 224))
    assert shapes == {
        "conv1": [32, 64, 112, 112], "maxpool1": [32, 64, 56, 56], "conv2": [32, 64, 56, 56],
        "conv3": [32, 192, 56, 56], "maxpool2": [32, 192, 28, 28],
        "inception3a": [32, 256, 28, 28], "inception3b": [32, 480, 28, 28], "maxpool3": [32, 480, 14, 14],
        "inception4a": [32, 512, 14, 14], "inception4b": [32, 512, 14, 14], "inception4c": [32, 512, 14, 14],
        "inception4d": [32, 528, 14, 14], "inception4e": [32, 832, 14, 14], "maxpool4": [32, 832, 7, 7],
        "inception5a": [32, 832, 7, 7], "inception5b": [32, 1024, 1, 1], "classifier": [32, 1000],
    }
    assert list(logits.shape) == [32, 1000]


def test_blocks_expose_four_branches_concatenated_in_order():
    block = InceptionBlock(192, 64, 96, 128, 16, 32, 32).eval()
    x = torch.randn(2, 192, 8, 8)
    with torch.no_grad():
        out = block(x)
        parts = [getattr(block, f"branch{i}")(x) for i in range(1, 5)]
    assert block.out_channels == out.shape[1] == 256
    assert [p.shape[1] for p in parts] == [64, 128, 32, 32]
    assert torch.equal(out, torch.cat(parts, dim=1))
    assert all(isinstance(getattr(block, f"branch{i}"), nn.Sequential) for i in range(1, 5))
    assert block.branch3[3].kernel_size == (5, 5)
    with pytest.raises(ValueError, match="five_kernel"):
        InceptionBlock(192, 64, 96, 128, 16, 32, 32, five_kernel=4)


# ---------------------------------------------------------------- parameter counts

@pytest.mark.parametrize("preset, aux, expected", [
    ("seed", False, 7_012_472), ("paper", False, 6_998_552), ("paper", True, 13_378_280),
])
def test_parameter_counts_match_the_given_figures(preset, aux, expected):
    with torch.device("meta"):  # counting needs shapes only; skips the weight initialisation
        assert _params(InceptionV1(preset=preset, aux_logits=aux)) == expected


@pytest.mark.parametrize("num_classes", [10, 1000])
@pytest.mark.parametrize("aux", [False, True])
def test_torchvision_preset_has_torchvisions_parameter_count(num_classes, aux):
    with torch.device("meta"):
        tv = torchvision.models.googlenet(weights=None, aux_logits=aux, num_classes=num_classes, init_weights=False)
        assert _params(InceptionV1(num_classes, preset="torchvision", aux_logits=aux)) == _params(tv)


def test_paper_preset_is_the_papers_layers():
    model = InceptionV1(preset="paper", aux_logits=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert isinstance(model.lrn1, nn.LocalResponseNorm) and isinstance(model.lrn2, nn.LocalResponseNorm)
    assert model.inception3a.branch3[2].kernel_size == (5, 5)
    assert model.dropout.p == 0.4 and model.aux1.dropout.p == 0.7
    assert isinstance(model.aux1.pool[0], nn.AvgPool2d) and model.aux1.pool[0].kernel_size == 5


# ---------------------------------------------------------------- torchvision interchange

def _randomise_(model: nn.Module) -> None:
    # torchvision's init leaves every BatchNorm at mean 0, var 1, weight 1, bias 0 and the logits near
    # 1e-2, so a conversion that lost the BatchNorm tensors could still pass; random statistics and
    # He-initialised convs (logits of order one) make every copied tensor count.
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / m.weight[0].numel()) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                for t, low, high in ((m.weight, 0.5, 1.5), (m.bias, -0.2, 0.2), (m.running_mean, -0.2, 0.2),
                                     (m.running_var, 0.5, 1.5)):
                    t.copy_(torch.rand(t.shape, generator=gen) * (high - low) + low)


@pytest.mark.parametrize("num_classes", [10, 1000])
@pytest.mark.parametrize("aux", [False, True])
def test_from_torchvision_reproduces_torchvision_outputs(num_classes, aux):
    torch.manual_seed(0)
    tv = torchvision.models.googlenet(weights=None, aux_logits=aux, num_classes=num_classes, init_weights=True)
    assert tv.transform_input is False  # weights=None leaves inputs alone, as InceptionV1 does
    _randomise_(tv)
    ours = from_torchvision(tv)
    assert ours.config == {"num_classes": num_classes, "in_channels": 3, "preset": "torchvision",
                           "aux_logits": aux, "stem_batchnorm": False, "dropout": 0.2}
    tv.eval(), ours.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected, got = tv(x), ours(x)
    assert expected.std() > 0.1, "outputs too small for the comparison to mean anything"
    assert (got - expected).abs().max() <= 1e-5
    if aux:  # eval mode skips the heads, so compare them on their own
        for name, channels in (("aux1", 512), ("aux2", 528)):
            feats = torch.randn(2, channels, 14, 14)
            with torch.no_grad():
                expected, got = getattr(tv, name)(feats), getattr(ours, name)(feats)
            assert expected.std() > 1e-3 and (got - expected).abs().max() <= 1e-5


@pytest.mark.parametrize("aux", [False, True])
def test_to_torchvision_round_trips_the_weights(aux):
    tv = torchvision.models.googlenet(weights=None, aux_logits=aux, num_classes=10, init_weights=True)
    _randomise_(tv)
    back = to_torchvision(from_torchvision(tv))
    assert isinstance(back, torchvision.models.GoogLeNet) and back.transform_input is False
    original, restored = tv.state_dict(), back.state_dict()
    assert list(original) == list(restored)
    assert all(torch.equal(original[k], restored[k]) for k in original)


def test_conversion_refuses_models_it_cannot_map():
    with pytest.raises(ValueError, match="preset='torchvision'"):
        to_torchvision(InceptionV1(num_classes=10))
    with pytest.raises(ValueError, match="in_channels=3"):
        to_torchvision(InceptionV1(num_classes=10, in_channels=1, preset="torchvision"))
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, num_classes=10, init_weights=False,
                                      transform_input=True)
    with pytest.raises(ValueError, match="transform_input"):
        from_torchvision(tv)
    with pytest.raises(ValueError, match="GoogLeNet"):
        from_torchvision(InceptionV1(num_classes=10, preset="torchvision"))


# ---------------------------------------------------------------- auxiliary heads and their loss

@pytest.mark.parametrize("preset, size", [("seed", 64), ("torchvision", 64), ("paper", 96)])
def test_aux_heads_return_named_tuple_in_training_and_logits_in_eval(preset, size):
    torch.manual_seed(0)
    model = InceptionV1(num_classes=7, preset=preset, aux_logits=True).train()
    seen = {}
    model.aux1.register_forward_hook(lambda m, a, out: seen.__setitem__("aux1", out))
    model.aux2.register_forward_hook(lambda m, a, out: seen.__setitem__("aux2", out))
    x = torch.randn(2, 3, size, size)
    out = model(x)
    assert isinstance(out, InceptionOutputs) and out._fields == ("logits", "aux2", "aux1")
    assert [tuple(t.shape) for t in out] == [(2, 7)] * 3
    assert out.aux1 is seen["aux1"] and out.aux2 is seen["aux2"]  # aux1 hangs off 4a, aux2 off 4d
    seen.clear()
    with torch.no_grad():
        logits = model.eval()(x)
    assert isinstance(logits, torch.Tensor) and logits.shape == (2, 7) and not seen


def test_aux_loss_weights_auxiliary_losses_by_three_tenths():
    torch.manual_seed(0)
    logits, aux2, aux1 = (torch.randn(4, 5) for _ in range(3))
    target = torch.tensor([0, 3, 1, 4])

    def nll(t):  # cross-entropy by hand
        return -(t - t.exp().sum(1, keepdim=True).log())[torch.arange(4), target].mean()

    by_hand = nll(logits) + 0.3 * (nll(aux1) + nll(aux2))
    loss = aux_loss(InceptionOutputs(logits, aux2, aux1), target, nn.CrossEntropyLoss())
    assert torch.allclose(loss, by_hand, atol=1e-6)
    assert torch.allclose(aux_loss(logits, target, F.cross_entropy), nll(logits), atol=1e-6)
    half = aux_loss((logits, aux2, aux1), target, F.cross_entropy, aux_weight=0.5)
    assert torch.allclose(half, nll(logits) + 0.5 * (nll(aux1) + nll(aux2)), atol=1e-6)


def test_aux_head_flattens_128_by_4_by_4_at_any_size():
    head = InceptionAux(512, 3).eval()
    assert head.fc1.in_features == 2048
    with torch.no_grad():
        assert head(torch.randn(2, 512, 1, 1)).shape == (2, 3)


# ---------------------------------------------------------------- inputs the model accepts and refuses

@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("num_classes", [1, 37])
def test_one_channel_input_and_any_number_of_classes(preset, num_classes):
    model = InceptionV1(num_classes=num_classes, in_channels=1, preset=preset).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, num_classes)
    with pytest.raises(ValueError, match="in_channels=3"):
        model(torch.randn(2, 3, 32, 32))


@pytest.mark.parametrize("preset, aux, expected", [
    ("seed", False, 1), ("seed", True, 1), ("torchvision", False, 15), ("torchvision", True, 15),
    ("paper", False, 1), ("paper", True, 65),
])
def test_min_input_size_is_the_true_minimum(preset, aux, expected):
    assert min_input_size(preset, aux) == expected
    model = InceptionV1(num_classes=3, preset=preset, aux_logits=aux).train(aux)  # aux heads run in training
    assert model.min_input_size == expected
    with torch.no_grad():
        model(torch.randn(2, 3, expected, expected))
        if expected > 1:  # one pixel less breaks the network itself, not only our check
            with pytest.raises(RuntimeError):
                model._forward(torch.randn(2, 3, expected - 1, expected - 1))
    with pytest.raises(ValueError, match=rf"at least {expected}\b"):
        model(torch.randn(2, 3, expected - 1, expected + 5))


def test_min_input_size_without_aux_setting_covers_both():
    assert min_input_size("paper") == 65 and min_input_size("seed") == 1 and min_input_size("torchvision") == 15
    with pytest.raises(ValueError, match="unknown preset"):
        min_input_size("resnet")


def test_bad_arguments_raise_with_the_fix():
    with pytest.raises(ValueError, match="unknown preset 'v3'"):
        InceptionV1(preset="v3")
    with pytest.raises(ValueError, match="num_classes"):
        InceptionV1(num_classes=0)
    with pytest.raises(ValueError, match="dropout"):
        InceptionV1(dropout=1.0)
    with pytest.raises(ValueError, match="unsqueeze"):
        InceptionV1().eval()(torch.randn(3, 32, 32))


def test_stem_batchnorm_adds_batchnorm_to_the_seed_stem_and_trains():
    plain, with_bn = InceptionV1(num_classes=4), InceptionV1(num_classes=4, stem_batchnorm=True)
    count = lambda m: sum(isinstance(x, nn.BatchNorm2d) for x in m.modules())  # noqa: E731
    assert count(with_bn) == count(plain) + 3
    assert all(isinstance(getattr(with_bn, n).bn, nn.BatchNorm2d) for n in ("conv1", "conv2", "conv3"))
    out = with_bn.train()(torch.randn(2, 3, 32, 32))
    F.cross_entropy(out, torch.tensor([0, 3])).backward()
    assert with_bn.conv1.conv.weight.grad is not None
    with pytest.raises(ValueError, match="stem_batchnorm"):
        InceptionV1(preset="paper", stem_batchnorm=True)


@pytest.mark.parametrize("kwargs", [
    {}, {"preset": "torchvision", "aux_logits": True, "num_classes": 5},
    {"preset": "paper", "in_channels": 1, "dropout": 0.5}, {"stem_batchnorm": True, "aux_logits": True},
])
def test_config_rebuilds_the_same_architecture(kwargs):
    model = InceptionV1(**kwargs)
    rebuilt = InceptionV1(**model.config)
    assert rebuilt.config == model.config
    rebuilt.load_state_dict(model.state_dict())  # same keys and shapes, or this raises
    assert str(rebuilt) == str(model)
