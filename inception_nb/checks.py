"""Checks that run before any work: a device that exists, numbers that make sense, errors that mean memory ran out.

Messages use the library's names (TrainConfig.lr); the CLI translates them into its flags.
"""

from __future__ import annotations

import math
import os
from dataclasses import fields

import torch
from torch import nn

from .config import TrainConfig, check_flags
from .images import DataError

MAX_SEED = 2**32 - 1  # the per-epoch reseed multiplies the seed; larger ones overflow torch's 64-bit seed


def check_device(name: str, setting: str = "TrainConfig.device") -> torch.device:
    """Return torch.device(name) if this machine can train on it; otherwise raise ValueError naming `setting`."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"{setting}={name!r} is not a device name; use 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{setting}={name!r} was requested but CUDA is not available; use 'cpu'")
        if device.index is not None and device.index >= count:
            raise ValueError(f"{setting}={name!r} does not exist: this machine has {count} CUDA device(s), "
                             f"cuda:0 to cuda:{count - 1}")
    elif device.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"{setting}={name!r} was requested but MPS (Apple GPU) is not available; use 'cpu'")
    elif device.type != "cpu":
        raise ValueError(f"{setting}={name!r}: inception_nb trains on 'cpu', 'cuda' or 'mps', not "
                         f"{device.type!r}")
    return device


def _number(config, name: str, *, low: float, low_ok: bool, optional: bool = False) -> None:
    value = getattr(config, name)
    if value is None and optional:
        return
    label = f"{type(config).__name__}.{name}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{label} must be a finite number, got {value!r}")
    if value < low or (value == low and not low_ok):
        bound = f"at least {low}" if low_ok else f"more than {low}"
        raise ValueError(f"{label} must be {bound}, got {value!r}")


def check_seed(config) -> None:
    """Raise ValueError unless `config.seed` is a whole number from 0 to 2**32 - 1."""
    seed, label = config.seed, f"{type(config).__name__}.seed"
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{label} must be a whole number from 0 to {MAX_SEED}, got {seed!r}")


def check_train_config(config) -> None:
    """Raise ValueError (TypeError for a value of the wrong kind) naming the first TrainConfig setting that cannot
    train."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig (or None for the default recipe), got {type(config).__name__}"
                        + (f"; write TrainConfig(**{config!r})" if isinstance(config, dict) else ""))
    check_flags(config)
    if config.out_dir is not None and (not isinstance(config.out_dir, (str, os.PathLike))
                                       or not str(config.out_dir).strip()):
        raise ValueError(f"TrainConfig.out_dir is {config.out_dir!r}; give the folder for the run's files, or None "
                         f"to write nothing")
    names = {f.name for f in fields(config)}
    epochs = config.epochs
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"TrainConfig.epochs must be a whole number of at least 1, got {epochs!r}")
    _number(config, "lr", low=0.0, low_ok=False)
    for name in ("weight_decay", "momentum", "label_smoothing", "aux_weight", "warmup"):
        if name in names:
            _number(config, name, low=0.0, low_ok=True)
    _number(config, "time_budget", low=0.0, low_ok=False, optional=True)
    if not 0 <= config.label_smoothing < 1:
        raise ValueError(f"TrainConfig.label_smoothing must be below 1, got {config.label_smoothing!r}")
    if config.schedule == "onecycle" and not config.warmup < 1:
        raise ValueError(f"TrainConfig.warmup is a fraction of training and must be below 1, got {config.warmup!r}")
    if isinstance(config.check_every, bool) or not isinstance(config.check_every, int) or config.check_every < 1:
        raise ValueError(f"TrainConfig.check_every must be a whole number of at least 1, got {config.check_every!r}")
    check_seed(config)
    if config.device:
        check_device(config.device)


def check_image_size(size: int, min_size: int, preset: str | None = None) -> None:
    """Raise DataError if `size` is below the minimum input size `min_size` (of the model `preset`, if named)."""
    if size < min_size:
        model = f"the {preset} model's" if preset else "the model's"
        raise DataError(f"DataConfig.image_size {size} is smaller than {model} minimum input size "
                        f"{min_size}. Fix: set DataConfig.image_size to {min_size} or more.")


def check_data_config(config, min_size: int = 1) -> None:
    """Raise DataError naming the first DataConfig setting that cannot load (image_size below `min_size` too)."""
    if config.channels not in (1, 3):
        raise DataError(f"DataConfig.channels must be 1 or 3, got {config.channels}. "
                        "Fix: set DataConfig.channels to 1 (grayscale) or 3 (RGB).")
    check_image_size(config.image_size, max(min_size, 1))
    if config.batch_size < 1:
        raise DataError(f"DataConfig.batch_size must be at least 1, got {config.batch_size}. "
                        "Fix: set DataConfig.batch_size to e.g. 128.")
    if config.limit is not None and config.limit < 1:
        raise DataError(f"DataConfig.limit must be at least 1 (or None for all images), got {config.limit}. "
                        "Fix: set DataConfig.limit to e.g. 1000.")


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` is an allocator's refusal (host or device memory), whatever class it came as."""
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text
                                                or "not enough memory" in text)


def check_fit_arguments(model, data, config, resume, overwrite) -> None:
    """Raise TypeError or ValueError naming the first argument of `fit` that cannot train."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. InceptionV1(...)), got {type(model).__name__}")
    check_train_config(config)
    # Loaders are all training needs; writing checkpoints also needs what the data is (a DataBundle says it).
    needed = ("train", "test") + (("classes", "channels", "image_size", "mean", "std") if config.out_dir else ())
    missing = [name for name in needed if not hasattr(data, name)]
    if missing:
        raise TypeError(f"data must be a DataBundle from load_data(DataConfig(...)), got {type(data).__name__} "
                        f"(it has no {', '.join(missing)})")
    if resume is not None and not isinstance(resume, (str, os.PathLike)):
        raise TypeError(f"resume must be the path of a last.pt (str or Path) or None, got {type(resume).__name__}")
    if not isinstance(overwrite, bool):  # "no" would count as yes and replace a finished run
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}")
    # An InceptionV1 says what it was built for (a plain nn.Module cannot be checked), a DataBundle what it holds.
    built = getattr(model, "config", None)
    if isinstance(built, dict) and hasattr(data, "classes") and hasattr(data, "channels"):
        for name, needed in (("num_classes", len(data.classes)), ("in_channels", data.channels)):
            if name in built and built[name] != needed:
                raise ValueError(f"the model was built with {name}={built[name]}, but the data has {needed} "
                                 f"{'class(es)' if name == 'num_classes' else 'channel(s)'}; build it with "
                                 f"{name}={needed}")
