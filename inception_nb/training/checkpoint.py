"""Checkpoints that rebuild themselves: weights plus everything needed to use them, and the data they expect."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..config import RESUME_KEEPS, DataConfig
from ..data import load_data
from ..model import InceptionV1
from ..oserrors import check_usable_path, describe_os_error, path_error
from ..paths import TMP_MARK, TMP_SUFFIX, atomic_write
from .checkpoint_fields import structure_problem
from .runtime import pick_device

FORMAT = "inception-nb/checkpoint/1"
RUN_FILE_NAMES = ("best.pt", "last.pt", "history.json")


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
    data_config: dict = field(default_factory=dict)  # empty in checkpoints written before it was recorded

    @property
    def preset(self) -> str:
        """Return the model preset the weights belong to."""
        return self.model_config.get("preset", "seed")


def atomic_save(obj, path: Path) -> None:
    """Write `obj` with torch.save so that `path` is either the old file or the complete new one."""
    def write(tmp: Path) -> None:
        # Through a Python file, so a failed write raises OSError with its errno (ENOSPC: disk full) instead
        # of the zip writer's RuntimeError that names no cause.
        with open(tmp, "wb") as handle:
            torch.save(obj, handle)

    atomic_write(path, write)


def copy_file(source, path) -> None:
    """Copy `source` to `path` atomically (the old `path` or the complete copy)."""
    atomic_write(path, lambda tmp: shutil.copyfile(source, tmp))


# <name>.inception-nb-<pid>-<hex>.tmp from atomic_write, and <name>.<pid>-<hex>.tmp from the version before it
_OWN_TEMP = re.compile(rf"^(?:{'|'.join(map(re.escape, RUN_FILE_NAMES))})\.(?:{TMP_MARK}-)?\d+-[0-9a-f]+"
                       rf"{re.escape(TMP_SUFFIX)}$")


def remove_orphaned_temps(folder) -> list:
    """Delete the temporary files a crashed writer of this program left in `folder`; return their paths.

    Only names atomic_write makes are touched: a user's own `history.json.my-notes.tmp` stays. Call it only
    while holding the folder (no other writer can be mid-write).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    orphans = [p for p in folder.iterdir() if _OWN_TEMP.match(p.name) and p.is_file()]
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
    if getattr(data, "config", None) is not None:  # what a resume carries and evaluate splits by
        state["data_config"] = asdict(data.config)
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    atomic_save(state, path)


def _checked_path(path, argument: str = "path") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{argument} must be the path of a checkpoint (str or Path), got {type(path).__name__}")
    path = Path(path)
    try:
        check_usable_path(path)
        path.stat()
    except FileNotFoundError:
        pass  # said below, with the advice to train first
    except OSError as err:
        raise CheckpointError(f"checkpoint: {describe_os_error(path_error(err, path))}") from None
    return path


def _read(path) -> dict:
    path = _checked_path(path)
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
    problem = structure_problem(state)
    if problem and problem.startswith("its weights are not finite"):
        raise CheckpointError(f"{path} cannot be used: {problem}; use a checkpoint saved before that (best.pt, or "
                              f"an earlier copy), or train again")
    if problem:
        raise CheckpointError(f"{path} is a damaged inception-nb checkpoint: {problem}; pass a best.pt or "
                              f"last.pt that inception_nb wrote, or train again")
    return state


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
                          state.get("train_config", {}), state.get("data_config", {}))


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
        differ = [f"{name}={state['model_config'].get(name)!r} (this model: {value!r})"
                  for name, value in dict(model.config).items() if state["model_config"].get(name) != value]
        raise CheckpointError(f"{path} was trained with a model of {', '.join(differ)}; build the model to resume "
                              f"with those settings (ModelConfig(**read_checkpoint_info(path).model_config))")
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
    return dict(resumed, spent=state.get("spent", 0.0), history=state.get("history", {"epochs": []}),
                data_config=state.get("data_config", {}))


def check_resume(path, state: dict, data, config) -> None:
    """Refuse to resume (CheckpointError) where the data or config contradict what the checkpoint was trained on."""
    if list(data.classes) != list(state["classes"]):
        raise CheckpointError(f"{path} was trained on classes {state['classes']}, but the data has classes "
                              f"{list(data.classes)}; resume on the dataset it was trained on (DataConfig.dataset)")
    recorded, ours = state.get("data_config", {}), asdict(data.config) if getattr(data, "config", None) else {}
    for name in RESUME_KEEPS["DataConfig"]:
        if name in recorded and name in ours and recorded[name] != ours[name]:
            raise CheckpointError(f"{path} was trained with DataConfig.{name}={recorded[name]!r}, but the data has "
                                  f"{ours[name]!r}; resume with DataConfig.{name}={recorded[name]!r} (another value "
                                  f"changes which images train and which test)")
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


def data_for_checkpoint(info: CheckpointInfo, dataset: str | None = None, batch_size: int = 256,
                        limit: int | None = None, device: str | torch.device | None = None):
    """Return a DataBundle preprocessed the way the checkpoint's model expects (no augmentation).

    `dataset` None: the one the run trained on (Fashion-MNIST for checkpoints that do not record it).
    """
    # The run's own seed and validation share: a folder without a test split is split as the run split it, so
    # no training image is evaluated on.
    recorded = info.data_config or {"seed": info.train_config.get("seed", 0)}
    split = {name: recorded[name] for name in ("seed", "val_fraction") if name in recorded}
    config = DataConfig(dataset=dataset or recorded.get("dataset", "fashion-mnist"), image_size=info.image_size,
                        channels=info.channels, batch_size=batch_size, limit=limit, augment=False, **split)
    return load_data(config, device=pick_device(device), training=False)
