"""Figures for the notebooks: training curves, confusion matrix, image galleries, conv1 filters,
what each branch of an Inception block responds to, and predictions (the block diagram: diagram.py).

Drawing only: what needs the model run (confusion counts, branch maps, predictions) is in analysis.py.

Every plotting function returns its matplotlib Figure. Figures are released from pyplot, so a notebook
cell that ends with the call shows the figure exactly once; `fig.savefig("name.png")` writes it to a file.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator
from torch import Tensor, nn

from .analysis import BRANCH_LABELS, class_indices
from ..training.history import History
from ..images import open_image


def figure(figsize) -> Figure:
    """Return a new constrained-layout Figure that pyplot will not show a second time."""
    # Through pyplot, so Jupyter's inline backend loads; then closed, or pyplot shows it twice and tests leak it.
    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)
    return fig


def fig_ax(ax: Axes | None, figsize) -> tuple[Figure, Axes]:
    """Return (figure, axes): those of `ax` when given, else a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig = figure(figsize)
    return fig, fig.subplots()


def _image_array(image, mean=None, std=None) -> np.ndarray:
    """Return H x W (grayscale) or H x W x 3 (RGB) floats in [0, 1] from a tensor, array, PIL image or path."""
    if isinstance(image, (str, Path)):
        image = open_image(image)
    if hasattr(image, "convert"):  # a PIL image
        image = np.asarray(image.convert("L" if image.mode in ("1", "L") else "RGB"))
    from_torch = isinstance(image, Tensor)
    x = image.detach().cpu() if from_torch else torch.from_numpy(np.array(image))  # a copy: PIL's is read-only
    if x.dim() == 4 and x.shape[0] == 1:
        x = x[0]
    if x.dim() == 3 and not from_torch and x.shape[-1] in (1, 3, 4):
        x = x.permute(2, 0, 1)  # numpy and PIL keep channels last, torch first
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3 or x.shape[0] not in (1, 3, 4):
        raise ValueError(f"cannot show an image shaped {tuple(x.shape)}; pass one image as [C,H,W] with "
                         "C = 1 (grayscale) or 3 (RGB), or [H,W]")
    x = x[:3]  # drop an alpha channel
    if x.dtype == torch.uint8:
        x = x.float() / 255  # raw pixels: mean/std belong to normalised tensors only
    else:
        x = x.float()
        if mean is not None and std is not None:
            if len(mean) != x.shape[0] or len(std) != x.shape[0]:
                raise ValueError(f"mean/std have {len(mean)}/{len(std)} values but the image has {x.shape[0]} "
                                 "channels; pass the statistics of the data it came from (data.mean, data.std)")
            x = x * torch.tensor(std).view(-1, 1, 1) + torch.tensor(mean).view(-1, 1, 1)
        elif x.min() < 0 or x.max() > 1:  # normalised, but we were not told how: stretch to the full range
            x = (x - x.min()) / (x.max() - x.min()).clamp_min(1e-12)
    x = x.clamp(0, 1)
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


def _show(ax: Axes, img: np.ndarray, **kwargs) -> None:
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest", **kwargs)
    _blank(ax)


def _blank(ax: Axes) -> None:
    # Hide ticks and frame but keep the y label, which names a row in the galleries.
    ax.set(xticks=[], yticks=[])
    ax.spines[:].set_visible(False)


def _mosaic(tiles: list, nrows: int, ncols: int, gap: int = 1) -> np.ndarray:
    # One image with white gaps draws far faster than one axes per tile (an 8x8 filter grid, a class row).
    h, w = tiles[0].shape[:2]
    out = np.ones((nrows * (h + gap) - gap, ncols * (w + gap) - gap, 3))
    for i, tile in enumerate(tiles):
        y, x = (i // ncols) * (h + gap), (i % ncols) * (w + gap)
        out[y:y + h, x:x + w] = tile[..., None] if tile.ndim == 2 else tile
    return out


def _gallery_axes(n: int, ncols: int | None, cell=(2.0, 2.3)) -> tuple[Figure, list]:
    ncols = ncols or min(n, max(4, math.ceil(math.sqrt(n))))
    nrows = math.ceil(n / ncols)
    fig = figure((cell[0] * ncols, cell[1] * nrows + 0.5))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.remove()
    return fig, list(axes[:n])


def _train_curve(history: History, key: str) -> tuple[list, list]:
    # A training metric at its epoch positions: recorded inside the epochs when it was, else once per epoch.
    if history.steps:
        return [s.epoch for s in history.steps], [getattr(s, key) for s in history.steps]
    return history.column("epoch"), history.column(key)


class _PlainLog(LogFormatter):  # log-axis labels as 0.5, 2, 30 instead of 5e-01, 2x10^0
    def _num_to_string(self, x, vmin, vmax):
        return f"{x:g}"


def _log_y(ax: Axes) -> None:
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_PlainLog(labelOnlyBase=False))
    ax.yaxis.set_minor_formatter(_PlainLog(labelOnlyBase=False, minor_thresholds=(2, 0.4)))
    ax.grid(alpha=0.3, which="both")


def _epoch_axis(ax: Axes, title: str, ylabel: str, log: bool = False) -> None:
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
    _log_y(ax) if log else ax.grid(alpha=0.3)


def plot_history(history, label_smoothing: float = 0.0, figsize=(11, 4)) -> Figure:
    """Return loss (log scale) and accuracy (%) for train (inside the epochs when recorded) and test per epoch."""
    if isinstance(history, dict):  # a loaded history.json
        history = History.from_dict(history)
    epochs = history.column("epoch")
    if not epochs:
        raise ValueError("history has no epochs yet; train for at least one epoch (fit(...)) before plotting it")
    fig = figure(figsize)
    loss_ax, acc_ax = fig.subplots(1, 2)
    marker = "o" if len(epochs) <= 25 else None
    accs = history.column("train_acc") + history.column("test_acc")
    scale = 1 if max(accs) > 1 else 100  # History stores fractions; accept percentages too
    loss_labels = (f"train (label smoothing {label_smoothing:g})", "test (plain targets)") if label_smoothing else None
    for ax, key, k, ylabel, title, (train_label, test_label) in (
            (loss_ax, "loss", 1, "loss (cross-entropy, log scale)", "Loss", loss_labels or ("train", "test")),
            (acc_ax, "acc", scale, "accuracy (%)", "Accuracy", ("train", "test"))):
        train_x, train_y = _train_curve(history, f"train_{key}")
        ax.plot(train_x, [v * k for v in train_y], "-", marker=None if history.steps else marker, label=train_label)
        ax.plot(epochs, [v * k for v in history.column(f"test_{key}")], "--", marker=marker, label=test_label)
        _epoch_axis(ax, title, ylabel, log=key == "loss")
        ax.set_xlim(left=0 if history.steps else None)
        ax.legend()
    test_acc = [v * scale for v in history.column("test_acc")]
    best = int(np.argmax(test_acc))
    acc_ax.annotate(f"best {test_acc[best]:.1f}%", (epochs[best], test_acc[best]), xytext=(0, -18),
                    textcoords="offset points", ha="center", fontsize=9)
    fig.suptitle(f"Training history: {len(epochs)} epochs, best test accuracy {test_acc[best]:.1f}% "
                 f"(epoch {epochs[best]})")
    return fig


def plot_confusion_matrix(matrix, classes: Sequence[str], normalize: bool = True, ax: Axes | None = None,
                          figsize=None, cmap: str = "Blues") -> Figure:
    """Return a heat map of the confusion matrix (rows: true class), annotated, with per-class accuracy."""
    m = np.asarray(torch.as_tensor(matrix).cpu(), dtype=float)
    n = len(classes)
    if m.shape != (n, n):
        raise ValueError(f"matrix is {m.shape[0]}x{m.shape[-1]} but classes has {n} names; pass the class "
                         "list the matrix was counted with")
    rows = m.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = 100 * m / rows[:, None]
        recall = 100 * np.diag(m) / rows
    shown = np.nan_to_num(pct) if normalize else m
    fig, ax = fig_ax(ax, figsize or (0.55 * n + 4.5, 0.5 * n + 2.8))
    im = ax.imshow(shown, cmap=cmap, vmin=0, vmax=100 if normalize else max(m.max(), 1))
    if n <= 30:  # beyond that the numbers no longer fit in the cells
        for (i, j), count in np.ndenumerate(m):
            if count == 0:
                continue  # blank zeros keep the eye on the mistakes
            text = (f"{pct[i, j]:.0f}" if pct[i, j] >= 0.5 else "<1") if normalize else f"{int(count)}"
            dark = shown[i, j] > 0.6 * im.norm.vmax
            ax.text(j, i, text, ha="center", va="center", fontsize=8 if n <= 12 else 6,
                    color="white" if dark else "black")
    ax.set_xticks(range(n), classes, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), classes)
    ax.set(xlabel="predicted class", ylabel="true class")
    right = ax.secondary_yaxis("right")
    right.set_yticks(range(n), ["n/a" if np.isnan(r) else f"{r:.0f}%" for r in recall])
    right.set_ylabel("per-class accuracy")
    total = m.sum()
    ax.set_title(f"Confusion matrix: {np.trace(m) / max(total, 1):.1%} of {int(total):,} images correct"
                 + ("\n(% of each true class; rows sum to 100)" if normalize else "\n(image counts)"))
    fig.colorbar(im, ax=ax, label="% of the true class" if normalize else "images", shrink=0.8, pad=0.02)
    return fig


def plot_misclassified(images, labels, preds, classes: Sequence[str], mean=None, std=None, max_images: int = 16,
                       probs=None, ncols: int | None = None) -> Figure:
    """Return a gallery of wrongly classified images titled 'true: X / pred: Y (p%)' (most confident first)."""
    labels, preds = class_indices(labels, "labels", len(classes)), class_indices(preds, "preds", len(classes))
    if not len(images) == len(labels) == len(preds):
        raise ValueError(f"images, labels and preds must be the same length, got {len(images)}, {len(labels)} and "
                         f"{len(preds)}; collect them from the same batches")
    if max_images < 1:
        raise ValueError(f"max_images must be at least 1, got {max_images}")
    wrong = (labels != preds).nonzero().flatten()
    conf = None
    if probs is not None:
        p = torch.as_tensor(probs).detach().float().cpu()
        conf = p.gather(1, preds[:, None]).flatten() if p.dim() == 2 else p.flatten()
        wrong = wrong[conf[wrong].argsort(descending=True)]  # confident mistakes teach the most
    if len(wrong) == 0:
        fig, ax = fig_ax(None, (7, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, f"No misclassified images: all {len(labels):,} predictions are correct.", ha="center",
                va="center", fontsize=12, transform=ax.transAxes)
        return fig
    shown = wrong[:max_images].tolist()
    fig, axes = _gallery_axes(len(shown), ncols)
    for ax, i in zip(axes, shown):
        _show(ax, _image_array(images[i], mean, std))
        p = f" ({conf[i]:.0%})" if conf is not None else ""
        ax.set_title(f"true: {classes[labels[i]]}\npred: {classes[preds[i]]}{p}", fontsize=9)
    fig.suptitle(f"Misclassified: {len(shown)} of {len(wrong):,} mistakes ({len(wrong) / len(labels):.1%} of "
                 f"{len(labels):,} images)" + (", most confident first" if conf is not None else ""))
    return fig


def plot_examples(images, labels, classes: Sequence[str], per_class: int = 8, mean=None, std=None) -> Figure:
    """Return a grid with one row of `per_class` example images per class, the class name at each row's start."""
    labels = class_indices(labels, "labels", len(classes))
    if len(images) != len(labels) or per_class < 1:
        raise ValueError(f"need as many labels as images (got {len(labels)} and {len(images)}) and per_class >= 1 "
                         f"(got {per_class})")
    fig = figure((1.0 * per_class + 1.8, 1.0 * len(classes) + 0.6))
    axes = fig.subplots(len(classes), 1, squeeze=False).ravel()
    blank = np.ones(_image_array(images[0], mean, std).shape[:2] if len(images) else (1, 1))
    for c, ax in enumerate(axes):
        tiles = [_image_array(images[i], mean, std) for i in (labels == c).nonzero().flatten()[:per_class].tolist()]
        ax.imshow(_mosaic(tiles + [blank] * (per_class - len(tiles)), 1, per_class, gap=2), interpolation="nearest")
        _blank(ax)
        ax.set_ylabel(classes[c] if tiles else f"{classes[c]}\n(no images)", rotation=0, ha="right", va="center")
    fig.suptitle(f"{len(classes)} classes, {per_class} examples each")
    return fig


def _first_conv(model: nn.Module) -> nn.Conv2d:
    for root in (getattr(model, "conv1", None), model):
        for m in root.modules() if root is not None else ():
            if isinstance(m, nn.Conv2d):
                return m
    raise ValueError(f"{type(model).__name__} has no nn.Conv2d; pass an InceptionV1 (or any CNN)")


def plot_conv1_filters(model: nn.Module, ncols: int = 8) -> Figure:
    """Return the first conv layer's kernels as a grid of small images, each scaled to its own range."""
    conv = _first_conv(model)
    w = conv.weight.detach().float().cpu()  # out x in x k x k
    lo, hi = w.amin((1, 2, 3), keepdim=True), w.amax((1, 2, 3), keepdim=True)
    w = (w - lo) / (hi - lo).clamp_min(1e-12)
    c, kh, kw = w.shape[1:]
    tiles = [(f.permute(1, 2, 0) if c == 3 else f.mean(0)).numpy() for f in w]
    nrows, ncols = math.ceil(len(tiles) / ncols), min(ncols, len(tiles))
    fig, ax = fig_ax(None, (0.8 * ncols + 0.4, 0.8 * nrows + 1.0))
    ax.imshow(_mosaic(tiles, nrows, ncols), cmap="gray", interpolation="nearest")
    _blank(ax)
    how = {1: "grayscale", 3: "RGB"}.get(c, f"mean of {c} channels")
    ax.set_title(f"conv1: {len(tiles)} filters of {kh}x{kw} ({how})\n"
                 "each scaled to its own range: black = most negative, white = most positive weight", fontsize=10)
    return fig


def plot_branch_maps(maps: dict, image=None, channels_per_branch: int = 6, mean=None, std=None,
                     title: str | None = None) -> Figure:
    """Return one row per branch with its most active channels' maps (chosen by mean activation)."""
    if not maps:
        raise ValueError("maps is empty; pass the dict that branch_feature_maps returns")
    k = channels_per_branch
    extra = image is not None
    fig = figure((1.3 * k + 1.8 + 2.6 * extra, 1.4 * len(maps) + 0.8))
    gs = fig.add_gridspec(len(maps), k + extra, width_ratios=[2.2] * extra + [1] * k)
    if extra:
        img_ax = fig.add_subplot(gs[:, 0])
        _show(img_ax, _image_array(image, mean, std))
        img_ax.set_title("input image")
    scales = []
    for r, (key, t) in enumerate(maps.items()):
        t = torch.as_tensor(t).float()
        if t.dim() != 3:
            raise ValueError(f"maps[{key!r}] must be [channels, h, w], got shape {tuple(t.shape)}")
        top = t.mean((1, 2)).argsort(descending=True)[:k].tolist()
        vmax = max(float(t[top].max()), 1e-6)  # one scale per row: brighter = stronger response
        row, shown = [], None
        for j in range(k):
            ax = fig.add_subplot(gs[r, j + extra])
            _blank(ax)
            row.append(ax)
            if j < len(top):
                shown = ax.imshow(t[top[j]].numpy(), cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
                ax.set_title(f"ch {top[j]}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{BRANCH_LABELS.get(key, key)}\n{t.shape[0]} channels", rotation=0,
                              ha="right", va="center")
        scales.append((shown, row))
    for shown, row in scales:  # after all maps, so the colour bars come last in fig.axes
        if shown is not None:
            fig.colorbar(shown, ax=row, shrink=0.9, pad=0.01, label="activation")
    fig.suptitle(title or f"The {k} most active channels of each branch (brighter = stronger response)")
    return fig


def _check_top(top) -> list:
    top = top["top"] if isinstance(top, dict) else top  # an item of predict_images' list works too
    if not top or not all(isinstance(t, dict) and {"class", "prob"} <= t.keys() for t in top):
        raise ValueError("top must be a non-empty list of {'class': str, 'prob': float}, as in "
                         "predict_images(...)[i]['top']")
    return list(top)


def plot_predictions(image, top, mean=None, std=None, title: str | None = None, figsize=(8, 3)) -> Figure:
    """Return the image next to a bar chart of its top-k classes with probabilities in %."""
    top = _check_top(top)
    fig = figure(figsize)
    img_ax, bar_ax = fig.subplots(1, 2, width_ratios=[1, 1.7])
    _show(img_ax, _image_array(image, mean, std))
    img_ax.set_title(title or f"{top[0]['class']} ({top[0]['prob']:.0%})")
    names, probs = [t["class"] for t in top][::-1], [100 * t["prob"] for t in top][::-1]
    bars = bar_ax.barh(range(len(top)), probs, color=["#b0b0b0"] * (len(top) - 1) + ["tab:blue"])
    bar_ax.bar_label(bars, [f"{p:.1f}%" for p in probs], padding=3, fontsize=9)
    bar_ax.set_yticks(range(len(top)), names)
    bar_ax.set(xlim=(0, 118), xticks=range(0, 101, 25), xlabel="probability (%)", title=f"top-{len(top)} classes")
    bar_ax.spines[["top", "right"]].set_visible(False)
    return fig


def plot_prediction_grid(images, results: list, mean=None, std=None, true: Sequence[str] | None = None,
                         ncols: int | None = None) -> Figure:
    """Return a grid of images, each titled with its top-1 class and probability (green/red when `true` is given).

    `images=None` loads each result's "path", as `predict_images` returns them.
    """
    tops = [_check_top(r) for r in results]
    if images is None:
        images = [r["path"] for r in results]
    if len(images) != len(tops) or (true is not None and len(true) != len(tops)):
        raise ValueError(f"images, results (and true) must be the same length, got {len(images)}, {len(tops)}"
                         + (f" and {len(true)}" if true is not None else ""))
    if not tops:
        raise ValueError("results is empty; predict at least one image")
    fig, axes = _gallery_axes(len(tops), ncols)
    for i, (ax, top) in enumerate(zip(axes, tops)):
        _show(ax, _image_array(images[i], mean, std))
        text, colour = f"{top[0]['class']} ({top[0]['prob']:.0%})", "black"
        if true is not None:
            text, colour = text + f"\ntrue: {true[i]}", "tab:green" if true[i] == top[0]["class"] else "tab:red"
        ax.set_title(text, fontsize=9, color=colour)
    right = sum(t[0]["class"] == c for t, c in zip(tops, true)) if true is not None else None
    fig.suptitle("Top-1 predictions" + (f": {right} of {len(tops)} right" if right is not None else ""))
    return fig


def plot_comparison(histories: dict, figsize=(11, 4)) -> Figure:
    """Return training loss (log scale) and test accuracy per epoch: {name: History or [History per seed]}."""
    if not histories:
        raise ValueError("histories is empty; pass {'run name': History or [History, ...], ...}")
    fig = figure(figsize)
    loss_ax, acc_ax = fig.subplots(1, 2, sharex=True)  # both panels from epoch 0
    for i, (name, runs) in enumerate(histories.items()):
        for j, history in enumerate(runs if isinstance(runs, (list, tuple)) else [runs]):
            style = dict(color=f"C{i}", alpha=0.85, label=None if j else name)  # one colour per variant
            loss_ax.plot(*_train_curve(history, "train_loss"), lw=1.2, **style)
            acc_ax.plot(history.column("epoch"), [100 * a for a in history.column("test_acc")], marker="o", **style)
    _epoch_axis(loss_ax, "Training loss", "loss (cross-entropy, log scale)", log=True)
    _epoch_axis(acc_ax, "Test accuracy after each epoch", "test accuracy (%)")
    loss_ax.set_xlim(left=0)
    acc_ax.legend(fontsize=9)
    fig.suptitle("One line per run; runs of the same variant (other seeds) share its colour")
    return fig


def plot_curves(loss: dict, acc: dict | None = None, xlabel: str = "training images seen",
                title: str | None = None, figsize=(11, 4)) -> Figure:
    """Return training-loss curves (log scale), and test-accuracy curves when given, for named runs: {name: (x, y)}."""
    if not loss:
        raise ValueError("loss is empty; pass {'run name': (x values, loss values), ...}")
    fig = figure(figsize)
    panels = [(loss, "training loss (log scale)", True)] + ([(acc, "test accuracy (%)", False)] if acc else [])
    for ax, (curves, ylabel, log) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        for name, (x, y) in curves.items():
            if len(x) != len(y):
                raise ValueError(f"curve {name!r} has {len(x)} x values but {len(y)} y values")
            ax.plot(x, y, marker="o", ms=3, label=name)
        ax.set(xlabel=xlabel, ylabel=ylabel, title=ylabel.split(" (")[0].capitalize())
        _log_y(ax) if log else ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    fig.suptitle(title or "")
    return fig
