"""Figures return what the notebooks show: the right axes, class names, numbers and images."""

import matplotlib

matplotlib.use("Agg")

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from inception_nb.lesson import analysis, diagram, plots
from inception_nb.training.history import EpochRecord, History, StepRecord
from inception_nb.model import INCEPTION_TABLE, InceptionV1

CLASSES = ["cat", "dog", "bird"]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return InceptionV1(num_classes=10, in_channels=1, preset="seed")


def _history(n=3):
    return History([EpochRecord(e, 0.5 + 0.1 * e, 1.0 / e, 0.45 + 0.1 * e, 1.1 / e, 0.1, 1.0, 100 * e)
                    for e in range(1, n + 1)])


def test_confusion_matrix_counts_a_hand_example():
    labels = [0, 0, 1, 2, 2, 2]
    preds = [0, 1, 1, 2, 0, 2]
    expected = torch.tensor([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert torch.equal(analysis.confusion_matrix(labels, preds, 3), expected)
    logits = torch.nn.functional.one_hot(torch.tensor(preds), 3).float()  # logits are reduced with argmax
    assert torch.equal(analysis.confusion_matrix(torch.tensor(labels), logits, 3), expected)
    with pytest.raises(ValueError, match="num_classes"):
        analysis.confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="same length"):
        analysis.confusion_matrix([0, 1], [0], 3)


def test_plot_history_shows_loss_and_accuracy_in_percent():
    fig = plots.plot_history(_history())
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["train", "test"]
    assert "%" in acc_ax.get_ylabel()
    assert np.allclose(acc_ax.lines[1].get_ydata(), [55, 65, 75])
    assert "75.0%" in fig._suptitle.get_text()
    assert len(plots.plot_history(_history().to_dict()).axes) == 2  # a loaded history.json works too
    with pytest.raises(ValueError, match="no epochs"):
        plots.plot_history(History())


def test_plot_confusion_matrix_names_classes_and_per_class_accuracy():
    matrix = torch.tensor([[3, 1, 0], [0, 2, 2], [0, 0, 0]])
    fig = plots.plot_confusion_matrix(matrix, CLASSES)
    ax, colorbar = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == CLASSES
    assert [t.get_text() for t in ax.get_yticklabels()] == CLASSES
    assert sorted(t.get_text() for t in ax.texts) == ["25", "50", "50", "75"]  # zeros stay blank
    assert [t.get_text() for t in ax.child_axes[0].get_yticklabels()] == ["75%", "50%", "n/a"]
    assert "62.5%" in ax.get_title()
    counts = plots.plot_confusion_matrix(matrix, CLASSES, normalize=False).axes[0]
    assert sorted(t.get_text() for t in counts.texts) == ["1", "2", "2", "3"]
    with pytest.raises(ValueError, match="classes"):
        plots.plot_confusion_matrix(matrix, CLASSES[:2])


def test_plot_misclassified_titles_and_unnormalises():
    images = torch.rand(5, 1, 8, 8)
    labels = torch.tensor([0, 1, 2, 0, 1])
    preds = torch.tensor([0, 2, 0, 1, 1])
    probs = torch.tensor([0.9, 0.6, 0.8, 0.7, 0.9])
    fig = plots.plot_misclassified(images, labels, preds, CLASSES, mean=(0.5,), std=(0.25,), probs=probs)
    # most confident mistakes first: index 2 (80%), 3 (70%), 1 (60%)
    assert [ax.get_title() for ax in fig.axes] == ["true: bird\npred: cat (80%)", "true: cat\npred: dog (70%)",
                                                   "true: dog\npred: bird (60%)"]
    shown = fig.axes[0].images[0].get_array()
    assert np.allclose(shown, (images[2, 0] * 0.25 + 0.5).clamp(0, 1).numpy(), atol=1e-6)
    assert fig.axes[0].images[0].get_cmap().name == "gray"
    rgb = plots.plot_misclassified(torch.rand(5, 3, 8, 8), labels, preds, CLASSES, max_images=2)
    assert len(rgb.axes) == 2 and rgb.axes[0].images[0].get_array().shape == (8, 8, 3)
    with pytest.raises(ValueError, match="mean/std"):
        plots.plot_misclassified(images, labels, preds, CLASSES, mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))


def test_plot_misclassified_says_so_when_nothing_is_wrong():
    labels = torch.tensor([0, 1, 2])
    fig = plots.plot_misclassified(torch.rand(3, 1, 8, 8), labels, labels, CLASSES)
    assert "No misclassified images" in fig.axes[0].texts[0].get_text()


def test_plot_examples_one_row_per_class_for_uint8_and_float_images():
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    gray = torch.randint(0, 256, (7, 10, 12), dtype=torch.uint8)
    fig = plots.plot_examples(gray, labels, CLASSES, per_class=3)
    assert [ax.get_ylabel() for ax in fig.axes] == CLASSES
    row = fig.axes[0].images[0].get_array()
    assert row.shape == (10, 3 * 12 + 2 * 2, 3)  # three images with 2-pixel gaps
    assert np.allclose(row[:, :12, 0], gray[0].numpy() / 255)
    rgb = plots.plot_examples(torch.randn(7, 3, 10, 10), labels, CLASSES + ["fish"], per_class=2,
                              mean=(0.5,) * 3, std=(0.2,) * 3)
    assert rgb.axes[3].get_ylabel() == "fish\n(no images)"


def test_plot_conv1_filters_one_tile_per_kernel(model):
    fig = plots.plot_conv1_filters(model)
    grid = fig.axes[0].images[0].get_array()
    assert grid.shape == (8 * 8 - 1, 8 * 8 - 1, 3)  # 64 kernels of 7x7, 1-pixel gaps
    first = grid[:7, :7, 0]
    assert first.min() == 0 and first.max() == 1  # each kernel scaled to its own range
    assert "64 filters of 7x7 (grayscale)" in fig.axes[0].get_title()

    class TinyNet(nn.Module):  # a torchvision-style stem: conv1 is a module whose .conv is the Conv2d
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Sequential()
            self.conv1.add_module("conv", nn.Conv2d(3, 5, 3))

    rgb = plots.plot_conv1_filters(TinyNet(), ncols=5)
    assert rgb.axes[0].images[0].get_array().shape == (3, 5 * 4 - 1, 3)
    assert "(RGB)" in rgb.axes[0].get_title()


def test_branch_feature_maps_have_the_blocks_channel_counts(model):
    model.train()
    image = torch.randn(1, 32, 32)
    maps = analysis.branch_feature_maps(model, image, "inception3a")
    _, ch1x1, _, ch3x3, _, ch5x5, pool_proj = INCEPTION_TABLE["inception3a"]
    assert list(maps) == ["1x1", "3x3", "5x5", "pool"]
    assert [m.shape[0] for m in maps.values()] == [ch1x1, ch3x3, ch5x5, pool_proj]
    assert all(m.shape[1:] == (4, 4) for m in maps.values())  # 32 / 8 at stage 3
    assert model.training and not model.inception3a.branch1._forward_hooks  # state restored, hooks removed
    deep = analysis.branch_feature_maps(model, image, "inception5b")  # a Sequential around the block (seed)
    assert [m.shape[0] for m in deep.values()] == [384, 384, 128, 128]
    direct = analysis.branch_feature_maps(model.inception3a, torch.randn(192, 4, 4))
    assert [m.shape[0] for m in direct.values()] == [64, 128, 32, 32]
    with pytest.raises(ValueError, match="inception3a"):
        analysis.branch_feature_maps(model, image, "inception9z")
    with pytest.raises(ValueError, match="one preprocessed image"):
        analysis.branch_feature_maps(model, torch.randn(2, 1, 32, 32))


def test_plot_branch_maps_rows_labelled_and_most_active_channels_first():
    maps = {key: torch.zeros(4, 3, 3) for key in plots.BRANCH_LABELS}
    maps["3x3"][2] = 5.0
    maps["3x3"][0] = 1.0
    fig = plots.plot_branch_maps(maps, image=torch.rand(1, 12, 12), channels_per_branch=2)
    assert len(fig.axes) == 1 + 4 * 2 + 4  # the image, two maps per branch, one colour bar per branch
    assert fig.axes[0].get_title() == "input image"
    row_labels = [ax.get_ylabel() for ax in fig.axes[1:9:2]]
    assert [label.split("\n")[0] for label in row_labels] == list(plots.BRANCH_LABELS.values())
    assert [ax.get_title() for ax in fig.axes[3:5]] == ["ch 2", "ch 0"]
    with pytest.raises(ValueError, match="empty"):
        plots.plot_branch_maps({})


def test_draw_inception_block_writes_the_channel_numbers(model):
    fig = diagram.draw_inception_block()
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for number in ("192 ch", "64 ch", "96 ch", "128 ch", "16 ch", "32 ch", "= 256 ch"):
        assert number in texts
    fig.savefig(io.BytesIO(), format="png", dpi=30)  # it draws
    from_block = " ".join(t.get_text() for t in diagram.draw_block(model.inception3b).axes[0].texts)
    assert "Previous layer\n256 ch" in from_block and "128 + 192 + 96 + 64 = 480 ch" in from_block
    assert "5x5 conv" in from_block


def test_plot_predictions_bars_match_probabilities():
    top = [{"class": "dog", "prob": 0.7}, {"class": "cat", "prob": 0.2}, {"class": "bird", "prob": 0.1}]
    fig = plots.plot_predictions(torch.rand(3, 8, 8), top)
    img_ax, bar_ax = fig.axes
    assert img_ax.get_title() == "dog (70%)"
    assert [t.get_text() for t in bar_ax.get_yticklabels()] == ["bird", "cat", "dog"]  # top-1 at the top
    assert np.allclose([p.get_width() for p in bar_ax.patches], [10, 20, 70])
    with pytest.raises(ValueError, match="top"):
        plots.plot_predictions(torch.rand(3, 8, 8), [])


def test_plot_prediction_grid_loads_paths_and_colours_right_and_wrong(tmp_path):
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((6, 6), 40 * i, dtype=np.uint8)).save(paths[-1])
    results = [{"path": str(p), "top": [{"class": c, "prob": 0.9}]} for p, c in zip(paths, ["cat", "dog"])]
    fig = plots.plot_prediction_grid(None, results, true=["cat", "bird"])
    titles = [ax.title for ax in fig.axes]
    assert [t.get_text() for t in titles] == ["cat (90%)\ntrue: cat", "dog (90%)\ntrue: bird"]
    assert [t.get_color() for t in titles] == ["tab:green", "tab:red"]
    assert "1 of 2 right" in fig._suptitle.get_text()


def test_figures_are_not_left_open_in_pyplot():
    diagram.draw_inception_block()
    plots.plot_history(_history())
    assert plt.get_fignums() == []


def _history_with_steps() -> History:
    history = _history()
    for i in range(1, 31):  # ten records per epoch
        history.steps.append(StepRecord(i / 10, i * 64, 2.3 / i, min(0.1 + i / 40, 0.9)))
    return history


def test_plot_history_draws_the_records_inside_epochs_on_a_log_loss_axis():
    fig = plots.plot_history(_history_with_steps())
    loss_ax, acc_ax = fig.axes
    train_line = loss_ax.lines[0]
    assert len(train_line.get_xdata()) == 30 and train_line.get_xdata()[0] == pytest.approx(0.1)
    assert loss_ax.get_yscale() == "log" and acc_ax.get_yscale() == "linear"
    assert np.allclose(acc_ax.lines[0].get_ydata()[:2], [12.5, 15.0])  # fractions shown as percent
    assert all(float(t).is_integer() for t in loss_ax.xaxis.get_major_locator().tick_values(0, 3))
    assert plots.plot_history(_history_with_steps().to_dict()).axes[0].lines[0].get_xdata().size == 30


def test_plot_comparison_one_colour_per_variant_and_a_line_per_seed():
    runs = {"a": [_history_with_steps(), _history_with_steps()], "b": _history()}
    fig = plots.plot_comparison(runs)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_yscale() == "log" and loss_ax.get_title() and acc_ax.get_title()
    assert len(loss_ax.lines) == 3 and len(acc_ax.lines) == 3
    assert loss_ax.lines[0].get_color() == loss_ax.lines[1].get_color() != loss_ax.lines[2].get_color()
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == ["a", "b"]
    with pytest.raises(ValueError, match="empty"):
        plots.plot_comparison({})


def test_plot_curves_puts_loss_on_a_log_axis_and_checks_lengths():
    fig = plots.plot_curves({"sgd": ([1, 2, 3], [2.3, 2.2, 2.1])}, {"sgd": ([1, 2, 3], [10, 12, 15])}, title="race")
    assert [ax.get_yscale() for ax in fig.axes] == ["log", "linear"]
    assert fig._suptitle.get_text() == "race"
    with pytest.raises(ValueError, match="2 x values but 3"):
        plots.plot_curves({"bad": ([1, 2], [1, 2, 3])})


def test_plot_branch_maps_has_one_colour_scale_per_branch():
    maps = {key: torch.ones(4, 3, 3) * (i + 1) for i, key in enumerate(plots.BRANCH_LABELS)}
    fig = plots.plot_branch_maps(maps, channels_per_branch=2)
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert [cb.get_ylim()[1] for cb in colorbars] == [1.0, 2.0, 3.0, 4.0]  # each row on its own scale
