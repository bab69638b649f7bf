"""The side experiments of notebooks 02 to 05: recipe table, optimizer comparison, cost estimate, smoothing optimum."""

import math
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from inception_nb.config import get_profile
from inception_nb.data import load_data
from inception_nb.lesson import experiments
from inception_nb.lesson.experiments import (
    POST_RECIPE,
    gradient_norms,
    post_training_cost,
    receptive_field,
    recipe_rows,
    post_epoch_loop,
    race_optimizers,
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


def _tiny_data(n: int = 64, seed: int = 0):
    torch.manual_seed(seed)
    x = torch.randn(n, 4)
    y = (x[:, 0] > 0).long()
    dataset = torch.utils.data.TensorDataset(x, y)
    train_loader = torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=True,
                                               generator=torch.Generator().manual_seed(seed))
    return SimpleNamespace(train=train_loader, test=torch.utils.data.DataLoader(dataset, batch_size=32))


def test_post_epoch_loop_prints_the_posts_line_per_epoch_and_learns(capsys):
    model = nn.Linear(4, 2)
    rows = post_epoch_loop(_tiny_data(), model, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=0.05),
                           epochs=3, name="adam ")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["adam Epoch: 1", "adam Epoch: 2", "adam Epoch: 3"]
    assert "Train_acc:" in lines[0] and "Test_loss:" in lines[0]
    assert len(rows) == 3 and rows[-1].train_loss < rows[0].train_loss and rows[-1].test_acc > 0.9


def test_post_epoch_loop_shuffles_the_same_way_for_the_same_seed(monkeypatch):
    orders = []
    monkeypatch.setattr(experiments, "train", lambda loader, *args: orders.append([x[0, 0].item() for x, _ in loader])
                        or (0.0, 0.0))
    monkeypatch.setattr(experiments, "test", lambda *args: (0.0, 0.0))
    data, model = _tiny_data(), nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    post_epoch_loop(data, model, nn.CrossEntropyLoss(), optimizer, epochs=2)
    next(iter(data.train))  # a shuffle drawn in between must not change the next run's batches
    post_epoch_loop(data, model, nn.CrossEntropyLoss(), optimizer, epochs=2)
    assert orders[0] == orders[2] and orders[1] == orders[3], "the same seed, the same batches"
    assert orders[0] != orders[1], "each epoch its own shuffle"


@pytest.mark.slow  # builds two GoogLeNets
def test_race_starts_both_optimizers_from_the_same_weights(monkeypatch):
    profile = get_profile("quick")
    data = load_data(replace(profile.data, limit=256))
    starts, optimizers = [], []

    def capture(data, model, loss_fn, optimizer, epochs, seed=0, name=""):
        starts.append({k: v.clone() for k, v in model.state_dict().items()})
        optimizers.append(type(optimizer).__name__)
        return []

    monkeypatch.setattr(experiments, "post_epoch_loop", capture)
    race_optimizers(data, profile, epochs=1)
    assert optimizers == ["SGD", "AdamW"]
    assert all(torch.equal(starts[0][k], starts[1][k]) for k in starts[0])
