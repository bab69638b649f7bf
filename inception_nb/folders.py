"""Image-folder datasets: one sub-folder of images per class, split into train and test, limited class by class.

Hidden files and non-images are skipped (with a warning), unreadable folders refused, every header checked
before training starts. `load_data` (data.py) turns what `folder_sources` returns into DataLoaders.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from . import paths
from .config import DataConfig
from .images import IMAGE_EXTENSIONS, DataError, check_header, open_image, to_uint8, unreadable
from .oserrors import check_usable_path, describe_os_error, path_error

__all__ = ["folder_sources", "balanced_subset"]

# Photos get the usual ImageNet statistics; grayscale uses their luma (0.299 R + 0.587 G + 0.114 B), which is
# close enough for normalisation and, unlike statistics measured on the folder, needs no pass over the images.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_GRAY_MEAN = (0.4590,)
IMAGENET_GRAY_STD = (0.2256,)


class _ImageFiles:
    """Image files decoded on demand to uint8 [C,S,S], in the DataLoader workers when there are any."""

    def __init__(self, paths: list[Path], image_size: int, channels: int):
        self.paths, self.image_size, self.channels = paths, image_size, channels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return to_uint8(open_image(self.paths[i], self.image_size), self.image_size, self.channels)


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("__")  # .ipynb_checkpoints, .DS_Store, __MACOSX, ._photo.jpg


def _listing(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except PermissionError:
        raise unreadable(folder) from None


def _files_under(folder: Path) -> list[Path]:
    # os.walk, unlike rglob, reports a folder it may not read instead of quietly finding nothing in it
    def refuse(error: OSError) -> None:
        raise unreadable(Path(error.filename)) if isinstance(error, PermissionError) else error

    return [Path(top) / name for top, _, names in os.walk(folder, onerror=refuse) for name in names
            if (Path(top) / name).is_file()]


def _scan_folder(root: Path, classes: list[str] | None = None):
    # -> image paths, labels, class names, and the non-image files it skipped
    found = sorted(p.name for p in _listing(root) if p.is_dir() and not _is_hidden(p.name))
    if not found:
        loose = [p.name for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
        hint = f" (it holds {len(loose)} loose images)" if loose else ""
        raise DataError(f"no class folders in {root}{hint}. Fix: put the images in one sub-folder per class, "
                        f"e.g. {root / 'cat' / '001.jpg'} and {root / 'dog' / '001.jpg'}.")
    if classes is None:
        classes = found
    unknown = [c for c in found if c not in classes]
    if unknown:
        raise DataError(f"{root} has class folders that the training folder lacks: {', '.join(unknown)}. "
                        "Fix: use the same class folder names in train/ and test/ (or val/).")
    paths, labels, skipped = [], [], []
    for name in found:
        files = sorted(p for p in _files_under(root / name)
                       if not any(_is_hidden(part) for part in p.relative_to(root / name).parent.parts))
        images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS and not _is_hidden(p.name)]
        if not images:
            raise DataError(f"class folder {root / name} has no images. Fix: add images "
                            f"({', '.join(sorted(IMAGE_EXTENSIONS))}) or delete the folder.")
        keep = set(images)
        skipped += [p for p in files if p not in keep]
        paths += images
        labels += [classes.index(name)] * len(images)
    return paths, labels, classes, skipped


def _class_ranks(labels: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    # a seeded shuffle, plus each image's position among its own class in that shuffle
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    rank = torch.empty_like(perm)
    for c in labels.unique():
        mask = labels[perm] == c
        rank[mask] = torch.arange(int(mask.sum()))
    return perm, rank


def balanced_subset(labels: torch.Tensor, limit: int | None, seed: int) -> torch.Tensor:
    """Return the sorted indices of at most `limit` items, taken round-robin over the classes (`seed` picks)."""
    if limit is None or limit >= len(labels):
        return torch.arange(len(labels))
    perm, rank = _class_ranks(labels, seed)
    return perm[torch.argsort(rank, stable=True)][:limit].sort().values  # round-robin over classes


def _split_val(labels: torch.Tensor, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    counts = torch.bincount(labels)
    # at least one validation image per class, but never a class's only image
    n_val = (counts * val_fraction).round().long().clamp(min=1).minimum(counts - 1)
    perm, rank = _class_ranks(labels, seed)
    is_val = rank < n_val[labels[perm]]
    return perm[~is_val].sort().values, perm[is_val].sort().values


def dataset_folder(dataset) -> Path:
    """Return the folder DataConfig.dataset names, tried where paths.dataset_candidates says."""
    candidates = paths.dataset_candidates(dataset)
    try:
        check_usable_path(Path(dataset))
        found = next((path for path in candidates if path.exists()), None)
    except OSError as err:
        raise DataError(f"DataConfig.dataset: {describe_os_error(path_error(err, dataset))}") from None
    if found is None:
        where = (f"{candidates[0]} does not exist" if len(candidates) == 1 else
                 f"it does not exist in any place looked at: {', '.join(map(str, candidates))}")
        raise DataError(f"dataset not found: DataConfig.dataset is {str(dataset)!r}, and {where}. Fix: set "
                        "DataConfig.dataset to 'fashion-mnist' or to the path of a folder with one sub-folder of "
                        "images per class (a relative path is tried from the working directory, "
                        "INCEPTION_NB_DATA, ./data and the repository).")
    return found


def folder_sources(config: DataConfig):
    """Return ([(train images, labels), (test images, labels)], classes, mean, std) of an image-folder dataset."""
    root = dataset_folder(config.dataset)
    if not root.is_dir():
        raise DataError(f"dataset {root} is a file, not a folder. Fix: unpack it (e.g. unzip) and pass the "
                        "folder.")
    if not os.access(root, os.R_OK | os.X_OK):
        raise unreadable(root)
    # train/ plus test/ (or val/) is a ready-made split; anything else is one tree that we split ourselves
    test_dir = next((root / d for d in ("test", "val") if (root / d).is_dir()), None)
    if (root / "train").is_dir() and test_dir is not None:
        paths, labels, classes, skipped = _scan_folder(root / "train")
        test_paths, test_labels, _, test_skipped = _scan_folder(test_dir, classes)
        skipped += test_skipped
        train_idx, test_idx = torch.arange(len(paths)), len(paths) + torch.arange(len(test_paths))
        paths, labels = paths + test_paths, labels + test_labels
    else:
        if not 0 < config.val_fraction < 1:
            raise DataError(f"DataConfig.val_fraction must be between 0 and 1, got {config.val_fraction}. "
                            f"Fix: use e.g. 0.1, or add train/ and test/ sub-folders to {root}.")
        paths, labels, classes, skipped = _scan_folder(root)
        train_idx, test_idx = _split_val(torch.tensor(labels), config.val_fraction, config.seed)
    if len(classes) < 2:
        raise DataError(f"{root} has only one class folder ({classes[0]}). Fix: add a folder per class (a "
                        "classifier needs at least two), or for a ready-made split add test/ next to train/.")
    if skipped:
        more = f" and {len(skipped) - 20} more" if len(skipped) > 20 else ""
        shown = ", ".join(str(p) for p in skipped[:20]) + more
        warnings.warn(f"skipped {len(skipped)} non-image file(s) (not one of {', '.join(sorted(IMAGE_EXTENSIONS))}"
                      f" or hidden): {shown}", stacklevel=3)
    for p in paths:
        check_header(p)
    labels = torch.tensor(labels)
    sources = []
    for idx in (train_idx, test_idx):
        idx = idx[balanced_subset(labels[idx], config.limit, config.seed)]
        sources.append((_ImageFiles([paths[i] for i in idx], config.image_size, config.channels), labels[idx]))
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if config.channels == 3 else (IMAGENET_GRAY_MEAN, IMAGENET_GRAY_STD)
    return sources, classes, mean, std
