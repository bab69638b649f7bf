"""Data: Fashion-MNIST from the repo's own files, or any folder of images with one sub-folder per class.

Everything ends in a DataBundle of two DataLoaders that yield (images [B,C,S,S] float32, labels [B] int64).
Nothing here downloads anything: Fashion-MNIST ships in data/fashion-mnist/ and is checked against SHA-256.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import signal
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from . import paths
from .config import DataConfig
from .images import IMAGE_EXTENSIONS, DataError, check_header, normalise, open_image, to_uint8, unreadable

__all__ = ["FASHION_MNIST_CLASSES", "FASHION_MNIST_SIZE", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "DataConfig",
           "DataBundle", "DataError", "ImageBatches", "load_fashion_mnist", "loader_settings", "load_data"]

FASHION_MNIST_SIZE = 28  # the shipped images are 28 x 28 grayscale
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# Pixel statistics of the 60,000 training images scaled to [0, 1]; tests/test_data.py recomputes them.
FASHION_MNIST_MEAN = (0.2860,)
FASHION_MNIST_STD = (0.3530,)
# Photos get the usual ImageNet statistics; grayscale uses their luma (0.299 R + 0.587 G + 0.114 B), which is
# close enough for normalisation and, unlike statistics measured on the folder, needs no pass over the images.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_GRAY_MEAN = (0.4590,)
IMAGENET_GRAY_STD = (0.2256,)
_FASHION_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                  "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
_SHA256 = {
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
}
_VERIFIED: set[tuple] = set()  # (path, size, mtime, expected digest) already hashed in this process


@dataclass
class DataBundle:
    """Train and test loaders with what a model and a plot need to know about them."""

    train: DataLoader
    test: DataLoader
    classes: list[str]
    channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def num_train(self) -> int:
        return len(self.train.dataset)

    @property
    def num_test(self) -> int:
        return len(self.test.dataset)


# ----------------------------------------------------------------------------- Fashion-MNIST files

def load_fashion_mnist(split: str = "train", root: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (uint8 images [N,28,28], int64 labels [N]) of one Fashion-MNIST split, checksum-verified."""
    if split not in _FASHION_FILES:
        raise DataError(f"unknown Fashion-MNIST split {split!r}. Fix: use 'train' or 'test'.")
    folder = Path(root) if root is not None else _fashion_mnist_folder()  # it holds the four .gz files
    missing = [name for name in _FASHION_FILES[split] if not (folder / name).is_file()]
    if missing:
        raise DataError(f"Fashion-MNIST files missing from {folder}: {', '.join(missing)}. "
                        "Fix: restore them with `git checkout -- data/fashion-mnist` (or re-clone the repo), "
                        "or point INCEPTION_NB_DATA at a data/ folder that has them; nothing is downloaded.")
    images, labels = (_read_idx(folder / name) for name in _FASHION_FILES[split])
    return torch.from_numpy(images), torch.from_numpy(labels).long()


def _fashion_mnist_folder() -> Path:
    """Return the first data root's fashion-mnist/ folder that exists (paths.data_roots gives the order)."""
    candidates = [root / "fashion-mnist" for root in paths.data_roots()]
    found = next((folder for folder in candidates if folder.is_dir()), None)
    if found is None:
        raise DataError(f"Fashion-MNIST not found; looked in {', '.join(map(str, candidates))}. Fix: run from the "
                        "repository (it ships data/fashion-mnist), or set INCEPTION_NB_DATA to a data/ folder that "
                        "holds fashion-mnist/ (a clone's data/ does); nothing is downloaded.")
    return found


def _read_idx(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    _verify_sha256(path, raw)
    data = gzip.decompress(raw)
    # IDX header: 0, 0, a type byte (0x08 = uint8), the number of dims, then each dim as a big-endian uint32
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    # copy: frombuffer of bytes is read-only, which torch warns about
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape).copy()


def _verify_sha256(path: Path, raw: bytes) -> None:
    expected = _SHA256[path.name]
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, expected)
    if key in _VERIFIED:
        return
    if hashlib.sha256(raw).hexdigest() != expected:
        raise DataError(f"{path} is damaged: its SHA-256 does not match the one in data/fashion-mnist/README.md. "
                        "Fix: restore it with `git checkout -- data/fashion-mnist` or re-clone the repo.")
    _VERIFIED.add(key)


# ----------------------------------------------------------------------------- batched datasets

def _random_crop_flip(x: torch.Tensor, pad: int) -> torch.Tensor:
    # one gather crops and flips the whole batch (per-image offsets; a flip is just reversed column indices),
    # ~3x faster than advanced indexing and far faster than a Python loop over images
    b, c, h, w = x.shape
    x = F.pad(x, (pad, pad, pad, pad))
    rows = torch.randint(0, 2 * pad + 1, (b, 1)) + torch.arange(h)
    cols = torch.randint(0, 2 * pad + 1, (b, 1)) + torch.arange(w)
    cols = torch.where(torch.rand(b, 1) < 0.5, cols.flip(1), cols)
    flat = (rows[:, :, None] * (w + 2 * pad) + cols[:, None, :]).view(b, 1, h * w).expand(b, c, h * w)
    return x.flatten(2).gather(2, flat).view(b, c, h, w)


class ImageBatches(Dataset):
    """Normalised float images and int64 labels, built a whole batch at a time from uint8 images.

    `images` is a uint8 tensor [N,C,H,W] or any sequence of uint8 [C,S,S] tensors (e.g. _ImageFiles).
    The DataLoader calls __getitems__ with a batch of indices, so the per-image Python overhead of the
    usual one-image-at-a-time pipeline disappears; workers and pin_memory still apply.
    """

    def __init__(self, images, labels: torch.Tensor, image_size: int, channels: int,
                 mean: tuple[float, ...], std: tuple[float, ...], augment: bool):
        self.images, self.labels, self.image_size, self.channels = images, labels, image_size, channels
        self.mean, self.std, self.augment = mean, std, augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(self.images, torch.Tensor):
            x = self.images[indices]
        else:
            x = torch.stack([self.images[i] for i in indices])
        x = x.float().div_(255)
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False,
                              antialias=True)  # antialias: match PIL, which preprocess_image uses
        if self.augment:
            x = _random_crop_flip(x, max(1, self.image_size // 8))
        if x.shape[1] != self.channels:  # grayscale source, 3-channel model
            x = x.expand(-1, self.channels, -1, -1)
        # contiguous: the expanded channel view must not leak into the model as a strided batch
        return normalise(x, self.mean, self.std).contiguous(), self.labels[indices]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([index])
        return x[0], y[0]


class _ImageFiles:
    """Image files decoded on demand to uint8 [C,S,S], in the DataLoader workers when there are any."""

    def __init__(self, paths: list[Path], image_size: int, channels: int):
        self.paths, self.image_size, self.channels = paths, image_size, channels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return to_uint8(open_image(self.paths[i], self.image_size), self.image_size, self.channels)


def _batch_is_ready(batch):
    return batch  # __getitems__ already built the batch; a module-level function so workers can pickle it


def _ignore_ctrl_c(worker_id: int) -> None:
    # A terminal's Ctrl-C reaches every process of the group; the main process decides what it means
    # (fit finishes an epoch's evaluation first), so a worker must not die of it mid-epoch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# ----------------------------------------------------------------------------- image folders

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


def _limit(labels: torch.Tensor, limit: int | None, seed: int) -> torch.Tensor:
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


def _dataset_folder(dataset) -> Path:
    """Return the folder DataConfig.dataset names, tried where paths.dataset_candidates says."""
    candidates = paths.dataset_candidates(dataset)
    found = next((path for path in candidates if path.exists()), None)
    if found is None:
        where = (f"{candidates[0]} does not exist" if len(candidates) == 1 else
                 f"it does not exist in any place looked at: {', '.join(map(str, candidates))}")
        raise DataError(f"dataset not found: DataConfig.dataset is {str(dataset)!r}, and {where}. Fix: set "
                        "DataConfig.dataset to 'fashion-mnist' or to the path of a folder with one sub-folder of "
                        "images per class (a relative path is tried from the working directory, "
                        "INCEPTION_NB_DATA, ./data and the repository).")
    return found


def _folder_sources(config: DataConfig):
    root = _dataset_folder(config.dataset)
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
        idx = idx[_limit(labels[idx], config.limit, config.seed)]
        sources.append((_ImageFiles([paths[i] for i in idx], config.image_size, config.channels), labels[idx]))
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if config.channels == 3 else (IMAGENET_GRAY_MEAN, IMAGENET_GRAY_STD)
    return sources, classes, mean, std


def _fashion_sources(config: DataConfig):
    sources = []
    for split in ("train", "test"):
        images, labels = load_fashion_mnist(split)
        keep = _limit(labels, config.limit, config.seed)
        sources.append((images[keep].unsqueeze(1), labels[keep]))
    c = config.channels
    return sources, list(FASHION_MNIST_CLASSES), FASHION_MNIST_MEAN * c, FASHION_MNIST_STD * c


# ----------------------------------------------------------------------------- loaders

def _check_config(config: DataConfig, min_size: int) -> None:
    if config.channels not in (1, 3):
        raise DataError(f"DataConfig.channels must be 1 or 3, got {config.channels}. "
                        "Fix: set DataConfig.channels to 1 (grayscale) or 3 (RGB).")
    if config.image_size < max(min_size, 1):
        raise DataError(f"DataConfig.image_size {config.image_size} is smaller than the model's minimum input size "
                        f"{min_size}. Fix: set DataConfig.image_size to {max(min_size, 1)} or more.")
    if config.batch_size < 1:
        raise DataError(f"DataConfig.batch_size must be at least 1, got {config.batch_size}. "
                        "Fix: set DataConfig.batch_size to e.g. 128.")
    if config.limit is not None and config.limit < 1:
        raise DataError(f"DataConfig.limit must be at least 1 (or None for all images), got {config.limit}. "
                        "Fix: set DataConfig.limit to e.g. 1000.")


def loader_settings(device: str | torch.device = "cpu") -> dict:
    """Return DataLoader keyword arguments (num_workers, pin_memory, persistent_workers) suited to device."""
    if torch.device(device).type == "cuda":
        # a GPU outruns one CPU core at decoding photos; leave cores for the other ranks under torchrun
        cores = (os.cpu_count() or 2) // int(os.environ.get("LOCAL_WORLD_SIZE", 1))
        return {"num_workers": max(1, min(8, cores - 1)), "pin_memory": True, "persistent_workers": True}
    # on CPU a batch costs ~3 ms in-process against a training step of 0.5-5 s (scripts/bench_data.py --train
    # on 2 cores: 0 and 1 worker train equally fast), so a worker process buys nothing and costs a fork,
    # memory, and tracebacks wrapped in "Caught ... in DataLoader worker process 0"
    return {"num_workers": 0, "pin_memory": False, "persistent_workers": False}


def load_data(config: DataConfig, device: str | torch.device = "cpu", min_size: int = 1,
              distributed: bool = False, training: bool = True) -> DataBundle:
    """Return a DataBundle with shuffled, augmented train and fixed-order test loaders for config.dataset.

    `training=False` (evaluation only) skips the check that a training batch fits the dataset.
    """
    if config.dataset is None or not str(config.dataset).strip():  # Path("") is the working directory: no scan
        raise DataError(f"DataConfig.dataset is empty ({config.dataset!r}). Fix: set DataConfig.dataset to "
                        "'fashion-mnist' or to the path of a folder with one sub-folder of images per class.")
    _check_config(config, min_size)
    if str(config.dataset).lower() == "fashion-mnist":
        sources, classes, mean, std = _fashion_sources(config)
    else:
        sources, classes, mean, std = _folder_sources(config)
    (train_x, train_y), (test_x, test_y) = sources
    train_set = ImageBatches(train_x, train_y, config.image_size, config.channels, mean, std, config.augment)
    test_set = ImageBatches(test_x, test_y, config.image_size, config.channels, mean, std, augment=False)

    if distributed:  # under torchrun: each rank sees its own shard; fit calls train.sampler.set_epoch
        train_sampler = DistributedSampler(train_set, shuffle=True, seed=config.seed, drop_last=True)
        test_sampler = DistributedSampler(test_set, shuffle=False)  # pads with repeats to equal shards
        per_rank, generator = len(train_sampler), None
    else:
        train_sampler = test_sampler = None
        per_rank, generator = len(train_set), torch.Generator().manual_seed(config.seed)
    if training and config.batch_size > per_rank:
        raise DataError(f"DataConfig.batch_size {config.batch_size} is larger than the {per_rank} training images"
                        f"{' per process' if distributed else ''}, so an epoch would have no full batch. "
                        f"Fix: lower DataConfig.batch_size to at most {per_rank}, or raise DataConfig.limit "
                        "(or add images).")

    settings = loader_settings(device)
    if config.num_workers is not None:
        settings.update(num_workers=config.num_workers, persistent_workers=config.num_workers > 0 and
                        settings["persistent_workers"])
    common = dict(batch_size=config.batch_size, collate_fn=_batch_is_ready, worker_init_fn=_ignore_ctrl_c,
                  **settings)
    train = DataLoader(train_set, shuffle=train_sampler is None, sampler=train_sampler, drop_last=True,
                       generator=generator, **common)
    test = DataLoader(test_set, shuffle=False, sampler=test_sampler, **common)
    return DataBundle(train, test, classes, config.channels, config.image_size, tuple(mean), tuple(std))
