"""Training and evaluation: the seed post's train/test loops, one shared training step, and `fit` around them."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .checkpoint import check_resume, load_checkpoint, load_training_state, remove_orphaned_temps
from .checks import check_fit_arguments
from .config import TrainConfig
from .fastconv import matmul_convs
from .history import EpochRecord, History, StepRecord
from .model import aux_loss
from .runfolder import check_run_folder, describe_resume, hold_run_folder, interrupts_held, write_epoch_files
from .runtime import (
    autocast, autocast_dtype, is_main_process, model_device, pick_device, reduce_sum, say, sync_buffers,
    uses_channels_last, uses_matmul_convs, wrap_distributed,
)

# TrainConfig, History and EpochRecord live in config.py and history.py; listed here because notebooks and
# exercises import them together with fit (`from inception_nb.engine import TrainConfig, fit`).
__all__ = ["TrainingDiverged", "train_step", "train", "test", "lr_at", "make_optimizer", "fit", "load_or_train",
           "TrainConfig", "History", "EpochRecord"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def _progress(iterable, enabled: bool, **kwargs):
    if not enabled or not is_main_process():
        return iterable
    from tqdm.auto import tqdm  # widgets in Jupyter, text in a terminal

    # At most one redraw a second: each redraw of a Jupyter widget is a kernel message, and a
    # flood of them can overrun the message queue of tools that read it late (nbval does).
    return tqdm(iterable, mininterval=1.0, **kwargs)


def to_device(images: torch.Tensor, labels: torch.Tensor, device: torch.device,
              channels_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Return one batch moved to `device` (images in channels-last format if asked)."""
    images = images.to(device, non_blocking=True)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, labels.to(device, non_blocking=True)


def train_step(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, loss_fn: Callable,
               optimizer: torch.optim.Optimizer, *, autocast_dtype: torch.dtype | None = None,
               scaler: torch.amp.GradScaler | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Run one optimisation step on a batch already on the model's device; return (logits, detached loss).

    The loss includes the auxiliary classifiers' when the model returns them (`model.aux_loss`).
    """
    with autocast(images.device, autocast_dtype):
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
    return logits, loss.detach().float()


def train(dataloader, model: nn.Module, loss_fn: Callable, optimizer: torch.optim.Optimizer, *,
          set_lr: Callable[[], float | None] | None = None, autocast_dtype: torch.dtype | None = None,
          scaler: torch.amp.GradScaler | None = None, channels_last: bool = False, check_every: int = 25,
          progress: bool = False, epoch: int = 1, stats: dict | None = None,
          record: Callable[[int, int, float, float], None] | None = None, record_every: int = 0) -> tuple[float, float]:
    """Train for one pass over `dataloader`; return (accuracy, mean batch loss).

    The keyword arguments are what `fit` adds; called with the four positional ones it is the
    seed post's loop. `set_lr` is called before each step: it sets the learning rate and returns
    None to stop early (a spent time budget). `stats`, when given, receives the image count.
    `record(step, images, mean loss, accuracy)` is called every `record_every` steps with the
    means over the steps since its previous call.
    """
    device = model_device(model)
    model.train()
    # Accumulate on the device so the loop never waits for the host between steps.
    correct = torch.zeros((), device=device)
    loss_sum = torch.zeros((), device=device)
    seen = torch.zeros((), device=device)
    first_bad_step = torch.full((), -1, device=device)
    batches = 0
    since = (0.0, 0.0, 0.0, 0)  # loss_sum, correct, seen, batches at the previous record
    bar = _progress(dataloader, progress, desc=f"epoch {epoch} train", leave=False)
    for step, (images, labels) in enumerate(bar, start=1):
        if set_lr is not None and set_lr() is None:
            break
        images, labels = to_device(images, labels, device, channels_last)
        logits, loss = train_step(model, images, labels, loss_fn, optimizer, autocast_dtype=autocast_dtype,
                                  scaler=scaler)
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
        if record is not None and record_every and step % record_every == 0:
            now = (loss_sum.item(), correct.item(), seen.item(), batches)
            loss_mean, acc_mean = (now[0] - since[0]) / (now[3] - since[3]), (now[1] - since[1]) / (now[2] - since[2])
            record(step, int(now[2]), loss_mean, acc_mean)
            since = now
    _raise_if_diverged(first_bad_step, epoch)
    accuracy, mean_loss, images = _totals(correct, loss_sum, seen, batches)
    if stats is not None:
        stats["images"] = images
    return accuracy, mean_loss


def _totals(correct: torch.Tensor, loss_sum: torch.Tensor, seen: torch.Tensor, batches: int) -> tuple:
    """Return (accuracy, mean batch loss, images) summed over all ranks, from the on-device accumulators."""
    batches_t = torch.tensor(float(batches), device=correct.device)
    correct, loss_sum, seen, batches_t = reduce_sum(correct, loss_sum, seen, batches_t)
    return (correct / seen.clamp(min=1)).item(), (loss_sum / batches_t.clamp(min=1)).item(), int(seen.item())


def _raise_if_diverged(first_bad_step: torch.Tensor, epoch: int) -> None:
    step = int(first_bad_step.item())
    if step >= 0:
        raise TrainingDiverged(
            f"the loss became NaN or infinite at epoch {epoch}, step {step}; "
            f"lower the learning rate (e.g. halve TrainConfig.lr) and train again")


def test(dataloader, model: nn.Module, loss_fn: Callable, *, autocast_dtype: torch.dtype | None = None,
         channels_last: bool = False, progress: bool = False) -> tuple[float, float]:
    """Evaluate on `dataloader` without gradients; return (accuracy, mean batch loss)."""
    device = model_device(model)
    model.eval()
    correct = torch.zeros((), device=device)
    loss_sum = torch.zeros((), device=device)
    seen = torch.zeros((), device=device)
    batches = 0
    with torch.no_grad():
        for images, labels in _progress(dataloader, progress, desc="test", leave=False):
            images, labels = to_device(images, labels, device, channels_last)
            with autocast(device, autocast_dtype):
                logits = model(images)
            loss_sum += loss_fn(logits.float(), labels).float()
            correct += (logits.argmax(1) == labels).sum()
            seen += labels.numel()
            batches += 1
    return _totals(correct, loss_sum, seen, batches)[:2]


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
    raise ValueError(f"unknown TrainConfig.schedule {config.schedule!r}; use 'onecycle', 'cosine' or 'constant'")


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
    raise ValueError(f"unknown TrainConfig.optimizer {config.optimizer!r}; use 'sgd' or 'adamw'")


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


def fit(model: nn.Module, data, config: TrainConfig | None = None, resume: str | Path | None = None,
        overwrite: bool = False) -> History:
    """Train `model` on `data` (a DataBundle) as `config` says (default: the cpu recipe); return the History.

    Writes best.pt, last.pt and history.json to `config.out_dir` after every epoch. A folder that already
    holds a run is refused unless `overwrite=True` or `resume=` is that folder's last.pt; a folder in use by
    another run is always refused. Ctrl-C (or Jupyter's stop button) anywhere ends training cleanly: in an
    epoch's evaluation or saving it first finishes that epoch. `resume=` takes a last.pt and continues up to
    `config.epochs` in total.
    """
    config = TrainConfig() if config is None else config
    check_fit_arguments(model, data, config, resume, overwrite)
    device = pick_device(config.device)
    out_dir = Path(config.out_dir) if config.out_dir and is_main_process() else None
    if out_dir is None:
        return _fit(model, data, config, device, resume, None)
    check_run_folder(out_dir, resume, overwrite)
    with hold_run_folder(out_dir):
        remove_orphaned_temps(out_dir)
        return _fit(model, data, config, device, resume, out_dir)


def _fit(model: nn.Module, data, config: TrainConfig, device: torch.device, resume, out_dir: Path | None) -> History:
    history = History(stopped="running")
    try:
        return _train_epochs(model, data, config, device, resume, out_dir, history)
    except KeyboardInterrupt:  # outside an epoch's training: setting up, or a second Ctrl-C in evaluation
        _stop_interrupted(history, out_dir, "before the next epoch finished")
        return history


def _stop_interrupted(history: History, out_dir: Path | None, where: str) -> None:
    history.stopped = "interrupted"
    if out_dir and (out_dir / "last.pt").exists():  # a resume into a new folder has earlier epochs but no files
        with interrupts_held("Ctrl-C: saving the history first") as held:
            held.shielded = True
            history.save(out_dir / "history.json")
    say(f"Interrupted {where}: returning the history of the {len(history.epochs)} finished epoch(s); "
        f"{describe_resume(out_dir)}")


def _train_epochs(model: nn.Module, data, config: TrainConfig, device: torch.device, resume,
                  out_dir: Path | None, history: History) -> History:
    channels_last = uses_channels_last(device, config.channels_last)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    start_epoch, spent = 1, 0.0
    if resume is not None:
        state = load_training_state(resume, model, optimizer)
        check_resume(resume, state, data, config)
        # The earlier epochs carry over; how the earlier run stopped does not bind this one.
        earlier = History.from_dict(state["history"])
        start_epoch, spent = state["epoch"] + 1, state["spent"]
        history.epochs[:] = earlier.epochs
        # The learning curve too, but only the finished epochs': the interrupted one is trained again.
        history.steps[:] = [s for s in earlier.steps if s.epoch <= start_epoch - 1]
    train_model = wrap_distributed(model, device)
    amp_dtype = autocast_dtype(device, config.amp)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    eval_loss_fn = nn.CrossEntropyLoss()
    steps_per_epoch = max(len(data.train), 1)
    total_steps = steps_per_epoch * config.epochs
    step_count = steps_per_epoch * (start_epoch - 1)
    lr_now = lr_at(step_count / max(total_steps, 1), config)
    images_seen = history.images_seen
    record_every = max(1, steps_per_epoch // 20)  # about 20 points of learning curve per epoch

    def set_lr() -> float | None:
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

    with matmul_convs(model, enabled=uses_matmul_convs(device, config.matmul_convs)):
        for epoch in range(start_epoch, config.epochs + 1):
            if config.time_budget is not None and spent >= config.time_budget:
                history.stopped = "time budget"
                break
            _seed_epoch(data.train, config.seed, epoch)
            epoch_start = time.perf_counter()
            stats: dict = {}

            def record(step: int, images: int, loss: float, acc: float, epoch: int = epoch) -> None:
                history.steps.append(StepRecord(epoch - 1 + step / steps_per_epoch, images_seen + images, loss, acc))

            try:
                train_acc, train_loss = train(
                    data.train, train_model, loss_fn, optimizer, set_lr=set_lr, autocast_dtype=amp_dtype,
                    scaler=scaler, channels_last=channels_last, check_every=config.check_every,
                    progress=config.progress, epoch=epoch, stats=stats, record=record, record_every=record_every)
            except KeyboardInterrupt:
                _stop_interrupted(history, out_dir, f"during epoch {epoch}")
                return history
            seconds = time.perf_counter() - epoch_start
            # The epoch is trained: a first Ctrl-C from here lets it be evaluated and saved, then stops.
            with interrupts_held(f"Ctrl-C: finishing epoch {epoch}'s evaluation and checkpoint first "
                                 "(Ctrl-C again to stop now and drop this epoch)") as held:
                spent += seconds
                sync_buffers(model)
                images_seen += stats.get("images", 0)
                test_acc, test_loss = test(data.test, model, eval_loss_fn, autocast_dtype=amp_dtype,
                                           channels_last=channels_last, progress=config.progress)
                held.shielded = True  # one epoch's files are written all together, or not at all
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
                say(f"epoch {epoch:2d}  train acc {train_acc:6.2%}  loss {train_loss:.3f}  |  "
                    f"test acc {test_acc:6.2%}  loss {test_loss:.3f}  |  lr {lr_now:.4f}  {seconds:5.1f} s")
                if out_dir:
                    write_epoch_files(out_dir, model, data, config, history, optimizer, epoch, spent, is_best,
                                      resume)
            if held.requested and history.stopped in ("running", "interrupted"):
                _stop_interrupted(history, out_dir, f"after epoch {epoch}")
                return history
            if history.stopped == "time budget":
                break
    if history.stopped == "running":  # nothing left to train: the budget was spent before this run
        history.stopped = "completed"
    return history


def load_or_train(run: str = "notebook", profile: str = "quick") -> tuple:
    """Return (model, CheckpointInfo) from runs/<run>/best.pt, training `profile` first if it is missing.

    Notebooks 03 to 05 call this so each of them passes Restart & Run All on its own.
    """
    from .config import get_profile
    from .data import load_data
    from .paths import RUNS_DIR

    path = RUNS_DIR / run / "best.pt"
    device = pick_device()
    if not path.exists():
        print(f"{path} not found: training the '{profile}' profile now (run 02_training.ipynb for the real model)")
        chosen = get_profile(profile)
        data = load_data(chosen.data, device=device)
        model = chosen.model.build(len(data.classes), data.channels)
        fit(model, data, replace(chosen.train, out_dir=str(RUNS_DIR / run), progress=False))
    return load_checkpoint(path, device)
