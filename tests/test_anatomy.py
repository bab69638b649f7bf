"""The anatomy numbers notebook 01 teaches with agree with real convolutions, real gradients and the paper."""

import pytest
import torch
import torch.nn as nn

from inception_nb import InceptionV1, layer_report
from inception_nb.lesson.anatomy import (
    feature_map_sizes,
    feature_map_table,
    min_input_table,
    parameter_savings,
    parameter_savings_table,
    table1_deviations,
    tap_coverage,
    tap_coverage_table,
    taps_per_position,
    unused_kernel_weights,
    unused_weights_table,
)
from inception_nb.model import INCEPTION_TABLE
from inception_nb.lesson.report import paper_comparison

pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------- kernel taps against a real convolution

@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 7])
def test_tap_coverage_is_the_weight_gradient_of_a_real_conv_on_ones(kernel, size):
    # d(sum of outputs)/d(tap) = number of output positions where the tap multiplies a pixel (a 1), not padding.
    conv = nn.Conv2d(1, 1, kernel, padding=kernel // 2, bias=False)
    conv(torch.ones(1, 1, size, size)).sum().backward()
    assert torch.equal(tap_coverage(kernel, size), conv.weight.grad[0, 0].round().long())


@pytest.mark.parametrize("kernel, size", [(3, 1), (3, 2), (5, 2), (5, 4), (3, 7)])
def test_taps_per_position_is_a_real_conv_of_ones_with_ones(kernel, size):
    conv = nn.Conv2d(1, 1, kernel, padding=kernel // 2, bias=False)
    nn.init.ones_(conv.weight)
    with torch.no_grad():
        expected = conv(torch.ones(1, 1, size, size))[0, 0].round().long()
    assert torch.equal(taps_per_position(kernel, size), expected)


def test_small_maps_leave_only_the_centre_taps():
    assert int((tap_coverage(3, 1) > 0).sum()) == 1 and int((tap_coverage(5, 1) > 0).sum()) == 1
    five_on_two = tap_coverage(5, 2)
    assert int((five_on_two > 0).sum()) == 9 and five_on_two[1:4, 1:4].gt(0).all()  # the inner 3 x 3 only
    assert int((tap_coverage(3, 2) > 0).sum()) == 9 and int(taps_per_position(3, 2).max()) == 4
    table = tap_coverage_table()
    assert "| 2 x 2 | 5x5 | 4 of 25 | 9 of 25 |" in table
    assert "| 1 x 1 | 3x3 | 1 of 9 | 1 of 9 |" in table
    assert "| 7 x 7 | 3x3 | 4 to 9 of 9 | 9 of 9 |" in table


def test_unused_weights_get_exactly_zero_gradient_at_28_pixels():
    torch.manual_seed(0)
    model = InceptionV1(num_classes=10, in_channels=1, stem_batchnorm=True).eval()
    rows = {row.layer: row for row in unused_kernel_weights(model, 28)}
    model(torch.randn(2, 1, 28, 28)).square().sum().backward()
    convs = dict(model.named_modules())
    checked = 0
    for name, row in rows.items():
        grad = convs[name].weight.grad
        dead_taps = int((grad.abs().sum(dim=(0, 1)) == 0).sum())  # taps whose gradient is zero everywhere
        assert dead_taps * grad.shape[0] * grad.shape[1] == row.unused, name
        checked += row.unused > 0
    assert checked == 9  # 5x5 of 4a-4e on 2 x 2, 3x3 and 5x5 of 5a-5b on 1 x 1
    assert rows["inception5b.0.branch2.3"].map_size == (1, 1) and rows["inception4c.branch3.3"].map_size == (2, 2)
    assert rows["inception5b.0.branch2.3"].unused == 8 * 192 * 384  # all but the centre tap
    assert all(row.unused == 0 for row in unused_kernel_weights(model, 224))
    assert model.training is False and "never see a pixel" in unused_weights_table(model, 28)


# ---------------------------------------------------------------- map sizes and minimum inputs

def test_feature_maps_at_28_pixels_end_at_one_pixel():
    model = InceptionV1(num_classes=10, in_channels=1)
    sizes = dict(feature_map_sizes(model, [224, 28]))
    assert sizes["maxpool2"] == [(192, 28, 28), (192, 4, 4)]
    assert sizes["inception4a"] == [(512, 14, 14), (512, 2, 2)]
    assert sizes["inception5a"] == [(832, 7, 7), (832, 1, 1)]
    assert sizes["classifier"] == [(10,), (10,)]
    assert "| inception4e | 832 | 14 x 14 | 2 x 2 |" in feature_map_table(model)


def test_min_input_table_names_each_presets_minimum():
    table = min_input_table()
    assert "| seed | 1 x 1 | 1 x 1 |" in table
    assert "| torchvision | 15 x 15 | 15 x 15 |" in table
    assert "| paper | 1 x 1 | 65 x 65 |" in table


# ---------------------------------------------------------------- Table 1 and the parameter savings

def test_multiply_adds_agree_with_the_paper_and_parameters_do_not():
    deviations = table1_deviations(paper_comparison(layer_report(InceptionV1(), 224)))
    assert len(deviations["multiply-adds"]) == 9  # conv1, 5a and linear carry notes
    assert all(abs(d) < 0.02 for d in deviations["multiply-adds"].values())
    params = deviations["parameters"]
    assert params["inception (4c)"] == pytest.approx(511_432 / 463_000 - 1)  # +10 %, the printed 463K
    assert params["inception (5b)"] == pytest.approx(1_446_608 / 1_388_000 - 1)  # +4 %
    assert max(params, key=params.get) == "inception (4c)" and min(params.values()) > 0.02


def _naive_minus_real(in_ch: int, ch1: int, red3: int, ch3: int, red5: int, ch5: int, proj: int) -> int:
    # Seed blocks: every conv has a bias and a BatchNorm (2 per channel) after it.
    def unit(cin: int, cout: int, k: int) -> int:
        return cin * cout * k * k + cout + 2 * cout
    naive = unit(in_ch, ch3, 3) + unit(in_ch, ch5, 5)
    real = unit(in_ch, red3, 1) + unit(red3, ch3, 3) + unit(in_ch, red5, 1) + unit(red5, ch5, 5)
    return naive - real


def test_pooling_saves_more_parameters_than_the_reductions():
    savings = parameter_savings("seed")
    assert savings.googlenet == 7_012_472 and savings.last_map == (1024, 7, 7)
    assert savings.pooling_saving == (1024 * 7 * 7 * 1000 + 1000) - (1024 * 1000 + 1000)
    assert savings.reductions_saving == sum(_naive_minus_real(*sizes) for sizes in INCEPTION_TABLE.values())
    # AlexNet's fully connected layers (Krizhevsky et al. 2012): 256 x 6 x 6 -> 4096 -> 4096 -> 1000.
    assert savings.alexnet_fully_connected == (9216 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert savings.alexnet == 61_100_840
    assert savings.pooling_saving > savings.reductions_saving > 0
    assert savings.googlenet + savings.reductions_saving + savings.pooling_saving > savings.alexnet
    assert "| GoogLeNet as built | 7,012,472 |" in parameter_savings_table(savings)
