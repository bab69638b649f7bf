"""Notebook 05's controls: the networks they build, the initialisations, and the measurements' bookkeeping."""

import math

import pytest
import torch

from inception_nb.lesson.claims import (NETWORKS, Subset, batchnorm_losses, build, init_scale, layer_gradients,
                                 short_run, tiny_map_cost)


def _subset(n: int = 64, side: int = 28) -> Subset:
    g = torch.Generator().manual_seed(0)
    return Subset(torch.randn(n, 1, side, side, generator=g), torch.arange(n) % 10,
                  torch.randn(n, 1, side, side, generator=g), torch.arange(n) % 10)


def test_every_network_runs_at_28_pixels_and_heads_answer_in_training():
    x = torch.randn(2, 1, 28, 28)
    for name in NETWORKS:
        out = build(name).train()(x)
        assert isinstance(out, tuple) == name.endswith("heads"), name
        assert build(name).eval()(x).shape == (2, 10)


def test_init_scale_tells_pytorch_default_from_he():
    default, he = init_scale(build("paper")), init_scale(build("paper", init="he"))
    assert default["Conv2d"] == pytest.approx(1 / math.sqrt(3), rel=0.05)  # uniform in +-1/sqrt(fan_in)
    assert he["Conv2d"] == pytest.approx(math.sqrt(2), rel=0.05)
    with pytest.raises(ValueError, match="unknown network"):
        build("paper", init="xavier")


def test_heads_add_gradient_below_them_in_the_paper_network():
    x, y = torch.randn(8, 1, 28, 28), torch.arange(8)
    without, with_heads = (layer_gradients(build(name), x, y) for name in ("paper", "paper + heads"))
    assert list(without) == list(with_heads) and list(without)[0] == "conv1"
    assert with_heads["inception4a"] > 10 * without["inception4a"]


def test_short_run_records_every_step_and_rejects_too_short_runs():
    run, model = short_run("BatchNorm", 0.01, 0, _subset(), steps=10, batch=8)
    assert len(run.losses) == 10 and 0 <= run.test_acc <= 1 and run.seconds > 0 and not model.training
    with pytest.raises(ValueError, match="at least 10 steps"):
        short_run("BatchNorm", 0.01, 0, _subset(), steps=5)


def test_batchnorm_losses_leave_the_running_statistics_as_they_were():
    model = build("BatchNorm").eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = batchnorm_losses(model, _subset(32), batch=16)
    assert set(losses) == {"running statistics", "each batch's statistics", "re-estimated statistics"}
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # untrained running statistics are mean 0, variance 1: re-estimating them changes the loss
    assert losses["re-estimated statistics"] != losses["running statistics"]


def test_tiny_map_cost_picks_the_2x2_and_1x1_maps_and_counts_padding():
    cost = tiny_map_cost(build("BatchNorm"), batch=4, repeats=1)
    blocks = {name.split(".")[0] for name in cost.layers}
    assert blocks == {"inception4a", "inception4b", "inception4c", "inception4d", "inception4e",
                      "inception5a", "inception5b"}
    assert cost.macs["model"] > cost.macs["counted"] > cost.macs["on a pixel"] > 0
    assert 0 < cost.padding_share < 1 and cost.step_seconds > 0


def test_figure_2a_block_passes_its_input_through_and_the_widths_grow():
    from inception_nb.model import InceptionBlock
    from inception_nb.lesson.naive import NaiveInceptionBlock, naive_growth
    from inception_nb.lesson.report import module_cost

    block = NaiveInceptionBlock(192, 64, 128, 32)
    assert block(torch.zeros(1, 192, 28, 28)).shape == (1, 416, 28, 28) == (1, block.out_channels, 28, 28)
    stages = naive_growth()
    assert [s.in_channels for s in stages[1:]] == [s.out_channels for s in stages[:-1]]
    assert stages[0].googlenet_macs == module_cost(InceptionBlock(192, 64, 96, 128, 16, 32, 32),
                                                   (1, 192, 28, 28))["macs"]
    assert stages[0].macs == module_cost(block, (1, 192, 28, 28))["macs"]
