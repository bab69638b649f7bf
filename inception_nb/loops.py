"""The seed post's loops: one training step, `train` for one pass over the data, `test` without gradients.

`fit` (training/fit.py) and the lesson's experiments build their longer loops from the same `train_step`
and `Tally`, so a number the notebooks print comes from the code shown here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import nn

from .model import aux_loss

__all__ = ["TrainingDiverged", "Tally", "model_device", "autocast", "to_device", "train_step", "train", "test"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def model_device(model: nn.Module) -> torch.device:
    """Return the device the model's parameters are on."""
    return next(model.parameters()).device


def autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    """Return the autocast context for `dtype` on `device`; a no-op context when `dtype` is None."""
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


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


class Tally:
    """Running sums of one pass (right answers, loss, images, batches), kept on the device.

    Adding a batch never waits for the host; only `means` and `check_finite` read the numbers back.
    """

    def __init__(self, device: torch.device):
        self.correct = torch.zeros((), device=device)
        self.loss_sum = torch.zeros((), device=device)
        self.seen = torch.zeros((), device=device)
        self.batches = 0
        self._first_bad_batch = torch.full((), -1, device=device)

    def add(self, logits: torch.Tensor, labels: torch.Tensor, loss: torch.Tensor) -> None:
        """Count one batch: its logits, its labels and its (detached) mean loss."""
        self.correct += (logits.argmax(1) == labels).sum()
        self.loss_sum += loss
        self.seen += labels.numel()
        self.batches += 1
        bad = ~torch.isfinite(loss) & (self._first_bad_batch < 0)
        self._first_bad_batch = torch.where(bad, torch.full_like(self._first_bad_batch, self.batches),
                                            self._first_bad_batch)

    def check_finite(self, epoch: int = 1) -> None:
        """Raise TrainingDiverged if any batch so far had a NaN or infinite loss."""
        step = int(self._first_bad_batch.item())
        if step >= 0:
            raise TrainingDiverged(f"the loss became NaN or infinite at epoch {epoch}, step {step}; "
                                   f"lower the learning rate (e.g. halve TrainConfig.lr) and train again")

    def means(self) -> tuple[float, float]:
        """Return (accuracy, mean batch loss), summed over every process when torchrun started several."""
        return self.totals()[:2]

    def totals(self) -> tuple[float, float, int]:
        """Return (accuracy, mean batch loss, images), summed over every process when torchrun started several."""
        values = [self.correct, self.loss_sum, self.seen, torch.tensor(float(self.batches), device=self.seen.device)]
        if dist.is_initialized():
            stacked = torch.stack([v.double() for v in values])
            dist.all_reduce(stacked)
            values = list(stacked.unbind())
        correct, loss_sum, seen, batches = values
        return (correct / seen.clamp(min=1)).item(), (loss_sum / batches.clamp(min=1)).item(), int(seen.item())


def train(dataloader, model: nn.Module, loss_fn: Callable, optimizer: torch.optim.Optimizer) -> tuple[float, float]:
    """Train for one pass over `dataloader`; return (accuracy, mean batch loss)."""
    device = model_device(model)
    model.train()
    tally = Tally(device)
    for images, labels in dataloader:
        images, labels = to_device(images, labels, device)
        logits, loss = train_step(model, images, labels, loss_fn, optimizer)
        tally.add(logits, labels, loss)
    tally.check_finite()
    return tally.means()


def test(dataloader, model: nn.Module, loss_fn: Callable, *, autocast_dtype: torch.dtype | None = None,
         channels_last: bool = False) -> tuple[float, float]:
    """Evaluate on `dataloader` without gradients; return (accuracy, mean batch loss)."""
    device = model_device(model)
    model.eval()
    tally = Tally(device)
    with torch.no_grad():
        for images, labels in dataloader:
            images, labels = to_device(images, labels, device, channels_last)
            with autocast(device, autocast_dtype):
                logits = model(images)
            tally.add(logits, labels, loss_fn(logits.float(), labels).float())
    return tally.means()


test.__test__ = False  # the post's name for evaluation; keep pytest from collecting it
