"""The recipe, in one place: typed model, data and training settings, and the named run profiles.

The dataclass defaults ARE the recommended `cpu` recipe, so `fit(model, data)` with no config trains
what notebook 02 trains. Every other profile states only how it differs from them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace

from .model import PRESETS, InceptionV1
from .paths import RUNS_DIR

__all__ = ["ModelConfig", "DataConfig", "TrainConfig", "Profile", "PROFILES", "DEFAULT_PROFILE", "CLI_PROFILE",
           "RESUME_KEEPS", "check_flags", "get_profile", "profile_table"]


def _option(default, help: str, choices: tuple | None = None, **kwargs):
    """A dataclass field whose help text (and choices) the CLI shows for its option."""
    return field(default=default, metadata={"help": help, "choices": choices}, **kwargs)


# The cpu recipe was chosen by measurement on 2 CPU cores (docs/performance.md, scripts/recipe_search.py):
# native 28 x 28 input and batches of 128 train the most images per second; AdamW beats SGD by 2 points
# at the same budget; augmentation and dropout only pay off after more passes than fit in minutes.
# Epochs (not a time budget) so the accuracy, and the assert in notebook 02, is the same on any machine.

@dataclass
class ModelConfig:
    """Which InceptionV1 to build (everything but the class and channel counts, which the data decides).

    The defaults are the `cpu` recipe's and differ on purpose from `InceptionV1()`'s, which are the post's
    network exactly: the recipe adds BatchNorm to the stem (`stem_batchnorm=True`, as every recipe measured in
    docs/performance.md did) and turns dropout off (`dropout=0.0`: it pays off only after more passes than fit
    in minutes), where `InceptionV1()` has no stem BatchNorm and the preset's dropout, 0.4.
    """

    preset: str = _option("seed", "network preset", choices=tuple(PRESETS))
    stem_batchnorm: bool = _option(True, "BatchNorm after the stem convs (seed preset only; off is the post "
                                         "exactly)")
    dropout: float | None = _option(0.0, "dropout before the classifier; None takes the preset's (0.4 in the "
                                         "post, worth it for runs of many epochs)")
    aux_logits: bool = _option(False, "train with the two auxiliary classifiers")

    def check(self) -> None:
        """Raise ValueError (TypeError for a value of the wrong kind) naming the first setting that cannot build."""
        check_flags(self)
        presets = fields(self)[0].metadata["choices"]
        if not isinstance(self.preset, str) or self.preset not in presets:
            raise ValueError(f"ModelConfig.preset must be one of {sorted(presets)}, got {self.preset!r}")
        if self.stem_batchnorm and self.preset != "seed":
            raise ValueError(f"ModelConfig.stem_batchnorm=True only applies to preset 'seed' (preset {self.preset!r} "
                             f"chooses its own stem); use ModelConfig(preset={self.preset!r}, stem_batchnorm=False)")
        dropout = self.dropout
        if dropout is not None and (isinstance(dropout, bool) or not isinstance(dropout, (int, float))
                                    or not 0 <= dropout < 1):  # False for NaN too
            raise ValueError(f"ModelConfig.dropout must be at least 0 and below 1 (or None for the preset's), "
                             f"got {dropout!r}")

    def build(self, num_classes: int, in_channels: int):
        """Return a fresh InceptionV1 with these options."""
        self.check()
        return InceptionV1(num_classes=num_classes, in_channels=in_channels, preset=self.preset,
                           aux_logits=self.aux_logits, stem_batchnorm=self.stem_batchnorm, dropout=self.dropout)


@dataclass
class DataConfig:
    """What to train on and how the images reach the model."""

    dataset: str = _option("fashion-mnist", "'fashion-mnist' or a folder with one sub-folder of images per class")
    image_size: int = _option(28, "side of the square model input; images are resized to it")
    channels: int = _option(1, "1 turns photos gray, 3 repeats a grayscale channel", choices=(1, 3))
    batch_size: int = _option(128, "images per training step")
    limit: int | None = _option(None, "at most this many train and this many test images (class-balanced)")
    augment: bool = _option(False, "random crop (padding image_size // 8) and horizontal flip of training images")
    val_fraction: float = _option(0.1, "share of each class held out when a folder has no test/ or val/ split")
    seed: int = _option(0, "fixes limit, the validation split and the shuffle order")
    num_workers: int | None = _option(None, "DataLoader worker processes; None lets the device decide")


@dataclass
class TrainConfig:
    """How to train: optimizer, schedule, length, and where the checkpoints go."""

    epochs: int = _option(2, "total epochs, a resumed run's included")
    lr: float = _option(3e-3, "peak learning rate")
    optimizer: str = _option("adamw", "optimizer (sgd: Nesterov momentum)", choices=("sgd", "adamw"))
    momentum: float = _option(0.9, "SGD momentum")
    weight_decay: float = _option(0.05, "weight decay (not on biases and norms)")
    schedule: str = _option("onecycle", "learning-rate schedule (onecycle: warm-up then cosine to zero)",
                            choices=("onecycle", "cosine", "constant"))
    warmup: float = _option(0.15, "fraction of training spent warming up (onecycle only)")
    label_smoothing: float = _option(0.1, "label smoothing of the training loss")
    time_budget: float | None = _option(None, "seconds of training; the schedule is laid over it")
    aux_weight: float = _option(0.3, "weight of the auxiliary classifiers' losses (the paper's 0.3)")
    amp: bool = _option(True, "allow mixed precision: bfloat16 on a GPU or a CPU that computes it natively "
                    "(AMX, AVX512_BF16), float16 on older GPUs; float32 everywhere else")
    channels_last: bool | None = _option(None, "channels-last memory format; None: on for CUDA and CPU")
    matmul_convs: bool | None = _option(None, "1x1 and tiny-map convs as matrix products, a block's three input "
                                              "1x1s as one; None: on for CPU")
    device: str | None = _option(None, "cpu, cuda, cuda:1, mps; None: cuda, then mps, then cpu")
    seed: int = _option(0, "seeds each epoch's shuffle, augmentation and dropout")
    out_dir: str | None = _option(str(RUNS_DIR / "default"), "folder for best.pt, last.pt, history.json; None "
                                                              "writes nothing")
    progress: bool = _option(True, "progress bars")
    check_every: int = _option(25, "steps between host synchronisations (non-finite check, progress text)")


# What a resume refuses to change: the model, which images train and which test, and the optimizer whose state it
# continues. Every other setting a checkpoint records is carried over unless given anew.
RESUME_KEEPS = {"ModelConfig": ("preset", "stem_batchnorm", "dropout", "aux_logits"),
                "DataConfig": ("dataset", "image_size", "channels", "limit", "val_fraction", "seed"),
                "TrainConfig": ("optimizer", "seed")}


@dataclass
class Profile:
    """A complete recipe: model, data and training settings under one name."""

    name: str
    description: str
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _cpu() -> Profile:
    return Profile("cpu", "laptop CPU: native 28x28 grayscale input, two epochs")


def _cpu_5min() -> Profile:
    # "Train for five minutes": the cpu recipe with its schedule laid over 300 s instead of two epochs.
    return Profile("cpu-5min", "laptop CPU, five minutes: the cpu recipe laid over a 300 s time budget "
                               "(the CLI's default)",
                   train=TrainConfig(epochs=30, time_budget=300.0, out_dir=str(RUNS_DIR / "cli")))


def _full() -> Profile:
    return Profile("full", "GPU: 96x96 three-channel input, the full dataset, 5 minutes",
                   model=ModelConfig(dropout=None),
                   data=DataConfig(image_size=96, channels=3, batch_size=256, augment=True),
                   train=TrainConfig(epochs=30, time_budget=300.0, lr=2e-3))


def _quick() -> Profile:
    # The cpu recipe on a class-balanced fifth of the training images: the stand-in that notebooks 03-05 train
    # when notebook 02's model is missing, with the same input, loss and output shapes as that model.
    return Profile("quick", "stand-in and smoke tests: the cpu recipe on 12,000 images, two epochs",
                   data=DataConfig(limit=12_000))


PROFILES = {"cpu": _cpu, "cpu-5min": _cpu_5min, "full": _full, "quick": _quick}
DEFAULT_PROFILE = "cpu"  # what notebooks train unless INCEPTION_NB_PROFILE names another
CLI_PROFILE = "cpu-5min"  # what `python -m inception_nb train` trains unless --profile names another


def check_flags(config) -> None:
    """Raise TypeError naming the first on/off setting of `config` that is not True or False (None where allowed).

    A string such as "no" would otherwise count as on.
    """
    for f in fields(config):
        kinds = [part.strip() for part in f.type.split("|")]
        value = getattr(config, f.name)
        if kinds[0] == "bool" and not (isinstance(value, bool) or (value is None and "None" in kinds)):
            allowed = "True, False or None" if "None" in kinds else "True or False"
            raise TypeError(f"{type(config).__name__}.{f.name} must be {allowed}, got {value!r}")


def get_profile(name: str | None = None, **train_overrides) -> Profile:
    """Return the named profile, or the one INCEPTION_NB_PROFILE names (default "cpu")."""
    name = name or os.environ.get("INCEPTION_NB_PROFILE", DEFAULT_PROFILE)
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; use one of {sorted(PROFILES)} (INCEPTION_NB_PROFILE too)")
    profile = PROFILES[name]()
    if train_overrides:
        profile.train = replace(profile.train, **train_overrides)
    return profile


def profile_table() -> str:
    """Return a Markdown table of the run profiles and what each trains."""
    out = ["| profile | for | input | batch | images | training |", "|---|---|---|---:|---|---|"]
    for name in PROFILES:
        p = get_profile(name)
        images = f"up to {p.data.limit:,} per split" if p.data.limit else "all 60,000"
        length = f"{p.train.time_budget:.0f} s budget" if p.train.time_budget else f"{p.train.epochs} epochs"
        out.append(f"| `{name}` | {p.description.split(':')[0]} | {p.data.image_size}x{p.data.image_size}x"
                   f"{p.data.channels} | {p.data.batch_size} | {images} | {length} |")
    return "\n".join(out)
