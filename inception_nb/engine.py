"""Training and evaluation: the seed post's train/test loops, and `fit` around them."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.distributed as dist
from torch import nn

from .checkpoint import atomic_write, check_resume, load_training_state, remove_orphaned_temps, save_checkpoint
from .checks import check_device, check_train_config
from .fastconv import matmul_convs
from .model import aux_loss
from .runfolder import check_run_folder, describe_resume, hold_run_folder, interrupts_held

__all__ = ["TrainConfig", "History", "EpochRecord", "TrainingDiverged", "train", "test", "fit", "pick_device"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class TrainConfig:
    """How to train; `profiles.get_profile("cpu").train` is the recipe measured best on a CPU."""

    epochs: int = 3
    lr: float = 0.1
    optimizer: str = "sgd"  # "sgd" (Nesterov momentum) or "adamw"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "onecycle"  # "onecycle" (warm-up then cosine to zero), "cosine" or "constant"
    warmup: float = 0.15  # fraction of training spent warming up (onecycle only)
    label_smoothing: float = 0.1
    time_budget: Optional[float] = None  # seconds of training; the schedule is laid over it
    aux_weight: float = 0.3  # the paper's weight for the auxiliary classifiers' losses
    amp: bool = True  # mixed precision, CUDA only
    channels_last: Optional[bool] = None  # None: on for CUDA and CPU, where it is faster
    matmul_convs: Optional[bool] = None  # None: on for CPU, where small-map convs run faster as matmuls
    device: Optional[str] = None  # None: cuda, then mps, then cpu
    seed: int = 0
    out_dir: Optional[str] = "runs/default"  # None: write no checkpoints
    progress: bool = True
    check_every: int = 25  # steps between host synchronisations (non-finite check, progress text)


@dataclass
class EpochRecord:
    """One row of training history."""

    epoch: int
    train_acc: float
    train_loss: float
    test_acc: float
    test_loss: float
    lr: float
    seconds: float
    images_seen: int


@dataclass
class History:
    """Per-epoch metrics of a `fit` run, with the reason it stopped."""

    epochs: list = field(default_factory=list)
    stopped: str = "completed"  # "running" while fit trains, then "completed", "time budget" or "interrupted"

    def append(self, record: EpochRecord) -> None:
        """Add one epoch's metrics."""
        self.epochs.append(record)

    def column(self, name: str) -> list:
        """Return one metric over all epochs, e.g. `history.column("test_acc")`."""
        return [getattr(r, name) for r in self.epochs]

    @property
    def last(self) -> Optional[EpochRecord]:
        """Return the newest epoch's record, or None before the first epoch ends."""
        return self.epochs[-1] if self.epochs else None

    @property
    def best_test_acc(self) -> float:
        """Return the highest test accuracy seen."""
        return max(self.column("test_acc"), default=0.0)

    @property
    def images_seen(self) -> int:
        """Return how many training images went through the model in total."""
        return self.epochs[-1].images_seen if self.epochs else 0

    @property
    def seconds(self) -> float:
        """Return the total training time in seconds (evaluation excluded)."""
        return sum(self.column("seconds"))

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return {"stopped": self.stopped, "epochs": [asdict(r) for r in self.epochs]}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """Rebuild a History from `to_dict` output."""
        return cls([EpochRecord(**r) for r in data["epochs"]], data.get("stopped", "completed"))

    def save(self, path: Path) -> None:
        """Write the history as JSON, atomically."""
        text = json.dumps(self.to_dict(), indent=2)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))

    @classmethod
    def load(cls, path) -> "History":
        """Read a history.json written by `fit`."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def table(self) -> str:
        """Return the history as an aligned text table."""
        lines = ["epoch  train_acc  train_loss  test_acc  test_loss      lr  seconds"]
        for r in self.epochs:
            lines.append(f"{r.epoch:5d}  {r.train_acc:9.2%}  {r.train_loss:10.4f}  {r.test_acc:8.2%}"
                         f"  {r.test_loss:9.4f}  {r.lr:6.4f}  {r.seconds:7.1f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def pick_device(name: Optional[str] = None) -> torch.device:
    """Return the requested device, or the best available: cuda, then mps, then cpu."""
    if name:
        return check_device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", _local_rank())
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def _is_main_process() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _reduce_sum(*values: torch.Tensor) -> list:
    """Sum accumulators over all ranks under torchrun; a no-op in a single process."""
    if not dist.is_initialized():
        return list(values)
    stacked = torch.stack([v.double() for v in values])
    dist.all_reduce(stacked)
    return list(stacked.unbind())


def _progress(iterable, enabled: bool, **kwargs):
    if not enabled or not _is_main_process():
        return iterable
    from tqdm.auto import tqdm  # widgets in Jupyter, text in a terminal

    # At most one redraw a second: each redraw of a Jupyter widget is a kernel message, and a
    # flood of them can overrun the message queue of tools that read it late (nbval does).
    return tqdm(iterable, mininterval=1.0, **kwargs)


def train(dataloader, model: nn.Module, loss_fn: Callable, optimizer: torch.optim.Optimizer, *,
          set_lr: Optional[Callable[[], Optional[float]]] = None, autocast_dtype=None, scaler=None,
          channels_last: bool = False, check_every: int = 25, progress: bool = False,
          epoch: int = 1, stats: Optional[dict] = None) -> tuple:
    """Train for one pass over `dataloader`; return (accuracy, mean batch loss).

    The keyword arguments are what `fit` adds; called with the four positional ones it is the
    seed post's loop. `set_lr` is called before each step: it sets the learning rate and returns
    None to stop early (a spent time budget). `stats`, when given, receives the image count.
    """
    device = _model_device(model)
    model.train()
    # Accumulate on the device so the loop never waits for the host between steps.
    correct = torch.zeros((), device=device)
    loss_sum = torch.zeros((), device=device)
    seen = torch.zeros((), device=device)
    first_bad_step = torch.full((), -1, device=device)
    batches = 0
    bar = _progress(dataloader, progress, desc=f"epoch {epoch} train", leave=False)
    for step, (images, labels) in enumerate(bar, start=1):
        if set_lr is not None and set_lr() is None:
            break
        images, labels = _to_device(images, labels, device, channels_last)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            outputs = model(images)
            loss = aux_loss(outputs, labels, loss_fn)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        logits = outputs[0] if isinstance(outputs, tuple) else outputs
        loss = loss.detach().float()
        correct += (logits.argmax(1) == labels).sum()
        loss_sum += loss
        seen += labels.numel()
        batches += 1
        bad = ~torch.isfinite(loss) & (first_bad_step < 0)
        first_bad_step = torch.where(bad, torch.full_like(first_bad_step, step), first_bad_step)
        if step % check_every == 0:
            _raise_if_diverged(first_bad_step, epoch)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{loss_sum.item() / batches:.3f}", acc=f"{(correct / seen).item():.1%}",
                                refresh=False)
    _raise_if_diverged(first_bad_step, epoch)
    batches_t = torch.tensor(float(batches), device=device)
    correct, loss_sum, seen, batches_t = _reduce_sum(correct, loss_sum, seen, batches_t)
    if stats is not None:
        stats["images"] = int(seen.item())
    return (correct / seen.clamp(min=1)).item(), (loss_sum / batches_t.clamp(min=1)).item()


def _to_device(images: torch.Tensor, labels: torch.Tensor, device: torch.device, channels_last: bool) -> tuple:
    images = images.to(device, non_blocking=True)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, labels.to(device, non_blocking=True)


def _raise_if_diverged(first_bad_step: torch.Tensor, epoch: int) -> None:
    step = int(first_bad_step.item())
    if step >= 0:
        raise TrainingDiverged(
            f"the loss became NaN or infinite at epoch {epoch}, step {step}; "
            f"lower the learning rate (e.g. halve --lr) and train again")


def test(dataloader, model: nn.Module, loss_fn: Callable, *, autocast_dtype=None,
         channels_last: bool = False, progress: bool = False) -> tuple:
    """Evaluate on `dataloader` without gradients; return (accuracy, mean batch loss)."""
    device = _model_device(model)
    model.eval()
    correct = torch.zeros((), device=device)
    loss_sum = torch.zeros((), device=device)
    seen = torch.zeros((), device=device)
    batches = 0
    with torch.no_grad():
        for images, labels in _progress(dataloader, progress, desc="test", leave=False):
            images, labels = _to_device(images, labels, device, channels_last)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits = model(images)
            loss_sum += loss_fn(logits.float(), labels).float()
            correct += (logits.argmax(1) == labels).sum()
            seen += labels.numel()
            batches += 1
    batches_t = torch.tensor(float(batches), device=device)
    correct, loss_sum, seen, batches_t = _reduce_sum(correct, loss_sum, seen, batches_t)
    return (correct / seen.clamp(min=1)).item(), (loss_sum / batches_t.clamp(min=1)).item()


test.__test__ = False  # the post's name for evaluation; keep pytest from collecting it


def lr_at(progress: float, config: TrainConfig) -> float:
    """Return the learning rate at `progress` (0 to 1) through training."""
    progress = min(max(progress, 0.0), 1.0)
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * progress))
    if config.schedule == "onecycle":
        if progress < config.warmup:
            return config.lr * (0.1 + 0.9 * progress / config.warmup)
        rest = (progress - config.warmup) / (1 - config.warmup)
        return config.lr * 0.5 * (1 + math.cos(math.pi * rest))
    raise ValueError(f"unknown schedule {config.schedule!r}; use 'onecycle', 'cosine' or 'constant'")


def uses_matmul_convs(config: TrainConfig, device: torch.device) -> bool:
    """Whether training runs the 1x1 and tiny-map convolutions as matrix products (fastconv.py)."""
    # Exact rewrites measured 1.3-1.5x faster per step on CPU; unmeasured elsewhere, so off there.
    return device.type == "cpu" if config.matmul_convs is None else config.matmul_convs


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Return the optimizer the config names, with no weight decay on biases and norms."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True)
    if config.optimizer == "adamw":
        # fused: one kernel for all parameters instead of ~10 small ops each (13 % of a CPU step unfused)
        return torch.optim.AdamW(groups, lr=config.lr, fused=True)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; use 'sgd' or 'adamw'")


def _autocast_dtype(device: torch.device, enabled: bool):
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _seed_epoch(loader, seed: int, epoch: int) -> None:
    # Reseeding per epoch makes shuffling, augmentation and dropout of epoch k the same whether
    # training ran straight through or resumed from a checkpoint after epoch k-1.
    torch.manual_seed(seed * 1_000_003 + epoch)
    generator = getattr(loader, "generator", None)
    if generator is not None:
        generator.manual_seed(seed * 1_000_003 + epoch)
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


def fit(model: nn.Module, data, config: Optional[TrainConfig] = None, resume=None,
        overwrite: bool = False) -> History:
    """Train `model` on `data` (a DataBundle) as `config` says; return the History.

    Writes best.pt, last.pt and history.json to `config.out_dir` after every epoch. A folder that already
    holds a run is refused unless `overwrite=True` or `resume=` is that folder's last.pt, and a folder in
    use by another run is refused always. Ctrl-C (or Jupyter's stop button) anywhere ends training cleanly:
    during an epoch's evaluation or saving it first finishes that epoch. `resume=` takes a last.pt and
    continues where it stopped, up to `config.epochs` in total.
    """
    config = config or TrainConfig()
    check_train_config(config)
    device = pick_device(config.device)
    out_dir = Path(config.out_dir) if config.out_dir and _is_main_process() else None
    if out_dir is None:
        return _fit(model, data, config, device, resume, None)
    check_run_folder(out_dir, resume, overwrite)
    with hold_run_folder(out_dir):
        remove_orphaned_temps(out_dir)
        return _fit(model, data, config, device, resume, out_dir)


def _fit(model: nn.Module, data, config: TrainConfig, device: torch.device, resume, out_dir: Optional[Path]) -> History:
    history = History(stopped="running")
    try:
        return _train_epochs(model, data, config, device, resume, out_dir, history)
    except KeyboardInterrupt:  # outside an epoch's training: setting up, or a second Ctrl-C in evaluation
        _stop_interrupted(history, out_dir, "before the next epoch finished")
        return history


def _stop_interrupted(history: History, out_dir: Optional[Path], where: str) -> None:
    history.stopped = "interrupted"
    if out_dir and history.epochs:
        with interrupts_held("Ctrl-C: saving the history first") as held:
            held.shielded = True
            history.save(out_dir / "history.json")
    _say(f"Interrupted {where}: returning the history of the {len(history.epochs)} finished epoch(s); "
         f"{describe_resume(out_dir)}")


def _train_epochs(model: nn.Module, data, config: TrainConfig, device: torch.device, resume,
                  out_dir: Optional[Path], history: History) -> History:
    # Measured faster for this network on CUDA and on x86 CPUs (docs/performance.md); MPS stays NCHW.
    auto_channels_last = device.type in ("cuda", "cpu")
    channels_last = auto_channels_last if config.channels_last is None else config.channels_last
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    start_epoch, spent = 1, 0.0
    if resume is not None:
        state = load_training_state(resume, model, optimizer)
        check_resume(resume, state, data, config)
        restored = History.from_dict(state["history"])
        history.epochs[:] = restored.epochs  # how the earlier run stopped does not bind this one
        start_epoch, spent = state["epoch"] + 1, state["spent"]
    train_model = model
    if dist.is_initialized():
        ids = [device.index] if device.type == "cuda" else None
        train_model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    autocast_dtype = _autocast_dtype(device, config.amp)
    scaler = torch.amp.GradScaler("cuda") if autocast_dtype == torch.float16 else None
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    eval_loss_fn = nn.CrossEntropyLoss()
    steps_per_epoch = max(len(data.train), 1)
    total_steps = steps_per_epoch * config.epochs
    step_count = steps_per_epoch * (start_epoch - 1)
    lr_now = lr_at(step_count / max(total_steps, 1), config)
    images_seen = history.images_seen

    def set_lr() -> Optional[float]:
        nonlocal step_count, lr_now
        elapsed = spent + time.perf_counter() - epoch_start
        if config.time_budget is not None and elapsed >= config.time_budget:
            return None
        progress = step_count / total_steps
        if config.time_budget is not None:
            progress = max(progress, elapsed / config.time_budget)
        lr_now = lr_at(progress, config)
        for group in optimizer.param_groups:
            group["lr"] = lr_now
        step_count += 1
        return lr_now

    with matmul_convs(model, enabled=uses_matmul_convs(config, device)):
        for epoch in range(start_epoch, config.epochs + 1):
            if config.time_budget is not None and spent >= config.time_budget:
                history.stopped = "time budget"
                break
            _seed_epoch(data.train, config.seed, epoch)
            epoch_start = time.perf_counter()
            stats: dict = {}
            try:
                train_acc, train_loss = train(
                    data.train, train_model, loss_fn, optimizer, set_lr=set_lr, autocast_dtype=autocast_dtype,
                    scaler=scaler, channels_last=channels_last, check_every=config.check_every,
                    progress=config.progress, epoch=epoch, stats=stats)
            except KeyboardInterrupt:
                _stop_interrupted(history, out_dir, f"during epoch {epoch}")
                return history
            seconds = time.perf_counter() - epoch_start
            # From here the epoch is trained: a first Ctrl-C lets it be evaluated and saved, then stops.
            with interrupts_held(f"Ctrl-C: finishing epoch {epoch}'s evaluation and checkpoint first "
                                 f"(Ctrl-C again to stop now and drop the epoch)") as held:
                spent += seconds
                _sync_buffers(model)
                images_seen += stats.get("images", 0)
                test_acc, test_loss = test(data.test, model, eval_loss_fn, autocast_dtype=autocast_dtype,
                                           channels_last=channels_last, progress=config.progress)
                held.shielded = True  # the files of one epoch are written all together or not at all
                record = EpochRecord(epoch, train_acc, train_loss, test_acc, test_loss, lr_now, seconds,
                                     images_seen)
                is_best = test_acc >= history.best_test_acc
                history.append(record)
                if config.time_budget is not None and spent >= config.time_budget:
                    history.stopped = "time budget"
                elif epoch == config.epochs:
                    history.stopped = "completed"
                elif held.requested:
                    history.stopped = "interrupted"
                _say(f"epoch {epoch:2d}  train acc {train_acc:6.2%}  loss {train_loss:.3f}  |  "
                     f"test acc {test_acc:6.2%}  loss {test_loss:.3f}  |  lr {lr_now:.4f}  {seconds:5.1f} s")
                if out_dir:
                    save_checkpoint(out_dir / "last.pt", model, data, config, history, optimizer, epoch, spent)
                    if is_best:
                        save_checkpoint(out_dir / "best.pt", model, data, config, history, None, epoch, spent)
                    history.save(out_dir / "history.json")
            if held.requested and history.stopped in ("running", "interrupted"):
                _stop_interrupted(history, out_dir, f"after epoch {epoch}")
                return history
            if history.stopped == "time budget":
                break
    if history.stopped == "running":  # no epoch left to train (resumed at the total), or budget spent before
        history.stopped = "completed"
    return history


def _sync_buffers(model: nn.Module) -> None:
    """Give every rank rank 0's BatchNorm statistics, so evaluation and checkpoints agree."""
    if dist.is_initialized():
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


def _say(message: str) -> None:
    if _is_main_process():
        print(message, flush=True)
