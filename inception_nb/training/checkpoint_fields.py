"""What each field of a checkpoint may hold: a file that breaks a rule is refused naming the field, before any of it
is used (a list where a preset name belongs, a setting of the wrong type, weights that are NaN)."""

from __future__ import annotations

import math
from dataclasses import fields

import torch

from ..config import DataConfig, TrainConfig
from ..model import PRESETS

# The per-epoch record of a training history (history.EpochRecord), as a checkpoint stores it.
HISTORY_FIELDS = ("epoch", "train_acc", "train_loss", "test_acc", "test_loss", "lr", "seconds", "images_seen")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _fits(value, annotation: str) -> bool:
    """Whether `value` fits a config field's annotation ("int", "float | None", ...)."""
    kinds = [part.strip() for part in annotation.split("|")]
    if value is None:
        return "None" in kinds
    checks = {"int": _is_int, "float": _is_number, "str": lambda v: isinstance(v, str),
              "bool": lambda v: isinstance(v, bool)}
    return any(checks[kind](value) for kind in kinds if kind in checks)


def structure_problem(state: dict) -> str | None:
    """Return what is wrong with a checkpoint's fields (naming the field), or None when all is well."""
    return _top_level_problem(state) or _model_config_problem(state) or _settings_problem(state) or \
        _history_problem(state) or _weights_problem(state)


def _top_level_problem(state: dict) -> str | None:
    kinds = {"model_config": dict, "state_dict": dict, "classes": list, "channels": int, "image_size": int,
             "mean": list, "std": list, "epoch": int}
    for name, kind in kinds.items():
        if name not in state:
            return f"field '{name}' is missing"
        value = state[name]
        if not (_is_int(value) if kind is int else isinstance(value, kind)):
            return f"field '{name}' should be {kind.__name__}, found {type(value).__name__}"
    optional = {"spent": float, "history": dict, "train_config": dict, "data_config": dict, "optimizer": dict}
    for name, kind in optional.items():
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
    optimizer = state.get("optimizer")
    if optimizer is not None and not {"state", "param_groups"} <= set(optimizer):
        return "field 'optimizer' should be an optimizer state_dict (with 'state' and 'param_groups')"
    return None


def _model_config_problem(state: dict) -> str | None:
    config, classes = state["model_config"], state["classes"]
    if config.get("num_classes") != len(classes):
        return (f"field 'model_config' has num_classes {config.get('num_classes')!r} but field 'classes' names "
                f"{len(classes)}")
    if config.get("in_channels") != state["channels"]:
        return f"field 'model_config' has in_channels {config.get('in_channels')!r} but field 'channels' is " \
               f"{state['channels']}"
    preset = config.get("preset", "seed")
    if not isinstance(preset, str) or preset not in PRESETS:
        return f"field 'model_config' has preset {preset!r}, not one of {sorted(PRESETS)}"
    for name in ("aux_logits", "stem_batchnorm"):
        if not isinstance(config.get(name, False), bool):
            return f"field 'model_config' has {name} {config[name]!r}, not True or False"
    dropout = config.get("dropout")
    if dropout is not None and not (_is_number(dropout) and 0 <= dropout < 1):
        return f"field 'model_config' has dropout {dropout!r}, not a number from 0 to below 1"
    return None


def _settings_problem(state: dict) -> str | None:
    """Check the recorded training and data settings, which a resume carries over, against their types."""
    for section, config_class in (("train_config", TrainConfig), ("data_config", DataConfig)):
        recorded = state.get(section, {})
        for f in fields(config_class):
            if f.name in recorded and not _fits(recorded[f.name], f.type):
                return f"field '{section}' has {f.name} {recorded[f.name]!r}, which is not of type {f.type}"
    return None


def _history_problem(state: dict) -> str | None:
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
    return None


def _weights_problem(state: dict) -> str | None:
    for name, tensor in state["state_dict"].items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return (f"its weights are not finite (NaN or infinity in '{name}'): the run diverged before this file "
                    f"was saved")
    return None
