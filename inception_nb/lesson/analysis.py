"""Looking inside a trained model: predictions over a loader, the confusion matrix, and what each branch of an
Inception block responds to. Computation only; plots.py draws the results."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..predict import predict_probabilities

__all__ = ["inspecting", "collect_predictions", "class_indices", "confusion_matrix", "find_block",
           "branch_feature_maps", "BRANCH_LABELS"]

BRANCH_LABELS = {"1x1": "1x1 conv", "3x3": "1x1→3x3", "5x5": "1x1→5x5", "pool": "3x3 pool→1x1"}


@contextmanager
def inspecting(model: nn.Module, hooks: Iterable[tuple[nn.Module, Callable]] = ()) -> Iterator[nn.Module]:
    """Within the block, run `model` in eval mode without gradients, with forward `hooks` attached.

    `hooks` holds (module, hook) pairs for `register_forward_hook`. Afterwards the hooks are removed and
    the model is back in the mode it was in, even when the forward pass raised.
    """
    handles = [module.register_forward_hook(hook) for module, hook in hooks]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            yield model
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)


def collect_predictions(model: nn.Module, loader) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Return (images, labels, predicted classes, probabilities) for a whole loader, on the CPU."""
    device = next(model.parameters()).device
    images, labels, probs = [], [], []
    for batch, target in loader:
        probs.append(predict_probabilities(model, batch.to(device)))
        images.append(batch.cpu())
        labels.append(target.cpu())
    probs = torch.cat(probs)
    return torch.cat(images), torch.cat(labels), probs.argmax(1), probs


def class_indices(values, name: str, num_classes: int) -> Tensor:
    """Return class indices [N] from indices, logits or probabilities, checked against `num_classes`."""
    t = torch.as_tensor(values).detach().cpu()
    if t.dim() == 2:  # logits or probabilities: the prediction is the largest
        t = t.argmax(1)
    if t.dim() != 1:
        raise ValueError(f"{name} must be class indices shaped [N], got shape {tuple(t.shape)}")
    bad = t[(t < 0) | (t >= num_classes)]
    if bad.numel():
        raise ValueError(f"{name} holds class {int(bad[0])}, outside 0..{num_classes - 1}; pass all the dataset's "
                         "classes (classes=data.classes, num_classes=len(data.classes))")
    return t.long()


def confusion_matrix(labels, preds, num_classes: int) -> Tensor:
    """Return int64 counts [num_classes, num_classes]: row = true class, column = predicted class."""
    labels, preds = class_indices(labels, "labels", num_classes), class_indices(preds, "preds", num_classes)
    if labels.shape != preds.shape:
        raise ValueError(f"labels and preds must be the same length, got {len(labels)} and {len(preds)}; "
                         "collect both from the same pass over the data")
    return torch.bincount(labels * num_classes + preds, minlength=num_classes ** 2).view(num_classes, num_classes)


def find_block(module: nn.Module) -> nn.Module:
    """Return the Inception block in `module` (itself, or the one the seed preset packs into a Sequential)."""
    for m in module.modules():
        if all(hasattr(m, f"branch{i}") for i in range(1, 5)):
            return m
    raise ValueError(f"{type(module).__name__} is not an Inception block (no branch1..branch4); pass e.g. "
                     "model.inception3a")


def branch_feature_maps(model: nn.Module, image: Tensor, block: str = "inception3a") -> dict[str, Tensor]:
    """Return {"1x1", "3x3", "5x5", "pool"}: each branch's output [channels, h, w] for one preprocessed image.

    `model` is a whole InceptionV1 (the named `block` is hooked while the model runs), or a single block,
    in which case `image` is that block's input activation.
    """
    if hasattr(model, "branch1"):
        target = model
    else:
        if not isinstance(getattr(model, block, None), nn.Module):
            names = [n for n, m in model.named_children() if any(hasattr(x, "branch1") for x in m.modules())]
            raise ValueError(f"model has no block {block!r}; use one of {names}")
        target = find_block(getattr(model, block))
    x = image.detach()
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"image must be one preprocessed image [C,H,W], got shape {tuple(image.shape)}; "
                         "pass images[0], not a batch")
    maps: dict[str, Tensor] = {}

    def keep(key: str) -> Callable:
        return lambda _module, _inputs, out: maps.__setitem__(key, out[0].detach().float().cpu().clone())

    hooks = [(getattr(target, f"branch{i}"), keep(key)) for i, key in enumerate(BRANCH_LABELS, start=1)]
    with inspecting(model, hooks):
        model(x.to(next(model.parameters()).device))
    return maps
