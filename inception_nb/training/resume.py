"""What `train --resume` carries over from the checkpoint, and what it refuses to change (config.RESUME_KEEPS)."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

from .checkpoint import CheckpointError, CheckpointInfo, read_checkpoint_info
from ..config import RESUME_KEEPS, DataConfig, ModelConfig, Profile, TrainConfig
from ..paths import dataset_candidates

CONFIGS = {"ModelConfig": ModelConfig, "DataConfig": DataConfig, "TrainConfig": TrainConfig}
# Settings of this machine and this command rather than of the run: never carried.
NOT_CARRIED = {"device", "out_dir", "progress", "num_workers"}


def _flags(names, flag_for) -> list:
    return list(dict.fromkeys(flag_for(name) for name in names))  # --seed sets two fields; name it once


def resume_help(flag_for, options: set) -> str:
    """Return the help paragraph that says which settings a resume carries and which it refuses to change."""
    keeps = [name for names in RESUME_KEEPS.values() for name in names]
    carried = [f.name for config in CONFIGS.values() for f in fields(config)
               if f.name in options and f.name not in NOT_CARRIED and f.name not in keeps]
    return (f"With --resume, a resume carries every setting the checkpoint records unless given again: "
            f"{', '.join(_flags(carried, flag_for))}; --out defaults to the checkpoint's folder. It refuses to change "
            f"{', '.join(_flags(keeps, flag_for))} (the model, which images train and which test, and the optimizer "
            f"whose state it continues): give them only with the checkpoint's values, or start a new run. "
            f"{', '.join(_flags(sorted(NOT_CARRIED - {'progress', 'out_dir'}), flag_for))} belong to this command, not "
            f"the run, and are never carried.")


def recorded_settings(info: CheckpointInfo) -> dict:
    """Return {config class name: {field: value}} as the checkpoint recorded them (older ones record fewer)."""
    data = {"image_size": info.image_size, "channels": info.channels}
    if "seed" in info.train_config:
        data["seed"] = info.train_config["seed"]
    data.update(info.data_config)
    return {"ModelConfig": dict(info.model_config), "DataConfig": data,
            "TrainConfig": {k: v for k, v in info.train_config.items() if k not in NOT_CARRIED}}


def _same(name: str, given, recorded) -> bool:
    if name != "dataset" or given == recorded:
        return given == recorded
    if str(given).lower() == "fashion-mnist" or str(recorded).lower() == "fashion-mnist":
        return str(given).lower() == str(recorded).lower()
    return any(candidate.resolve() == Path(recorded).resolve() for candidate in dataset_candidates(given))


def _shown(flag: str, value) -> str:
    if isinstance(value, bool):
        return flag if value else "--no-" + flag[2:]
    return f"{flag} {value}"


def resumed_profile(profile: Profile, given: dict, resume, flag_for) -> Profile:
    """Return `profile` with every setting the checkpoint `resume` records; refuse a `given` one it may not change.

    `given` maps a config class name to the options given on the command line ({"DataConfig": {"limit": 64}}).
    """
    recorded = recorded_settings(read_checkpoint_info(resume))
    for section, names in RESUME_KEEPS.items():
        for name in names:
            if name in given[section] and name in recorded[section] and \
                    not _same(name, given[section][name], recorded[section][name]):
                flag = flag_for(name)
                raise CheckpointError(
                    f"{resume} was trained with {_shown(flag, recorded[section][name])}; a resume keeps the model, "
                    f"which images train and which test, and the optimizer: drop {flag} (or give "
                    f"{_shown(flag, recorded[section][name])}), or start a new run with another --out")
    model, data, train = (
        {f.name: recorded[name][f.name] for f in fields(CONFIGS[name]) if f.name in recorded[name]}
        for name in ("ModelConfig", "DataConfig", "TrainConfig"))
    return replace(profile, model=replace(profile.model, **model), data=replace(profile.data, **data),
                   train=replace(profile.train, **train, out_dir=str(Path(resume).parent)))
