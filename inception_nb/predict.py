"""Prediction: class probabilities for image files, one at a time or a whole folder (whole loaders: analysis.py)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from .images import IMAGE_EXTENSIONS, DataError, open_image, preprocess_image


def image_files(folder) -> list:
    """Return the image files directly inside `folder`, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"folder {folder} does not exist; pass a folder that holds image files")
    # A sub-folder can be named like an image ("set.png/"), and macOS leaves hidden "._photo.jpg" companions
    # that are not images: only visible files count.
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file())
    if not files:
        raise DataError(f"folder {folder} holds no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}); "
                        f"add some or pass another folder")
    return files


def predict_images(model: nn.Module, info, paths: Iterable, top_k: int = 3, batch_size: int = 64) -> list:
    """Return [{"path", "top": [{"class", "prob"}, ...]}, ...] for each image file in `paths`."""
    if isinstance(paths, (str, os.PathLike)) or not isinstance(paths, Iterable):
        raise TypeError(f"paths must be a list of image paths, got {paths!r}; for one image pass [path]")
    if not isinstance(model, nn.Module) or not hasattr(info, "classes"):
        raise TypeError("model and info must be what load_checkpoint returns: model, info = load_checkpoint(path)")
    _check_top_k(top_k)  # before any image is read, so a wrong top_k is named even for an empty list
    paths = [Path(p) for p in paths]
    results = []
    for start in range(0, len(paths), batch_size):
        chunk = paths[start:start + batch_size]
        tops = _top_classes(model, info, [open_image(p) for p in chunk], top_k)
        results += [{"path": str(path), "top": top} for path, top in zip(chunk, tops)]
    return results


def predict_image(model: nn.Module, info, image: Image.Image, top_k: int = 3) -> list:
    """Return the top-k classes [{"class", "prob"}, ...] of one image already opened (or made) in memory."""
    _check_top_k(top_k)
    return _top_classes(model, info, [image], top_k)[0]


def _check_top_k(top_k) -> None:
    """Raise TypeError or ValueError unless top_k is a whole number of at least 1."""
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise TypeError(f"top_k must be a whole number, got {top_k!r}")
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")


def _top_classes(model: nn.Module, info, images: list, top_k: int) -> list:
    """Preprocess images as in training and return each one's top-k classes with their probabilities."""
    top_k = min(top_k, len(info.classes))
    batch = torch.stack([preprocess_image(image, info.image_size, info.channels, info.mean, info.std)
                         for image in images])
    values, indices = predict_probabilities(model, batch.to(next(model.parameters()).device)).topk(top_k, dim=1)
    return [[{"class": info.classes[i], "prob": round(v, 6)} for v, i in zip(vals, idxs)]
            for vals, idxs in zip(values.tolist(), indices.tolist())]


def predict_probabilities(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Return softmax class probabilities [N, classes] for a preprocessed batch."""
    with torch.no_grad():
        return torch.softmax(model.eval()(batch).float(), dim=1).cpu()


def format_predictions(results: list) -> str:
    """Return predictions as readable text, one image per block."""
    lines = []
    for item in results:
        lines.append(Path(item["path"]).name)
        lines += [f"  {t['prob']:7.2%}  {t['class']}" for t in item["top"]]
    return "\n".join(lines)
