"""Checks that run before any work: a device that exists, numbers that make sense, errors that mean memory ran out.

Messages use the library's names (TrainConfig.lr); the CLI translates them into its flags.
"""

from __future__ import annotations

import math
from dataclasses import fields

import torch

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
    """Raise ValueError naming the first TrainConfig setting that cannot train."""
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


def check_model_config(config) -> None:
    """Raise ValueError naming the ModelConfig setting that cannot build a model."""
    from ..model import PRESETS

    if config.preset not in PRESETS:
        raise ValueError(f"ModelConfig.preset must be one of {sorted(PRESETS)}, got {config.preset!r}")
    dropout = config.dropout
    if dropout is not None and (isinstance(dropout, bool) or not isinstance(dropout, (int, float))
                                or not 0 <= dropout < 1):  # False for NaN too
        raise ValueError(f"ModelConfig.dropout must be at least 0 and below 1 (or None for the preset's), "
                         f"got {dropout!r}")


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` is an allocator's refusal (host or device memory), whatever class it came as."""
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text
                                                or "not enough memory" in text)
