"""The side experiments of notebooks 02 to 05: recipe table, optimizer comparison, cost estimate, smoothing optimum."""

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from inception_nb.config import get_profile
from inception_nb.data import load_data
from inception_nb.lesson.experiments import (
    POST_RECIPE,
    compare_optimizers,
    gradient_norms,
    post_training_cost,
    receptive_field,
    recipe_rows,
    run_steps,
    smoothing_optimum,
)
from inception_nb.model import InceptionV1
from inception_nb.lesson.report import module_cost


def test_recipe_rows_read_the_profile_not_a_copy():
    profile = get_profile("cpu")
    rows = {name: (post, ours) for name, post, ours, _ in recipe_rows(profile)}
    assert list(rows) == list(POST_RECIPE)
    assert rows["learning rate"] == ("0.0001", f"{profile.train.lr:g}")
    assert rows["batch size"][1] == str(profile.data.batch_size)
    changed = replace(profile, train=replace(profile.train, lr=0.123, optimizer="sgd"))
    rows = {name: ours for name, _, ours, _ in recipe_rows(changed)}
    assert rows["learning rate"] == "0.123" and rows["optimizer"] == "SGD" and "Nesterov" in rows["momentum"]


def test_post_batch_size_matches_its_batch_count():
    # The post states 1875 batches for 60,000 training images.
    assert 60_000 / 1875 == int(POST_RECIPE["batch size"][0])


def test_smoothing_optimum_is_where_pytorch_label_smoothing_is_lowest():
    p_true, floor = smoothing_optimum(0.1, 10)
    assert p_true == pytest.approx(0.91)
    target = torch.tensor([3])
    best = torch.full((1, 10), math.log((1 - p_true) / 9))
    best[0, 3] = math.log(p_true)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    assert loss_fn(best, target).item() == pytest.approx(floor, abs=1e-6)
    for nudge in (-0.5, 0.5):  # more or less confident on the true class: both cost more
        worse = best.clone()
        worse[0, 3] += nudge
        assert loss_fn(worse, target).item() > floor + 1e-4


def test_run_steps_records_a_point_every_k_steps_and_learns():
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    y = (x[:, 0] > 0).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True)
    model = nn.Linear(4, 2)
    curve = run_steps("adam", model, loader, torch.optim.Adam(model.parameters(), lr=0.05), steps=30, every=10)
    assert curve.images == [160, 320, 480] and curve.steps == 30
    assert curve.loss[-1] < 0.5 * curve.loss[0]
    assert curve.acc[-1] > 0.9


@pytest.mark.slow  # trains / times a model
def test_compare_optimizers_starts_both_from_the_same_weights_and_batches():
    profile = get_profile("quick")
    data = load_data(replace(profile.data, limit=256))
    curves = compare_optimizers(data, profile, steps=2, every=1)
    post, series = curves.values()
    assert post.images == series.images == [64, 128]
    # The first step's loss is measured before any update: same weights and batch give the same number.
    assert post.loss[0] == pytest.approx(series.loss[0], abs=1e-5)
    assert post.loss[1] != pytest.approx(series.loss[1], abs=1e-5)


@pytest.mark.slow  # trains / times a model
def test_post_training_cost_counts_forward_and_backward():
    cost = post_training_cost(batch_size=2, image_size=64, repeats=1)
    forward_flop = 2 * module_cost(InceptionV1(num_classes=10, in_channels=3), (1, 3, 64, 64))["macs"]
    assert 2 * forward_flop < cost.flop_per_image < 3.5 * forward_flop
    assert cost.seconds_per_image > 0 and cost.images == 20 * 60_000
    assert cost.cpu_hours == pytest.approx(cost.images * cost.seconds_per_image / 3600)


def test_receptive_field_of_inception3a_matches_hand_count():
    # conv1 7/2 -> 7 px, pool 3/2 -> 11, conv2 1x1 -> 11, conv3 3x3 -> 19, pool 3/2 -> 27; strides 2*2*2 = 8.
    assert receptive_field(InceptionV1(num_classes=10, in_channels=1), "inception3a") == (27, 8)
    with pytest.raises(ValueError, match="no top-level layer"):
        receptive_field(InceptionV1(num_classes=10), "inception9z")


def test_gradient_norms_cover_every_weighted_layer():
    torch.manual_seed(0)
    model = InceptionV1(num_classes=10, in_channels=1, preset="paper")
    norms = gradient_norms(model, torch.randn(4, 1, 32, 32), torch.tensor([0, 1, 2, 3]))
    assert list(norms)[0] == "conv1" and list(norms)[-1] == "classifier"
    assert all(v >= 0 for v in norms.values()) and norms["classifier"] > 0
