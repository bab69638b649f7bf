"""inception-nb: GoogLeNet / Inception V1 in PyTorch, taught one notebook at a time.

The names below import from the package itself (``from inception_nb import InceptionV1, fit``); each is
loaded from its module on first use, so ``import inception_nb`` stays instant.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_HOMES = {
    "InceptionV1": "model", "InceptionBlock": "model", "from_torchvision": "model", "to_torchvision": "model",
    "layer_report": "lesson.report",
    "ModelConfig": "config", "DataConfig": "config", "TrainConfig": "config", "Profile": "config",
    "get_profile": "config",
    "load_data": "data", "DataError": "images",
    "train": "loops", "test": "loops", "train_step": "loops",
    "fit": "training.fit", "load_or_train": "training.fit", "History": "training.history",
    "pick_device": "training.runtime",
    "load_checkpoint": "training.checkpoint", "CheckpointError": "training.checkpoint",
    "predict_images": "predict",
}

__all__ = ["__version__", *_HOMES]


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'inception_nb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
