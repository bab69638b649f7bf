"""Command line for long runs: python -m inception_nb {train,evaluate,predict,summary,bench}."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from dataclasses import fields, replace
from pathlib import Path

from . import __version__
from .training.checkpoint import CheckpointError
from .config import CLI_PROFILE, PROFILES, DataConfig, ModelConfig, TrainConfig, get_profile
from .loops import TrainingDiverged
from .images import DataError

BAD_INPUT = 2
INTERRUPTED = 130  # the shell's status for a process ended by Ctrl-C
CONFIGS = {"ModelConfig": ModelConfig, "DataConfig": DataConfig, "TrainConfig": TrainConfig}
# Config fields whose option is not just --field-name; seed sets DataConfig.seed and TrainConfig.seed together.
FLAG_NAMES = {"dataset": "--data", "out_dir": "--out"}
# What the CLI decides itself instead of taking an option: progress bars follow the terminal.
NOT_OPTIONS = {"progress"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        # One clear line instead of argparse's usage dump; --help still shows the usage.
        print(f"error: {message} (see: python -m {self.prog} --help)", file=sys.stderr)
        sys.exit(BAD_INPUT)


def flag_for(field_name: str) -> str:
    """Return the command-line option that sets a config field, e.g. "image_size" -> "--image-size"."""
    return FLAG_NAMES.get(field_name, "--" + field_name.replace("_", "-"))


def in_cli_words(message: str) -> str:
    """Return a library message with each `DataConfig.image_size`-style field name replaced by its option."""
    message = re.sub(r"\b(?:ModelConfig|DataConfig|TrainConfig)\.(\w+)", lambda m: flag_for(m.group(1)), message)
    # fit's own arguments: resume=PATH and overwrite=True
    return message.replace("overwrite=True", "--overwrite").replace("resume=", "--resume ")


def _positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its "invalid int value" message
    return parse


def _field_type(annotation: str) -> type:
    # The annotations are strings (from __future__ import annotations): "int", "float | None", ...
    return {"int": int, "float": float, "str": str, "bool": bool}[annotation.split("|")[0].strip()]


def _add_config_options(parser: argparse.ArgumentParser, config_class: type, example, taken: set) -> None:
    """Add one option per field of `config_class` not in `taken`; the help shows the default from `example`."""
    for f in fields(config_class):
        flag = flag_for(f.name)
        if f.name in NOT_OPTIONS or f.name in taken:
            continue  # TrainConfig.seed shares --seed with DataConfig.seed
        taken.add(f.name)
        kind = _field_type(f.type)
        help_text, choices = f.metadata.get("help", ""), f.metadata.get("choices")
        default = getattr(example, f.name)
        owner = "DataConfig.seed and TrainConfig" if f.name == "seed" else config_class.__name__
        shown = f"{owner}.{f.name}; default: {default}"
        if kind is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=f"{help_text} ({shown})")
            continue
        positive = kind is int and f.name not in ("seed", "num_workers")  # counts and sizes start at 1
        parser.add_argument(flag, dest=f.name, type=_positive(kind) if positive else kind, choices=choices,
                            default=None, metavar=None if choices else f.name.upper(), help=f"{help_text} ({shown})")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for all subcommands."""
    cli = get_profile(CLI_PROFILE)
    parser = _Parser(prog="inception_nb", description=__doc__)
    parser.add_argument("--version", action="version", version=f"inception_nb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a model and write best.pt, last.pt, history.json",
                           description="Train as a profile says; every option overrides one field of it. Given "
                                       "--epochs without --time-budget, training runs exactly those epochs.")
    train.add_argument("--profile", choices=sorted(PROFILES), default=CLI_PROFILE,
                       help=f"the recipe the other options change (default: {CLI_PROFILE}, {cli.description})")
    taken: set = set()
    for config_class, example in ((DataConfig, cli.data), (ModelConfig, cli.model), (TrainConfig, cli.train)):
        _add_config_options(train, config_class, example, taken)
    train.add_argument("--resume", default=None, help="last.pt to continue from; options not given are the "
                                                      "checkpoint's, and --out defaults to its folder "
                                                      "(default: start afresh)")
    train.add_argument("--overwrite", action="store_true", help="replace the run already in --out (default: "
                                                                "refuse, so no trained model is lost)")
    train.add_argument("--json", action="store_true", help="print one JSON object with the results (default: text)")

    evaluate = sub.add_parser("evaluate", help="test accuracy of a checkpoint")
    evaluate.add_argument("--checkpoint", required=True, help="best.pt or last.pt to evaluate (required)")
    evaluate.add_argument("--data", default="fashion-mnist", help="dataset of the test split (default: %(default)s)")
    evaluate.add_argument("--batch-size", type=_positive(int), default=256, help="default: %(default)s")
    evaluate.add_argument("--limit", type=_positive(int), default=None, help="at most N test images "
                                                                              "(default: all)")
    evaluate.add_argument("--device", default=None, help="cpu, cuda, ... (default: best available)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object (default: text)")

    predict = sub.add_parser("predict", help="top-k classes for image files")
    predict.add_argument("--checkpoint", required=True, help="best.pt or last.pt to predict with (required)")
    predict.add_argument("images", nargs="+", help="image files or folders of images")
    predict.add_argument("--top-k", type=_positive(int), default=3, help="classes per image (default: %(default)s)")
    predict.add_argument("--json", action="store_true", help="print one JSON object (default: text)")

    summary = sub.add_parser("summary", help="print the torchsummary table of a preset")
    summary.add_argument("--preset", choices=("seed", "torchvision", "paper"), default="seed",
                         help="default: %(default)s")
    summary.add_argument("--image-size", type=_positive(int), default=224, help="default: %(default)s")
    summary.add_argument("--num-classes", type=_positive(int), default=1000, help="default: %(default)s")

    bench = sub.add_parser("bench", help="throughput against torchvision and the machine's peak")
    bench.add_argument("--image-size", type=_positive(int), default=None,
                       help=f"default: the cpu profile's, {get_profile('cpu').data.image_size}")
    bench.add_argument("--batch-size", type=_positive(int), default=None,
                       help=f"default: the cpu profile's, {get_profile('cpu').data.batch_size}")
    bench.add_argument("--steps", type=_positive(int), default=8, help="timed training steps per model "
                                                                        "(default: %(default)s)")
    bench.add_argument("--device", default=None, help="cpu, cuda, ... (default: best available)")
    bench.add_argument("--compile", action="store_true", help="also torch.compile our model (slow to start; "
                                                              "default: off)")
    bench.add_argument("--json", action="store_true", help="print one JSON object (default: text)")
    return parser


def _overrides(args, config_class: type) -> dict:
    return {f.name: getattr(args, f.name) for f in fields(config_class) if getattr(args, f.name, None) is not None}


def _resumed_profile(profile, resume: str):
    """Return `profile` with the settings of the run in `resume`, so options not given continue that run."""
    from .training.checkpoint import read_checkpoint_info

    info = read_checkpoint_info(resume)
    model = {f.name: info.model_config[f.name] for f in fields(ModelConfig) if f.name in info.model_config}
    train = {f.name: info.train_config[f.name] for f in fields(TrainConfig)
             if f.name in info.train_config and f.name not in ("device", "out_dir", "progress")}
    return replace(profile, model=replace(profile.model, **model),
                   data=replace(profile.data, image_size=info.image_size, channels=info.channels,
                                seed=train.get("seed", profile.data.seed)),
                   train=replace(profile.train, **train, out_dir=str(Path(resume).parent)))


def cmd_train(args) -> dict:
    """Train as the arguments say; return the results dict."""
    import torch

    from .training.checks import check_model_config, check_seed, check_train_config
    from .data import load_data
    from .training.fit import fit
    from .model import min_input_size
    from .training.runfolder import check_run_folder
    from .training.runtime import close_distributed, init_distributed, is_main_process, pick_device, world_size

    distributed = init_distributed()
    try:
        profile = get_profile(args.profile)
        if args.resume:
            profile = _resumed_profile(profile, args.resume)
        train_changes = _overrides(args, TrainConfig)
        if args.epochs is not None and args.time_budget is None:
            train_changes["time_budget"] = None  # --epochs alone: exactly that many epochs, however long
        device = pick_device(args.device or profile.train.device)  # chosen once; fit reuses it
        train_changes["device"] = str(device)
        model_config = replace(profile.model, **_overrides(args, ModelConfig))
        data_config = replace(profile.data, **_overrides(args, DataConfig))
        config = replace(profile.train, **train_changes, progress=not args.json and sys.stderr.isatty())
        # Every value is checked before any data loads: a typo costs seconds, not a dataset scan.
        check_train_config(config)
        check_seed(data_config)
        check_model_config(model_config)
        min_size = min_input_size(model_config.preset, aux_logits=model_config.aux_logits)
        _check_image_size(data_config.image_size, min_size, model_config.preset)
        out = Path(config.out_dir)
        if is_main_process():
            check_run_folder(out, args.resume, args.overwrite)
        data = load_data(data_config, device=device, min_size=min_size, distributed=distributed)
        torch.manual_seed(config.seed)  # the seed fixes the initial weights too, not only the data order
        model = model_config.build(len(data.classes), data.channels)
        # With --json, stdout carries only the result object; the per-epoch lines go to stderr.
        with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
            history = fit(model, data, config, resume=args.resume, overwrite=args.overwrite)
        last = history.last
        if last is None:
            if history.stopped == "interrupted":
                raise KeyboardInterrupt
            raise DataError("training stopped before the first epoch ended; nothing to report")
        return {
            "test_acc": last.test_acc, "test_loss": last.test_loss,
            "train_acc": last.train_acc, "train_loss": last.train_loss,
            "best_test_acc": history.best_test_acc, "epochs": last.epoch, "images_seen": history.images_seen,
            "seconds": round(history.seconds, 2), "stopped": history.stopped, "classes": data.classes,
            "checkpoint": str(out / "best.pt"), "history": str(out / "history.json"),
            "world_size": world_size(),
        }
    finally:
        if distributed:
            close_distributed()


def _check_image_size(size: int, min_size: int, model: str) -> None:
    if size < min_size:
        raise DataError(f"DataConfig.image_size {size} is smaller than the {model} model's minimum input size "
                        f"{min_size}. Fix: set DataConfig.image_size to {min_size} or more.")


def cmd_evaluate(args) -> dict:
    """Evaluate a checkpoint on a dataset's test split; return the results dict."""
    import torch.nn as nn

    from .training.checkpoint import data_for_checkpoint, load_checkpoint
    from .loops import test
    from .training.runtime import pick_device

    device = pick_device(args.device)
    model, info = load_checkpoint(args.checkpoint, device)
    data = data_for_checkpoint(info, args.data, args.batch_size, limit=args.limit, device=device)
    if list(data.classes) != list(info.classes):
        raise CheckpointError(f"{args.checkpoint} was trained on classes {info.classes}, but {args.data} has "
                              f"{data.classes}; evaluate on the dataset it was trained on")
    acc, loss = test(data.test, model, nn.CrossEntropyLoss())
    return {"test_acc": acc, "test_loss": loss, "images": data.num_test, "checkpoint": str(args.checkpoint)}


def cmd_predict(args) -> dict:
    """Predict image files (or folders of them); return {"predictions": [...]}."""
    from .training.checkpoint import load_checkpoint
    from .predict import image_files, predict_images

    model, info = load_checkpoint(args.checkpoint)
    paths = []
    for item in map(Path, args.images):
        if item.is_dir():
            paths += image_files(item)
        elif item.is_file():
            paths.append(item)
        else:
            raise DataError(f"image {item} does not exist; check the path")
    return {"predictions": predict_images(model, info, paths, top_k=args.top_k)}


def _print(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    if "predictions" in result:
        from .predict import format_predictions

        print(format_predictions(result["predictions"]))
        return
    for key, value in result.items():
        if key == "classes":
            continue
        shown = f"{value:.2%}" if key.endswith("_acc") else value
        print(f"{key:>14}: {shown}")


def cmd_summary(args) -> None:
    """Print the torchsummary table of a preset."""
    from .model import min_input_size
    from .lesson.report import torchsummary_table

    _check_image_size(args.image_size, min_input_size(args.preset, aux_logits=False), args.preset)
    print(torchsummary_table(args.preset, args.image_size, args.num_classes))


def cmd_bench(args) -> dict:
    """Benchmark our training step; return the figures."""
    from .training.bench import run_bench
    from .model import min_input_size
    from .training.runtime import pick_device

    if args.image_size is not None:  # torchvision's GoogLeNet runs too, at its own minimum
        _check_image_size(args.image_size, max(min_input_size(get_profile("cpu").model.preset),
                                               min_input_size("torchvision")), "torchvision")
    pick_device(args.device)  # refuse a bad device before the measurements start
    return run_bench(args.image_size, args.batch_size, args.steps, verbose=not args.json, device=args.device,
                     compile=args.compile)


# Which options make the memory a command asks for, for the advice after an allocator's refusal.
MEMORY_OPTIONS = {"train": "--batch-size or --image-size", "bench": "--batch-size or --image-size",
                  "evaluate": "--batch-size", "predict": "the number of images per call",
                  "summary": "--image-size"}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    from .training.checks import is_out_of_memory

    args = build_parser().parse_args(argv)
    try:
        if args.command == "summary":
            cmd_summary(args)
            return 0
        command = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "bench": cmd_bench}
        result = command[args.command](args)
    except KeyboardInterrupt:
        done = "before the first epoch ended, nothing was saved" if args.command == "train" else "nothing written"
        print(f"interrupted (Ctrl-C): {done}", file=sys.stderr)
        return INTERRUPTED
    except (DataError, CheckpointError, ValueError, FileNotFoundError) as err:
        print(f"error: {in_cli_words(str(err))}", file=sys.stderr)
        return BAD_INPUT
    except TrainingDiverged as err:
        print(f"error: {in_cli_words(str(err))}", file=sys.stderr)
        return 1
    except PermissionError as err:
        print(f"error: permission denied: {err.filename or err}; give yourself access or choose another path",
              file=sys.stderr)
        return BAD_INPUT
    except Exception as err:
        if not is_out_of_memory(err):
            raise
        detail = str(err).strip().splitlines()[0][:200]
        print(f"error: out of memory ({detail}); lower {MEMORY_OPTIONS[args.command]}", file=sys.stderr)
        return BAD_INPUT
    if args.command != "train" or _is_rank_zero():
        _print(result, args.json)
    # An interrupted run printed what it kept; its exit status still tells scripts it did not finish.
    return INTERRUPTED if result.get("stopped") == "interrupted" else 0


def _is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0
