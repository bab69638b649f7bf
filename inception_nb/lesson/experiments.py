"""Small measured experiments for notebooks 02 to 05: the post's recipe beside the series' own, what it costs,
and two numbers that follow from label smoothing.

The blog post this series grew from ("365天深度学习训练营", K同学啊) trains in its section 1.3 with
`torch.optim.SGD(model.parameters(), lr=1e-4)`, plain `nn.CrossEntropyLoss()`, batches of 32 and 20 epochs,
on the network of its section 1.2 (3 x 224 x 224 input, dropout 0.4, no BatchNorm in the three stem convs).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from ..loops import test, train
from ..training.schedule import make_optimizer
from ..model import InceptionV1
from ..training.runtime import pick_device

__all__ = ["POST_RECIPE", "recipe_rows", "recipe_table", "EpochRow", "post_optimizer", "post_epoch_loop",
           "race_optimizers", "TrainingCost", "post_training_cost", "smoothing_optimum", "gradient_norms",
           "receptive_field", "neighbour_correlation"]

# What the post trains with, and where it says so (section numbers of the post).
POST_RECIPE: dict[str, tuple[str, str]] = {
    "optimizer": ("SGD", "1.3: torch.optim.SGD(model.parameters(), lr=learn_rate)"),
    "learning rate": ("0.0001", "1.3: learn_rate = 1e-4"),
    "momentum": ("0 (none)", "1.3: SGD is called without momentum; PyTorch's default is 0"),
    "weight decay": ("0", "1.3: SGD is called without weight_decay"),
    "batch size": ("32", "1.3: 1875 batches = 60000 / 32; 1.2: input [32, 3, 224, 224]"),
    "epochs": ("20", "1.3: epochs = 20"),
    "input size": ("224 x 224", "1.2: torch.randn(32, 3, 224, 224), summary(model, (3, 224, 224))"),
    "channels": ("3", "1.2: nn.Conv2d(3, 64, kernel_size=7, ...)"),
    "dropout": ("0.4", "1.2: nn.Dropout(0.4) inside inception5b"),
    "label smoothing": ("0 (none)", "1.3: nn.CrossEntropyLoss() without label_smoothing"),
    "schedule": ("constant", "1.3: no scheduler; lr stays 1e-4"),
    "stem BatchNorm": ("no", "1.2: conv1, conv2, conv3 are followed by F.relu only"),
}


def _series_values(profile) -> dict[str, str]:
    """Return the series' value of each POST_RECIPE setting, read from the profile and the objects it builds."""
    model = profile.model.build(num_classes=10, in_channels=profile.data.channels)
    cfg = profile.train
    optimizer = make_optimizer(nn.Linear(1, 1), cfg)
    if cfg.optimizer == "adamw":
        momentum = f"β1 = {optimizer.defaults['betas'][0]} (AdamW's running mean of gradients)"
    else:
        momentum = f"{optimizer.defaults['momentum']} (Nesterov)" if optimizer.defaults.get("nesterov") \
            else str(optimizer.defaults["momentum"])
    schedule = {"onecycle": f"warm-up over the first {cfg.warmup:.0%} of steps, then cosine to 0",
                "cosine": "cosine from lr to 0", "constant": "constant"}[cfg.schedule]
    stem_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.conv1.modules())
    return {
        "optimizer": type(optimizer).__name__, "learning rate": f"{cfg.lr:g}", "momentum": momentum,
        "weight decay": f"{cfg.weight_decay:g}", "batch size": str(profile.data.batch_size),
        "epochs": str(cfg.epochs), "input size": f"{profile.data.image_size} x {profile.data.image_size}",
        "channels": str(profile.data.channels), "dropout": f"{model.dropout_p:g}",
        "label smoothing": f"{cfg.label_smoothing:g}", "schedule": schedule,
        "stem BatchNorm": "yes" if stem_bn else "no",
    }


def recipe_rows(profile) -> list[tuple[str, str, str, str]]:
    """Return (setting, the post's value, this profile's value, where the post says it) per training setting."""
    series = _series_values(profile)
    return [(name, post, series[name], where) for name, (post, where) in POST_RECIPE.items()]


def recipe_table(profile) -> str:
    """Return recipe_rows as a Markdown table."""
    lines = [f"| setting | the post | this series' `{profile.name}` profile | where the post says it |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {post} | {ours} | {where} |" for name, post, ours, where in recipe_rows(profile)]
    return "\n".join(lines)


@dataclass
class EpochRow:
    """One line of the post's epoch loop: training and test accuracy and mean loss after one epoch."""

    train_acc: float
    train_loss: float
    test_acc: float
    test_loss: float


def post_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """Return the post's optimizer for `model`: plain SGD, lr 1e-4, no momentum, no weight decay."""
    return torch.optim.SGD(model.parameters(), lr=1e-4)


def post_epoch_loop(data, model: nn.Module, loss_fn: Callable, optimizer: torch.optim.Optimizer, epochs: int,
                    seed: int = 0, name: str = "") -> list[EpochRow]:
    """The post's epoch loop: `train`, then `test`, once per epoch, printing the post's line for each."""
    rows = []
    for epoch in range(epochs):
        torch.manual_seed(seed + epoch)  # the same shuffle for every run that passes the same seed
        if getattr(data.train, "generator", None) is not None:
            data.train.generator.manual_seed(seed + epoch)
        train_acc, train_loss = train(data.train, model, loss_fn, optimizer)
        test_acc, test_loss = test(data.test, model, loss_fn)
        rows.append(EpochRow(train_acc, train_loss, test_acc, test_loss))
        print(f"{name}Epoch:{epoch + 1:2d}, Train_acc:{train_acc:.1%}, Train_loss:{train_loss:.3f}, "
              f"Test_acc:{test_acc:.1%}, Test_loss:{test_loss:.3f}")
    return rows


def race_optimizers(data, profile, epochs: int, seed: int = 0) -> dict[str, list[EpochRow]]:
    """Run the post's epoch loop twice from the same weights on the same batches: the post's SGD, then the
    profile's optimizer at its peak learning rate, held constant. Both minimise plain cross-entropy."""
    device = pick_device(profile.train.device)
    torch.manual_seed(seed)
    start = profile.model.build(num_classes=len(data.classes), in_channels=data.channels).state_dict()
    optimizers = {"post: SGD lr 1e-4": post_optimizer,
                  f"series: {profile.train.optimizer} lr {profile.train.lr:g}": partial(make_optimizer,
                                                                                       config=profile.train)}
    rows = {}
    for name, make in optimizers.items():
        model = profile.model.build(num_classes=len(data.classes), in_channels=data.channels)
        model.load_state_dict(start)
        model.to(device)
        rows[name] = post_epoch_loop(data, model, nn.CrossEntropyLoss(), make(model), epochs, seed, f"{name:<20} ")
    return rows


@dataclass
class TrainingCost:
    """What a training run costs, extrapolated from a measured step."""

    image_size: int
    batch_size: int
    images: int                  # training images the whole run processes
    seconds_per_image: float     # measured on this machine
    flop_per_image: float        # forward + backward, counted by torch.utils.flop_counter

    @property
    def cpu_hours(self) -> float:
        """Return the estimated hours of the whole run on this machine."""
        return self.images * self.seconds_per_image / 3600

    @property
    def total_flop(self) -> float:
        """Return the arithmetic of the whole run in floating-point operations."""
        return self.images * self.flop_per_image


def post_training_cost(epochs: int = 20, train_images: int = 60_000, batch_size: int = 8, image_size: int = 224,
                       num_classes: int = 10, repeats: int = 2) -> TrainingCost:
    """Time the post's training step (its network, 3 x 224 x 224, SGD lr 1e-4) and extrapolate to its full run.

    Measures `repeats` steps of `batch_size` random images after one warm-up step; at 224 x 224 the time per
    image hardly depends on the batch size on a CPU, so a small batch keeps the measurement short.
    """
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model = InceptionV1(num_classes=num_classes, in_channels=3, preset="seed")  # the post's network
    images = torch.randn(batch_size * (repeats + 1), 3, image_size, image_size)
    labels = torch.randint(0, num_classes, (len(images),))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=batch_size)
    optimizer, loss_fn = post_optimizer(model), nn.CrossEntropyLoss()
    batches = iter(loader)
    x, y = next(batches)
    with FlopCounterMode(display=False) as counter:  # the warm-up step, counted
        loss_fn(model.train()(x), y).backward()
    optimizer.zero_grad(set_to_none=True)
    start = time.perf_counter()
    for x, y in batches:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    seconds = (time.perf_counter() - start) / (repeats * batch_size)
    return TrainingCost(image_size, batch_size, epochs * train_images, seconds,
                        counter.get_total_flops() / batch_size)


def smoothing_optimum(epsilon: float, num_classes: int) -> tuple[float, float]:
    """Return (the best probability for the true class, the lowest reachable loss) under label smoothing.

    The smoothed target puts 1 - epsilon + epsilon/K on the true class and epsilon/K on each other class;
    cross-entropy against a target is smallest when the prediction equals it, and that minimum is the target's
    entropy.
    """
    if not 0 <= epsilon < 1 or num_classes < 2:
        raise ValueError(f"need 0 <= epsilon < 1 and at least 2 classes, got {epsilon} and {num_classes}")
    p_true, p_other = 1 - epsilon + epsilon / num_classes, epsilon / num_classes
    entropy = -p_true * math.log(p_true) - (num_classes - 1) * (p_other * math.log(p_other) if p_other else 0.0)
    return p_true, entropy


def gradient_norms(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Return the gradient norm of each top-level layer's weights after one backward pass of cross-entropy."""
    model.zero_grad(set_to_none=True)
    outputs = model.train()(images)
    logits = outputs[0] if isinstance(outputs, tuple) else outputs
    nn.functional.cross_entropy(logits, labels).backward()
    norms = {}
    for name, child in model.named_children():
        grads = [p.grad.flatten() for n, p in child.named_parameters() if p.grad is not None and p.ndim > 1]
        if grads and not name.startswith("aux"):
            norms[name] = torch.cat(grads).norm().item()
    model.zero_grad(set_to_none=True)
    return norms


def receptive_field(model: nn.Module, before: str) -> tuple[int, int]:
    """Return (receptive field in input pixels, stride in input pixels) of one position of the map that enters
    the top-level layer `before`, from the kernel sizes and strides of the layers in front of it."""
    field_px, jump = 1, 1
    for name, child in model.named_children():
        if name == before:
            return field_px, jump
        for layer in child.modules():
            if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
                k = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
                s = layer.stride if isinstance(layer.stride, int) else layer.stride[0]
                d = getattr(layer, "dilation", 1)
                d = d if isinstance(d, int) else d[0]
                field_px += (k - 1) * d * jump
                jump *= s
    raise ValueError(f"model has no top-level layer {before!r}; use one of {[n for n, _ in model.named_children()]}")


def neighbour_correlation(conv: nn.Module) -> float:
    """Return the mean correlation between horizontally adjacent taps of a conv layer's kernels (about 0 for noise)."""
    conv = conv if isinstance(conv, nn.Conv2d) else next(m for m in conv.modules() if isinstance(m, nn.Conv2d))
    w = conv.weight.detach().float()
    left, right = w[..., :-1].flatten(1), w[..., 1:].flatten(1)  # one row per filter
    left, right = left - left.mean(1, keepdim=True), right - right.mean(1, keepdim=True)
    corr = (left * right).sum(1) / (left.norm(dim=1) * right.norm(dim=1)).clamp_min(1e-12)
    return corr.mean().item()
