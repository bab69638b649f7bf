"""Notebook 05's controlled experiments: each claim of the post's summary against a control, on a small subset.

The post (its section 2) says the auxiliary classifiers fight vanishing gradients, and that a network without
BatchNorm is sensitive to initialisation and learning rate. The functions here train the paper's network
(no BatchNorm) and the seed network with BatchNorm, each with and without the auxiliary heads, for a few dozen
steps at several learning rates, from two seeds and two initialisations, on the same batches. Everything is
sized to run in a notebook on a CPU: 28 x 28 input, about a thousand images, tens of steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DataConfig
from ..data import load_data
from ..loops import train_step
from ..model import InceptionAux, InceptionV1, aux_loss
from ..training.fastconv import matmul_convs
from .anatomy import tap_coverage
from .report import module_cost

__all__ = ["NETWORKS", "INITS", "Subset", "small_subset", "build", "init_scale", "layer_gradients",
           "ShortRun", "short_run", "sweep", "batchnorm_losses", "TinyMapCost", "tiny_map_cost", "LEARNED_BELOW"]

# The four networks of the controls: the claim is about the paper's network; the BatchNorm one is the control.
NETWORKS: dict[str, dict] = {
    "paper": dict(preset="paper"),
    "paper + heads": dict(preset="paper", aux_logits=True),
    "BatchNorm": dict(preset="seed", stem_batchnorm=True),
    "BatchNorm + heads": dict(preset="seed", stem_batchnorm=True, aux_logits=True),
}
INITS = ("pytorch", "he")  # PyTorch's default Conv2d/Linear init, and He (Kaiming) normal init for ReLU
LEARNED_BELOW = math.log(10) - 0.2  # a run "learned" when its last ten steps' loss ends this far below guessing


@dataclass
class Subset:
    """A small class-balanced slice of the data as tensors, so every run can draw the same batches cheaply."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def small_subset(limit: int = 1000, image_size: int = 28, dataset: str = "fashion-mnist") -> Subset:
    """Return `limit` training and `limit` test images (class-balanced, normalised) as tensors."""
    data = load_data(DataConfig(dataset=dataset, image_size=image_size, batch_size=limit, limit=limit))
    parts = [torch.cat(tensors) for loader in (data.train, data.test) for tensors in zip(*loader)]
    return Subset(*parts)


def _he_init(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")  # variance 2 / fan_in
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def build(name: str, seed: int = 0, init: str = "pytorch", num_classes: int = 10, in_channels: int = 1) -> InceptionV1:
    """Return network `name` of NETWORKS, its weights drawn from `seed` with initialisation `init` of INITS.

    The paper's heads open with a 5x5/3 average pool, which needs a 4a map of at least 5 x 5 (65-pixel input).
    For "paper + heads" at smaller inputs the heads keep the paper's layers without BatchNorm (1x1 conv to 128
    channels, fc 1024, dropout 0.7, fc) but pool adaptively to 4 x 4, as torchvision's heads do.
    """
    if name not in NETWORKS or init not in INITS:
        raise ValueError(f"unknown network {name!r} or init {init!r}; use one of {list(NETWORKS)} and {INITS}")
    torch.manual_seed(seed)
    model = InceptionV1(num_classes=num_classes, in_channels=in_channels, **NETWORKS[name])
    if model.preset == "paper" and model.aux_logits:
        model.aux1 = InceptionAux(512, num_classes, batchnorm=False)
        model.aux2 = InceptionAux(528, num_classes, batchnorm=False)
        model.min_input_size = 1
    if init == "he":
        _he_init(model)
    return model


def init_scale(model: nn.Module) -> dict[str, float]:
    """Return, per kind of layer, the mean over layers of weight std x sqrt(fan_in): 1/sqrt(3) = 0.577 for
    PyTorch's default (uniform in +-1/sqrt(fan_in)), sqrt(2) = 1.414 for He init."""
    scales: dict[str, list[float]] = {}
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            scales.setdefault(type(module).__name__, []).append(module.weight.std().item() * math.sqrt(fan_in))
    return {kind: sum(values) / len(values) for kind, values in scales.items()}


def layer_gradients(model: InceptionV1, images: torch.Tensor, labels: torch.Tensor,
                    aux_weight: float = 0.3) -> dict[str, float]:
    """Return the gradient norm of each top-level layer's weights after one backward pass of the training loss
    (cross-entropy, plus `aux_weight` times each head's when the model has heads), in depth order."""
    model.zero_grad(set_to_none=True)
    aux_loss(model.train()(images), labels, F.cross_entropy, aux_weight).backward()
    norms = {}
    for name, child in model.named_children():
        grads = [p.grad.flatten() for p in child.parameters() if p.grad is not None and p.ndim > 1]
        if grads and not name.startswith("aux"):
            norms[name] = torch.cat(grads).norm().item()
    model.zero_grad(set_to_none=True)
    return norms


@dataclass
class ShortRun:
    """One short training run: its training loss per step and where it ended on the test images."""

    network: str
    lr: float
    seed: int
    init: str
    losses: list[float] = field(default_factory=list)        # training loss, heads' losses included
    main_losses: list[float] = field(default_factory=list)   # the main classifier's loss alone
    norm_losses: dict[str, float] = field(default_factory=dict)  # batchnorm_losses, for BatchNorm networks
    test_acc: float = float("nan")
    test_loss: float = float("nan")
    seconds: float = 0.0

    @property
    def end_loss(self) -> float:
        """Return the main classifier's mean training loss over the last ten steps."""
        tail = self.main_losses[-10:]
        return sum(tail) / len(tail) if tail else float("nan")

    @property
    def learned(self) -> bool:
        """Return True when the run ended clearly below the loss of a network that guesses, ln(10)."""
        return self.end_loss < LEARNED_BELOW


def _norm_layers(model: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


@torch.no_grad()
def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_stats: bool = False) -> tuple[float, float]:
    """Return (accuracy, mean loss) on x, y in eval mode; batch_stats=True lets BatchNorm normalise with each
    batch's own statistics instead (this updates its running statistics: the caller restores them)."""
    model.eval()
    for norm in _norm_layers(model) if batch_stats else []:
        norm.train()
    correct, loss = 0, 0.0
    for start in range(0, len(x), 250):
        logits = model(x[start:start + 250])
        loss += F.cross_entropy(logits, y[start:start + 250], reduction="sum").item()
        correct += (logits.argmax(1) == y[start:start + 250]).sum().item()
    model.eval()
    return correct / len(x), loss / len(x)


def _train(model: nn.Module, subset: Subset, lr: float, seed: int, steps: int, batch: int,
           warmup: int) -> tuple[list, list]:
    """Train with SGD (Nesterov momentum 0.9), lr warmed up linearly over `warmup` steps then constant."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
    shuffles = torch.Generator().manual_seed(seed)  # the same batches for every network of one seed
    order = torch.cat([torch.randperm(len(subset.train_x), generator=shuffles)
                       for _ in range(math.ceil(steps * batch / len(subset.train_x)))])
    losses, main_losses = [], []
    model.train()
    with matmul_convs(model, enabled=True):
        for step in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = lr * min(1.0, (step + 1) / warmup)
            pick = order[step * batch:(step + 1) * batch]
            labels = subset.train_y[pick]
            logits, loss = train_step(model, subset.train_x[pick], labels, F.cross_entropy, optimizer)
            losses.append(loss.item())
            main_losses.append(F.cross_entropy(logits.detach(), labels).item())
    return losses, main_losses


def short_run(network: str, lr: float, seed: int, subset: Subset, steps: int = 40, batch: int = 32,
              init: str = "pytorch", warmup: int = 10) -> tuple[ShortRun, InceptionV1]:
    """Train network `network` for `steps` steps at learning rate `lr`; return its ShortRun and the model."""
    if steps < 10 or batch < 2:
        raise ValueError(f"need at least 10 steps and batches of 2, got {steps} and {batch}")
    model = build(network, seed, init, in_channels=subset.train_x.shape[1])
    run, start = ShortRun(network, lr, seed, init), time.perf_counter()
    run.losses, run.main_losses = _train(model, subset, lr, seed, steps, batch, warmup)
    run.seconds = time.perf_counter() - start
    run.test_acc, run.test_loss = _evaluate(model, subset.test_x, subset.test_y)
    if _norm_layers(model):
        run.norm_losses = batchnorm_losses(model, subset, batch)
    return run, model


def sweep(networks: list[str], lrs: list[float], seeds: list[int], subset: Subset, inits: tuple = ("pytorch",),
          **options) -> list[ShortRun]:
    """Return a ShortRun for every network x learning rate x seed x init, trained with short_run(**options)."""
    return [short_run(network, lr, seed, subset, init=init, **options)[0]
            for network in networks for init in inits for lr in lrs for seed in seeds]


def batchnorm_losses(model: nn.Module, subset: Subset, batch: int = 32) -> dict[str, float]:
    """Return the test loss of a BatchNorm network three ways: with its running statistics (eval mode, as
    `test` runs it), with each test batch's own statistics, and after re-estimating the running statistics
    from the training images with the weights frozen. The model is left as it came."""
    norms = _norm_layers(model)
    saved, momenta = {k: v.clone() for k, v in model.state_dict().items()}, [norm.momentum for norm in norms]
    losses = {"running statistics": _evaluate(model, subset.test_x, subset.test_y)[1],
              "each batch's statistics": _evaluate(model, subset.test_x, subset.test_y, batch_stats=True)[1]}
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a plain average over every batch below, not an exponential one
        norm.train()
    with torch.no_grad():
        for start in range(0, len(subset.train_x) - batch + 1, batch):
            model(subset.train_x[start:start + batch])
    losses["re-estimated statistics"] = _evaluate(model, subset.test_x, subset.test_y)[1]
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.load_state_dict(saved)
    model.eval()
    return losses


@dataclass
class TinyMapCost:
    """What the convolutions on the smallest maps cost in one training step (forward and backward)."""

    image_size: int
    batch: int
    largest_map: int
    matmul_convs: bool
    step_seconds: float
    seconds: dict[str, float]    # "3x3 and 5x5", "1x1": their layers on maps up to largest_map, timed alone
    macs: dict[str, int]         # per image: "counted" (all taps), "on a pixel", "model" (the whole network)
    layers: list[str]

    def share(self, kind: str) -> float:
        """Return the share of a training step that the `kind` convolutions on the small maps took."""
        return self.seconds[kind] / self.step_seconds

    @property
    def padding_share(self) -> float:
        """Return the share of the model's counted multiply-adds in which a 3x3/5x5 tap multiplies padding."""
        return (self.macs["counted"] - self.macs["on a pixel"]) / self.macs["model"]


def _seconds(work, repeats: int) -> float:
    work()  # warm-up: first calls allocate and pick kernels
    start = time.perf_counter()
    for _ in range(repeats):
        work()
    return (time.perf_counter() - start) / repeats


def tiny_map_cost(model: nn.Module, image_size: int = 28, batch: int = 32, largest_map: int = 2,
                  use_matmul_convs: bool = True, repeats: int = 3) -> TinyMapCost:
    """Time one training step of `model` and, alone, each convolution whose input map is at most
    `largest_map` pixels wide, split into 3x3/5x5 and 1x1; count the multiply-adds of the 3x3/5x5 ones."""
    x = torch.randn(batch, model.in_channels, image_size, image_size)
    y = torch.randint(0, model.num_classes, (batch,))
    shapes: dict[str, tuple] = {}
    convs = {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}

    def record(name: str):
        def hook(module, inputs, output) -> None:  # returns None, so the output passes unchanged
            shapes[name] = tuple(inputs[0].shape)
        return hook

    hooks = [m.register_forward_hook(record(name)) for name, m in convs.items()]
    with matmul_convs(model, enabled=use_matmul_convs):
        model.train()
        model(x)
        for hook in hooks:
            hook.remove()
        step = _seconds(lambda: F.cross_entropy(model(x), y).backward(), repeats)
        seconds, macs, layers = {"3x3 and 5x5": 0.0, "1x1": 0.0}, {"counted": 0, "on a pixel": 0}, []
        for name, shape in shapes.items():
            conv, side = convs[name], shape[-1]
            if side > largest_map or not shape[-2] == side:
                continue
            layers.append(name)
            kernel = conv.kernel_size[0]
            kind = "1x1" if kernel == 1 else "3x3 and 5x5"
            inputs = torch.randn(shape, requires_grad=True)
            seconds[kind] += _seconds(lambda conv=conv, inputs=inputs: conv(inputs).sum().backward(), repeats)
            if kernel > 1:
                pairs = conv.in_channels * conv.out_channels
                macs["counted"] += pairs * kernel * kernel * side * side
                macs["on a pixel"] += pairs * int(tap_coverage(kernel, side).sum())
    model.zero_grad(set_to_none=True)
    macs["model"] = module_cost(model, (1, model.in_channels, image_size, image_size))["macs"]
    return TinyMapCost(image_size, batch, largest_map, use_matmul_convs, step, seconds, macs, layers)
