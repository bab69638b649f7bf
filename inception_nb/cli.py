"""Command line for long runs: python -m inception_nb {train,evaluate,predict,summary,bench}."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import sys
import textwrap
from dataclasses import fields, replace
from pathlib import Path

import torch
from torch import nn

from . import __version__
from .checks import check_image_size, check_seed, check_train_config, is_out_of_memory
from .cli_errors import TERMINATED, Terminated, memory_advice, os_error_line, pipe_guarded
from .config import CLI_PROFILE, PROFILES, DataConfig, ModelConfig, TrainConfig, get_profile
from .data import load_data
from .images import DataError
from .lesson.report import torchsummary_table
from .loops import TrainingDiverged, test
from .model import PRESETS, min_input_size
from .predict import format_predictions, image_files, predict_images
from .training.bench import run_bench
from .training.checkpoint import CheckpointError, data_for_checkpoint, load_checkpoint, read_checkpoint_info
from .training.fit import fit
from .training.resume import CONFIGS, resume_help, resumed_profile
from .training.runfolder import check_run_folder
from .training.runtime import close_distributed, init_distributed, is_main_process, pick_device, say, world_size

BAD_INPUT = 2
INTERRUPTED = 130  # the shell's status for a process ended by Ctrl-C
# Config fields whose option is not just --field-name; seed sets DataConfig.seed and TrainConfig.seed together.
FLAG_NAMES = {"dataset": "--data", "out_dir": "--out"}
# What the CLI decides itself instead of taking an option: progress bars follow the terminal.
NOT_OPTIONS = {"progress"}


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout, without breaking an option such as --weight-decay at its hyphen."""

    def _split_lines(self, text: str, width: int) -> list:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent,
                             break_on_hyphens=False)


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
    sub.add_parser = functools.partial(sub.add_parser, formatter_class=_Formatter)

    train = sub.add_parser("train", help="train a model and write best.pt, last.pt, history.json",
                           description="Train as a profile says; every option overrides one field of it. Given "
                                       "--epochs without --time-budget, training runs exactly those epochs.")
    train.add_argument("--profile", choices=sorted(PROFILES), default=CLI_PROFILE,
                       help=f"the recipe the other options change (default: {CLI_PROFILE}, {cli.description})")
    taken: set = set()
    for config_class, example in ((DataConfig, cli.data), (ModelConfig, cli.model), (TrainConfig, cli.train)):
        _add_config_options(train, config_class, example, taken)
    train.add_argument("--resume", default=None, help="last.pt to continue from (default: start afresh); see below "
                                                      "for what a resume carries")
    train.epilog = resume_help(flag_for, taken)
    train.add_argument("--overwrite", action="store_true", help="replace the run already in --out (default: "
                                                                "refuse, so no trained model is lost)")
    train.add_argument("--json", action="store_true", help="print one JSON object with the results (default: text)")

    evaluate = sub.add_parser("evaluate", help="test accuracy of a checkpoint")
    evaluate.add_argument("--checkpoint", required=True, help="best.pt or last.pt to evaluate (required)")
    evaluate.add_argument("--data", default=None, help="dataset of the test split (default: the one the checkpoint "
                                                       "trained on, split as that run split it)")
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
    summary.add_argument("--preset", choices=tuple(PRESETS), default="seed",
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
    bench.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                       help="allow mixed precision as train does (--no-amp: float32; default: allowed)")
    bench.add_argument("--json", action="store_true", help="print one JSON object (default: text)")
    return parser


def _overrides(args, config_class: type) -> dict:
    return {f.name: getattr(args, f.name) for f in fields(config_class) if getattr(args, f.name, None) is not None}


def cmd_train(args) -> dict:
    """Train as the arguments say; return the results dict."""
    if args.out_dir is not None and not args.out_dir.strip():
        raise ValueError("--out is empty; give the folder for best.pt, last.pt and history.json, or omit --out "
                         "for the profile's folder")
    distributed = init_distributed()
    try:
        profile, resumed_epochs = get_profile(args.profile), 0
        if args.resume:
            given = {name: _overrides(args, config) for name, config in CONFIGS.items()}
            profile = resumed_profile(profile, given, args.resume, flag_for)
            resumed_epochs = read_checkpoint_info(args.resume).epoch
        train_changes = _overrides(args, TrainConfig)
        if args.epochs is not None and args.time_budget is None:
            train_changes["time_budget"] = None  # --epochs alone: exactly that many epochs, however long
        device = pick_device(args.device or profile.train.device)  # chosen once; fit reuses it
        train_changes["device"] = str(device)
        model_config = _model_config(profile.model, args)
        data_config = replace(profile.data, **_overrides(args, DataConfig))
        config = replace(profile.train, **train_changes, progress=not args.json and sys.stderr.isatty())
        # Every value is checked before any data loads: a typo costs seconds, not a dataset scan.
        check_train_config(config)
        check_seed(data_config)
        model_config.check()
        min_size = min_input_size(model_config.preset, aux_logits=model_config.aux_logits)
        check_image_size(data_config.image_size, min_size, model_config.preset)
        out = Path(config.out_dir)
        if is_main_process():
            check_run_folder(out, args.resume, args.overwrite)
        data = load_data(data_config, device=device, min_size=min_size, distributed=distributed)
        torch.manual_seed(config.seed)  # the seed fixes the initial weights too, not only the data order
        model = model_config.build(len(data.classes), data.channels)
        # With --json, stdout carries only the result object; the per-epoch lines go to stderr.
        with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
            say(f"training on {device}: {data.num_train:,} images, {len(data.classes)} classes, "
                f"{config.epochs} epoch(s) at most, writing {out}")
            history = fit(model, data, config, resume=args.resume, overwrite=args.overwrite)
        last = history.last
        if last is None or last.epoch <= resumed_epochs:  # no epoch of this run was saved
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


def _model_config(recipe: ModelConfig, args) -> ModelConfig:
    """Return the recipe's ModelConfig with the options given; another preset than seed gets its own stem."""
    config = replace(recipe, **_overrides(args, ModelConfig))
    if config.preset != "seed":
        if args.stem_batchnorm:
            raise ValueError(f"--stem-batchnorm only applies to --preset seed ({config.preset} chooses its own "
                             f"stem); drop --stem-batchnorm")
        config = replace(config, stem_batchnorm=False)
    return config


def cmd_evaluate(args) -> dict:
    """Evaluate a checkpoint on a dataset's test split; return the results dict."""
    device = pick_device(args.device)
    model, info = load_checkpoint(args.checkpoint, device)
    data = data_for_checkpoint(info, args.data, args.batch_size, limit=args.limit, device=device)
    if list(data.classes) != list(info.classes):
        raise CheckpointError(f"{args.checkpoint} was trained on classes {info.classes}, but {data.config.dataset} has "
                              f"{data.classes}; evaluate on the dataset it was trained on")
    acc, loss = test(data.test, model, nn.CrossEntropyLoss())
    return {"test_acc": acc, "test_loss": loss, "images": data.num_test, "checkpoint": str(args.checkpoint)}


def cmd_predict(args) -> dict:
    """Predict image files (or folders of them); return {"predictions": [...]}."""
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

        print(format_predictions(result["predictions"]))
        return
    for key, value in result.items():
        if key == "classes":
            continue
        shown = f"{value:.2%}" if key.endswith("_acc") else value
        print(f"{key:>14}: {shown}")


def cmd_summary(args) -> None:
    """Print the torchsummary table of a preset."""
    check_image_size(args.image_size, min_input_size(args.preset, aux_logits=False), args.preset)
    print(torchsummary_table(args.preset, args.image_size, args.num_classes))


def cmd_bench(args) -> dict:
    """Benchmark our training step; return the figures."""
    if args.image_size is not None:  # torchvision's GoogLeNet runs too, at its own minimum
        check_image_size(args.image_size, max(min_input_size(get_profile("cpu").model.preset),
                                               min_input_size("torchvision")), "torchvision")
    pick_device(args.device)  # refuse a bad device before the measurements start
    return run_bench(args.image_size, args.batch_size, args.steps, verbose=not args.json, device=args.device,
                     compile=args.compile, amp=args.amp)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    args = build_parser().parse_args(argv)
    terminated = Terminated()
    with pipe_guarded(), terminated.handled():
        code = _run(args)
    if code == INTERRUPTED and terminated.seen:
        return TERMINATED
    return code


def _run(args) -> int:

    try:
        if args.command == "summary":
            cmd_summary(args)
            return 0
        command = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "bench": cmd_bench}
        result = command[args.command](args)
    except KeyboardInterrupt:
        done = "before an epoch ended, nothing was saved" if args.command == "train" else "nothing written"
        print(f"interrupted (Ctrl-C or SIGTERM): {done}", file=sys.stderr)
        return INTERRUPTED
    except (DataError, CheckpointError, ValueError) as err:
        print(f"error: {in_cli_words(str(err))}", file=sys.stderr)
        return BAD_INPUT
    except TrainingDiverged as err:
        print(f"error: {in_cli_words(str(err))}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {in_cli_words(os_error_line(err))}", file=sys.stderr)
        return BAD_INPUT
    except Exception as err:
        if not is_out_of_memory(err):
            raise
        detail = str(err).strip().splitlines()[0][:200]
        print(f"error: out of memory ({detail}); {memory_advice(args)}", file=sys.stderr)
        return BAD_INPUT
    if args.command != "train" or _is_rank_zero():
        _print(result, args.json)
    # An interrupted run printed what it kept; its exit status still tells scripts it did not finish.
    return INTERRUPTED if result.get("stopped") == "interrupted" else 0


def _is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0
