"""Checkpoints that rebuild themselves: weights plus everything needed to use them, and the data they expect."""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from collections.abc import Callable

import torch
from torch import nn

from ..model import InceptionV1

FORMAT = "inception-nb/checkpoint/1"
TMP_SUFFIX = ".tmp"
# The per-epoch record of a training history (history.EpochRecord), as a checkpoint stores it.
HISTORY_FIELDS = ("epoch", "train_acc", "train_loss", "test_acc", "test_loss", "lr", "seconds", "images_seen")


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


def atomic_write(path, write: Callable[[Path], None]) -> None:
    """Call `write(temporary path)`, then rename that file over `path`: the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of our own per write (two writers never share a temporary file), created the way open()
    # creates any file, so the result gets the umask's ordinary mode rather than mkstemp's 0600.
    tmp = path.parent / f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TMP_SUFFIX}"
    try:
        open(tmp, "xb").close()
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())  # the rename must not reach the disk before the data does
        os.replace(tmp, path)  # atomic on POSIX and Windows when on the same filesystem
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_save(obj, path: Path) -> None:
    """Write `obj` with torch.save so that `path` is either the old file or the complete new one."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def remove_orphaned_temps(folder, names=("best.pt", "last.pt", "history.json")) -> list:
    """Delete temporary files that a crashed writer left beside `names` in `folder`; return their paths.

    Call it only while holding the folder (no other writer can be mid-write).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    # <name>.<pid>-<hex>.tmp from atomic_write, and <name>.tmp, the fixed name older versions used
    patterns = [pattern for name in names for pattern in (f"{name}.*{TMP_SUFFIX}", f"{name}{TMP_SUFFIX}")]
    orphans = [p for pattern in patterns for p in folder.glob(pattern) if p.is_file()]
    for orphan in orphans:
        orphan.unlink(missing_ok=True)
    return orphans


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
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder; pass the path of a file in it, e.g. "
                              f"{path / 'best.pt'} or {path / 'last.pt'}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train first (fit, or python -m inception_nb train) "
                              f"or pass the path of a best.pt/last.pt")
    if not os.access(path, os.R_OK):
        raise CheckpointError(f"permission denied: cannot read checkpoint {path}; give yourself read access "
                              f"(chmod u+r) or pass another file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError:
        raise CheckpointError(f"permission denied: cannot read checkpoint {path}; give yourself read access "
                              f"(chmod u+r) or pass another file") from None
    except Exception as err:  # the safe unpickler fails on garbage in many ways (IndexError among them)
        raise CheckpointError(f"{path} is not a PyTorch checkpoint that can be loaded safely "
                              f"({err.__class__.__name__}); pass a best.pt or last.pt written by inception_nb"
                              ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not an inception-nb checkpoint (no '{FORMAT}' marker); "
                              f"pass a best.pt or last.pt written by inception_nb, or load raw torchvision weights "
                              f"with inception_nb.from_torchvision")
    problem = _structure_problem(state)
    if problem:
        raise CheckpointError(f"{path} is a damaged inception-nb checkpoint: {problem}; pass a best.pt or "
                              f"last.pt that inception_nb wrote, or train again")
    return state


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _structure_problem(state: dict) -> str | None:
    """Return what is wrong with a checkpoint's fields (naming the field), or None when all is well."""
    kinds = {"model_config": dict, "state_dict": dict, "classes": list, "channels": int, "image_size": int,
             "mean": list, "std": list, "epoch": int}
    for name, kind in kinds.items():
        if name not in state:
            return f"field '{name}' is missing"
        value = state[name]
        if not (_is_int(value) if kind is int else isinstance(value, kind)):
            return f"field '{name}' should be {kind.__name__}, found {type(value).__name__}"
    for name, kind in {"spent": float, "history": dict, "train_config": dict, "optimizer": dict}.items():
        if name in state and not (_is_number(state[name]) if kind is float else isinstance(state[name], kind)):
            return f"field '{name}' should be {kind.__name__}, found {type(state[name]).__name__}"
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state["state_dict"].items()):
        return "field 'state_dict' should map parameter names to tensors"
    classes = state["classes"]
    if not classes or not all(isinstance(c, str) for c in classes) or len(set(classes)) != len(classes):
        return "field 'classes' should be a non-empty list of distinct class names"
    if state["channels"] not in (1, 3):
        return f"field 'channels' should be 1 or 3, found {state['channels']}"
    if state["image_size"] < 1:
        return f"field 'image_size' should be a positive integer, found {state['image_size']}"
    for name in ("mean", "std"):
        values = state[name]
        if len(values) != state["channels"] or not all(_is_number(v) for v in values):
            return f"field '{name}' should hold {state['channels']} finite numbers (one per channel), found {values}"
    if not all(s > 0 for s in state["std"]):
        return f"field 'std' should be positive, found {state['std']}"
    if state["epoch"] < 0:
        return f"field 'epoch' should be 0 or more, found {state['epoch']}"
    config = state["model_config"]
    if config.get("num_classes") != len(classes):
        return (f"field 'model_config' has num_classes {config.get('num_classes')!r} but field 'classes' names "
                f"{len(classes)}")
    if config.get("in_channels") != state["channels"]:
        return f"field 'model_config' has in_channels {config.get('in_channels')!r} but field 'channels' is " \
               f"{state['channels']}"
    history = state.get("history", {"epochs": []})
    records = history.get("epochs")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        return "field 'history' should hold a list 'epochs' of per-epoch records"
    for record in records:
        bad = [k for k in HISTORY_FIELDS if not _is_number(record.get(k))] + sorted(set(record) - set(HISTORY_FIELDS))
        if bad:
            return f"field 'history' has an epoch record with a missing, unknown or non-numeric '{bad[0]}'"
    if "stopped" in history and not isinstance(history["stopped"], str):
        return "field 'history' should say how the run stopped as text ('stopped')"
    optimizer = state.get("optimizer")
    if optimizer is not None and not {"state", "param_groups"} <= set(optimizer):
        return "field 'optimizer' should be an optimizer state_dict (with 'state' and 'param_groups')"
    return None


def _restore_weights(model: nn.Module, state: dict, path) -> None:
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise CheckpointError(f"{path} holds weights of another architecture than {dict(model.config)} "
                              f"({first}); build the model from the checkpoint with load_checkpoint") from None


def _info(state: dict) -> CheckpointInfo:
    return CheckpointInfo(state["model_config"], state["classes"], state["channels"], state["image_size"],
                          tuple(state["mean"]), tuple(state["std"]), state["epoch"], state.get("history", {}),
                          state.get("train_config", {}))


def read_checkpoint_info(path) -> CheckpointInfo:
    """Return what a checkpoint says about its model, data and training, without building the model."""
    return _info(_read(path))


def load_checkpoint(path, device: str | torch.device = "cpu") -> tuple:
    """Return (model in eval mode, CheckpointInfo) rebuilt from a checkpoint alone."""
    state = _read(path)
    try:
        model = InceptionV1(**state["model_config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path} describes a model this version cannot build ({err}); "
                              f"upgrade inception_nb or retrain") from None
    _restore_weights(model, state, path)
    return model.to(device).eval(), _info(state)


def load_training_state(path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Load weights (and optimizer state) into `model` to resume; return epoch, spent and history."""
    state = _read(path)
    if dict(state["model_config"]) != dict(model.config):
        raise CheckpointError(f"{path} was trained with model {state['model_config']}, not {dict(model.config)}; "
                              f"build the model to resume from the checkpoint's own settings "
                              f"(its ModelConfig: read_checkpoint_info(path).model_config)")
    _restore_weights(model, state, path)
    if optimizer is not None:
        if "optimizer" not in state:
            raise CheckpointError(f"{path} has no optimizer state (best.pt keeps weights only); resume from last.pt")
        saved_groups = state["optimizer"]["param_groups"]
        ours = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
        if len(saved_groups) != len(ours) or any(set(g) - {"params"} != set(o) for g, o in zip(saved_groups, ours)):
            saved = state.get("train_config", {}).get("optimizer")
            if saved is None or saved == type(optimizer).__name__.lower():
                raise CheckpointError(f"{path} holds optimizer state of another kind than its training settings "
                                      f"say ({saved}); the file is damaged: resume from another last.pt")
            raise CheckpointError(f"{path} was trained with optimizer {saved!r}, which cannot continue as "
                                  f"{type(optimizer).__name__}; resume with TrainConfig.optimizer={saved!r}")
        try:
            optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, TypeError, RuntimeError) as err:
            raise CheckpointError(f"{path} holds optimizer state that does not fit this model ({err}); "
                                  f"resume from a last.pt of the same model") from None
        # The new command's settings win over the saved ones (weight decay, momentum, ...): honoured, not
        # silently replaced by the checkpoint's. The learning rate is set afresh at every step anyway.
        for group, settings in zip(optimizer.param_groups, ours):
            group.update(settings)
    resumed = {name: state[name] for name in ("epoch", "classes", "channels", "image_size", "mean", "std")}
    return dict(resumed, spent=state.get("spent", 0.0), history=state.get("history", {"epochs": []}))


def check_resume(path, state: dict, data, config) -> None:
    """Refuse to resume (CheckpointError) where the data or config contradict what the checkpoint was trained on."""
    if list(data.classes) != list(state["classes"]):
        raise CheckpointError(f"{path} was trained on classes {state['classes']}, but the data has classes "
                              f"{list(data.classes)}; resume on the dataset it was trained on (DataConfig.dataset)")
    for name in ("channels", "image_size"):
        if getattr(data, name) != state[name]:
            raise CheckpointError(f"{path} was trained with DataConfig.{name}={state[name]}, but the data has "
                                  f"{getattr(data, name)}; resume with DataConfig.{name}={state[name]}")
    if [float(m) for m in data.mean] != state["mean"] or [float(s) for s in data.std] != state["std"]:
        raise CheckpointError(f"{path} was trained on images normalised with mean {state['mean']} and std "
                              f"{state['std']}, but the data uses {list(data.mean)} and {list(data.std)}; resume "
                              f"on the dataset it was trained on (DataConfig.dataset)")
    if config.time_budget is not None and state["spent"] >= config.time_budget:
        raise CheckpointError(f"{path} has trained {state['spent']:.1f} s already and TrainConfig.time_budget="
                              f"{config.time_budget:g} is the total, so nothing is left to train; raise "
                              f"TrainConfig.time_budget, or give TrainConfig.epochs and no time budget")
    if config.epochs <= state["epoch"]:
        raise CheckpointError(f"{path} has trained {state['epoch']} epoch(s) already and TrainConfig.epochs="
                              f"{config.epochs} is the total, so nothing is left to train; resume with "
                              f"TrainConfig.epochs above {state['epoch']}")


def data_for_checkpoint(info: CheckpointInfo, dataset: str = "fashion-mnist", batch_size: int = 256,
                        limit: int | None = None, device: str | torch.device | None = None):
    """Return a DataBundle preprocessed the way the checkpoint's model expects (no augmentation)."""
    from ..data import DataConfig, load_data
    from .runtime import pick_device

    config = DataConfig(dataset=dataset, image_size=info.image_size, channels=info.channels,
                        batch_size=batch_size, limit=limit, augment=False)
    return load_data(config, device=pick_device(device), training=False)
