"""Checkpoints that rebuild themselves: weights plus everything needed to use them, and the data they expect."""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .model import InceptionV1

FORMAT = "inception-nb/checkpoint/1"


class CheckpointError(ValueError):
    """A file that is not a usable inception-nb checkpoint."""


@dataclass
class CheckpointInfo:
    """What a checkpoint says about its model and the preprocessing it expects."""

    model_config: dict
    classes: list
    channels: int
    image_size: int
    mean: tuple
    std: tuple
    epoch: int
    history: dict = field(default_factory=dict)
    train_config: dict = field(default_factory=dict)

    @property
    def preset(self) -> str:
        """Return the model preset the weights belong to."""
        return self.model_config.get("preset", "seed")


def atomic_save(obj, path: Path) -> None:
    """Write `obj` with torch.save so that `path` is either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)  # atomic on POSIX and Windows when on the same filesystem
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_checkpoint(path, model: nn.Module, data, config, history, optimizer=None,
                    epoch: int = 0, spent: float = 0.0) -> None:
    """Save weights, model config, preprocessing, history and (for resuming) optimizer state."""
    state = {
        "format": FORMAT,
        "model_config": dict(model.config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "classes": list(data.classes),
        "channels": int(data.channels),
        "image_size": int(data.image_size),
        "mean": [float(m) for m in data.mean],
        "std": [float(s) for s in data.std],
        "epoch": int(epoch),
        "spent": float(spent),
        "history": history.to_dict(),
        "train_config": asdict(config),
    }
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    atomic_save(state, path)


def _read(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train first (python -m inception_nb train) "
                              f"or pass the path of a best.pt/last.pt")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the safe unpickler fails on garbage in many ways (IndexError among them)
        raise CheckpointError(f"{path} is not a PyTorch checkpoint that can be loaded safely "
                              f"({err.__class__.__name__}); pass a best.pt or last.pt written by inception_nb"
                              ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not an inception-nb checkpoint (no '{FORMAT}' marker); "
                              f"pass a best.pt or last.pt written by inception_nb, or load raw torchvision weights "
                              f"with inception_nb.from_torchvision")
    return state


def _restore_weights(model: nn.Module, state: dict, path) -> None:
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise CheckpointError(f"{path} holds weights of another architecture than {dict(model.config)} "
                              f"({first}); build the model from the checkpoint with load_checkpoint") from None


def load_checkpoint(path, device: str | torch.device = "cpu") -> tuple:
    """Return (model in eval mode, CheckpointInfo) rebuilt from a checkpoint alone."""
    state = _read(path)
    try:
        model = InceptionV1(**state["model_config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path} describes a model this version cannot build ({err}); "
                              f"upgrade inception_nb or retrain") from None
    _restore_weights(model, state, path)
    info = CheckpointInfo(state["model_config"], state["classes"], state["channels"], state["image_size"],
                          tuple(state["mean"]), tuple(state["std"]), state["epoch"], state.get("history", {}),
                          state.get("train_config", {}))
    return model.to(device).eval(), info


def load_training_state(path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Load weights (and optimizer state) into `model` to resume; return epoch, spent and history."""
    state = _read(path)
    if dict(state["model_config"]) != dict(model.config):
        raise CheckpointError(f"{path} was trained with model {state['model_config']}, not {dict(model.config)}; "
                              f"resume with the same ModelConfig.preset and dataset")
    _restore_weights(model, state, path)
    if optimizer is not None:
        if "optimizer" not in state:
            raise CheckpointError(f"{path} has no optimizer state (best.pt keeps weights only); resume from last.pt")
        optimizer.load_state_dict(state["optimizer"])
    return {"epoch": state["epoch"], "spent": state.get("spent", 0.0), "history": state["history"]}


def data_for_checkpoint(info: CheckpointInfo, dataset: str = "fashion-mnist", batch_size: int = 256,
                        limit: int | None = None, device: str | torch.device | None = None):
    """Return a DataBundle preprocessed the way the checkpoint's model expects (no augmentation)."""
    from .data import DataConfig, load_data
    from .runtime import pick_device

    config = DataConfig(dataset=dataset, image_size=info.image_size, channels=info.channels,
                        batch_size=batch_size, limit=limit, augment=False)
    return load_data(config, device=pick_device(device), training=False)
