"""Command line for long runs: python -m inception_nb {train,evaluate,predict,summary,bench}."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from .checkpoint import CheckpointError
from .data import DataError
from .engine import TrainingDiverged

BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        # One clear line instead of argparse's usage dump; --help still shows the usage.
        print(f"error: {message} (see: python -m inception_nb {self.prog.split()[-1]} --help)", file=sys.stderr)
        sys.exit(BAD_INPUT)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for all subcommands."""
    from .profiles import CLI_TIME_BUDGET, get_profile

    cpu = get_profile("cpu")
    parser = _Parser(prog="inception_nb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a model and write best.pt, last.pt, history.json")
    train.add_argument("--data", default="fashion-mnist", help="'fashion-mnist' or an ImageFolder path")
    train.add_argument("--epochs", type=_positive_int, default=None,
                       help=f"total epochs, resume included (default: up to {cpu.train.epochs} within the time budget)")
    train.add_argument("--time-budget", type=float, default=None,
                       help=f"seconds of training; the schedule is laid over it (default: {CLI_TIME_BUDGET:.0f} "
                            "unless --epochs is given)")
    train.add_argument("--image-size", type=_positive_int, default=cpu.data.image_size)
    train.add_argument("--channels", type=int, choices=(1, 3), default=cpu.data.channels)
    train.add_argument("--batch-size", type=_positive_int, default=cpu.data.batch_size)
    train.add_argument("--lr", type=float, default=cpu.train.lr)
    train.add_argument("--optimizer", choices=("sgd", "adamw"), default=cpu.train.optimizer)
    train.add_argument("--weight-decay", type=float, default=cpu.train.weight_decay)
    train.add_argument("--augment", action="store_true", help="random crop and flip (pays off in longer runs)")
    train.add_argument("--preset", choices=("seed", "torchvision", "paper"), default=cpu.model["preset"])
    train.add_argument("--no-stem-batchnorm", action="store_true", help="the seed preset exactly as the post")
    train.add_argument("--dropout", type=float, default=cpu.model.get("dropout"),
                       help="dropout before the classifier (default: %(default)s, as the CPU recipe; "
                            "0.4 is the post's, worth it for runs of many epochs)")
    train.add_argument("--aux-logits", action="store_true", help="train with the two auxiliary classifiers")
    train.add_argument("--limit", type=_positive_int, default=None, help="cap train and test images at N each")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
    train.add_argument("--out", default=None, help="output folder (default: runs/cli)")
    train.add_argument("--resume", default=None, help="last.pt to continue from")
    train.add_argument("--json", action="store_true", help="print one JSON object with the results")

    evaluate = sub.add_parser("evaluate", help="test accuracy of a checkpoint")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--data", default="fashion-mnist")
    evaluate.add_argument("--batch-size", type=_positive_int, default=256)
    evaluate.add_argument("--limit", type=_positive_int, default=None)
    evaluate.add_argument("--device", default=None)
    evaluate.add_argument("--json", action="store_true")

    predict = sub.add_parser("predict", help="top-k classes for image files")
    predict.add_argument("--checkpoint", required=True)
    predict.add_argument("images", nargs="+", help="image files or folders of images")
    predict.add_argument("--top-k", type=_positive_int, default=3)
    predict.add_argument("--json", action="store_true")

    summary = sub.add_parser("summary", help="print the torchsummary table of a preset")
    summary.add_argument("--preset", choices=("seed", "torchvision", "paper"), default="seed")
    summary.add_argument("--image-size", type=_positive_int, default=224)
    summary.add_argument("--num-classes", type=_positive_int, default=1000)

    bench = sub.add_parser("bench", help="throughput against torchvision and the machine's peak")
    bench.add_argument("--image-size", type=_positive_int, default=cpu.data.image_size)
    bench.add_argument("--batch-size", type=_positive_int, default=cpu.data.batch_size)
    bench.add_argument("--steps", type=_positive_int, default=8, help="timed training steps per model")
    bench.add_argument("--device", default=None, help="cpu, cuda, ... (default: best available)")
    bench.add_argument("--compile", action="store_true", help="also torch.compile our model (slow to start)")
    bench.add_argument("--json", action="store_true")
    return parser


def _distributed_setup() -> bool:
    """Join the torchrun process group when launched by torchrun; return whether we did."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    import torch
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend)
    return True


def cmd_train(args) -> dict:
    """Train as the arguments say; return the results dict."""
    import torch.distributed as dist

    from .data import load_data
    from .engine import fit, pick_device
    from .model import InceptionV1, min_input_size
    from .profiles import CLI_TIME_BUDGET, RUNS_DIR, get_profile

    distributed = _distributed_setup()
    try:
        profile = get_profile("cpu")
        device = pick_device(args.device)
        data_config = replace(profile.data, dataset=args.data, image_size=args.image_size, channels=args.channels,
                              batch_size=args.batch_size, limit=args.limit, seed=args.seed, augment=args.augment)
        min_size = min_input_size(args.preset, aux_logits=args.aux_logits)
        data = load_data(data_config, device=device, min_size=min_size, distributed=distributed)
        stem_bn = args.preset == "seed" and not args.no_stem_batchnorm
        model = InceptionV1(num_classes=len(data.classes), in_channels=data.channels, preset=args.preset,
                            aux_logits=args.aux_logits, stem_batchnorm=stem_bn, dropout=args.dropout)
        # With neither --epochs nor --time-budget, train for the CLI's default five minutes.
        budget = args.time_budget
        if budget is None and args.epochs is None:
            budget = CLI_TIME_BUDGET
        epochs = args.epochs or (30 if budget else profile.train.epochs)
        out = Path(args.out) if args.out else RUNS_DIR / "cli"
        config = replace(profile.train, epochs=epochs, time_budget=budget, lr=args.lr, optimizer=args.optimizer,
                         weight_decay=args.weight_decay, seed=args.seed, device=str(device), out_dir=str(out),
                         progress=not args.json and sys.stderr.isatty())
        # With --json, stdout carries only the result object; the per-epoch lines go to stderr.
        with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
            history = fit(model, data, config, resume=args.resume)
        last = history.last
        if last is None:
            raise DataError("training stopped before the first epoch ended; nothing to report")
        return {
            "test_acc": last.test_acc, "test_loss": last.test_loss,
            "train_acc": last.train_acc, "train_loss": last.train_loss,
            "best_test_acc": history.best_test_acc, "epochs": last.epoch, "images_seen": history.images_seen,
            "seconds": round(history.seconds, 2), "stopped": history.stopped, "classes": data.classes,
            "checkpoint": str(out / "best.pt"), "history": str(out / "history.json"),
            "world_size": dist.get_world_size() if distributed else 1,
        }
    finally:
        if distributed and dist.is_initialized():
            dist.destroy_process_group()


def cmd_evaluate(args) -> dict:
    """Evaluate a checkpoint on a dataset's test split; return the results dict."""
    import torch.nn as nn

    from .checkpoint import load_checkpoint
    from .data import DataConfig, load_data
    from .engine import pick_device, test

    device = pick_device(args.device)
    model, info = load_checkpoint(args.checkpoint, device)
    data = load_data(DataConfig(dataset=args.data, image_size=info.image_size, channels=info.channels,
                                batch_size=args.batch_size, limit=args.limit, augment=False),
                     device=device, training=False)
    if list(data.classes) != list(info.classes):
        raise CheckpointError(f"{args.checkpoint} was trained on classes {info.classes}, but {args.data} has "
                              f"{data.classes}; evaluate on the dataset it was trained on")
    acc, loss = test(data.test, model, nn.CrossEntropyLoss())
    return {"test_acc": acc, "test_loss": loss, "images": data.num_test, "checkpoint": str(args.checkpoint)}


def cmd_predict(args) -> dict:
    """Predict image files (or folders of them); return {"predictions": [...]}."""
    from .checkpoint import load_checkpoint
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


def main(argv=None) -> int:
    """Run the CLI; return the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "summary":
            from .report import torchsummary_table

            print(torchsummary_table(args.preset, args.image_size, args.num_classes))
            return 0
        if args.command == "bench":
            from .bench import run_bench

            result = run_bench(args.image_size, args.batch_size, args.steps, verbose=not args.json,
                               device=args.device, compile=args.compile)
            _print(result, args.json)
            return 0
        command = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict}[args.command]
        result = command(args)
    except (DataError, CheckpointError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT
    except TrainingDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.command != "train" or _is_rank_zero():
        _print(result, args.json)
    return 0


def _is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0
