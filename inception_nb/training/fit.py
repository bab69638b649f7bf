"""`fit`: the post's training loop grown for long runs (schedule, time budget, checkpoints, resume, Ctrl-C, torchrun).

One epoch is `_train_epoch` below, read top to bottom; it takes the same `train_step` and `Tally` as the
post's `train` in loops.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from ..config import TrainConfig, get_profile
from ..data import load_data
from ..loops import Tally, model_device, test, to_device, train_step
from ..paths import RUNS_DIR
from .checkpoint import check_resume, load_checkpoint, load_training_state, remove_orphaned_temps
from ..checks import check_fit_arguments
from .fastconv import fast_training
from .history import EpochRecord, History, StepRecord
from .runfolder import check_run_folder, describe_resume, hold_run_folder, interrupts_held, write_epoch_files
from .runtime import (
    is_main_process, precision, pick_device, prepare_model, say, sync_buffers, uses_channels_last,
    uses_matmul_convs, wrap_distributed,
)
from .schedule import Schedule, make_optimizer

__all__ = ["fit", "load_or_train"]


def _progress(iterable, enabled: bool, **kwargs):
    if not enabled or not is_main_process():
        return iterable
    from tqdm.auto import tqdm  # optional at this point: widgets in Jupyter, text in a terminal, loaded when shown

    # At most one redraw a second: each redraw of a Jupyter widget is a kernel message, and a
    # flood of them can overrun the message queue of tools that read it late (nbval does).
    # One iterator, made here: tqdm.auto makes one of its own when built and another when looped over, and each
    # DataLoader iterator draws from the loader's generator, so with a bar shown the epoch shuffled differently.
    return tqdm(iter(iterable), total=len(iterable), mininterval=1.0, **kwargs)


def _seed_epoch(loader, seed: int, epoch: int) -> None:
    # Reseeding per epoch makes shuffling, augmentation and dropout of epoch k the same whether
    # training ran straight through or resumed from a checkpoint after epoch k-1.
    torch.manual_seed(seed * 1_000_003 + epoch)
    generator = getattr(loader, "generator", None)
    if generator is not None:
        generator.manual_seed(seed * 1_000_003 + epoch)
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


def fit(model: nn.Module, data, config: TrainConfig | None = None, resume: str | Path | None = None,
        overwrite: bool = False) -> History:
    """Train `model` on `data` (a DataBundle) as `config` says (default: the cpu recipe); return the History.

    Writes best.pt, last.pt and history.json to `config.out_dir` after every epoch. A folder that already
    holds a run is refused unless `overwrite=True` or `resume=` is that folder's last.pt; a folder in use by
    another run is always refused. Ctrl-C (or Jupyter's stop button) anywhere ends training cleanly: in an
    epoch's evaluation or saving it first finishes that epoch. `resume=` takes a last.pt and continues up to
    `config.epochs` in total.
    """
    config = TrainConfig() if config is None else config
    check_fit_arguments(model, data, config, resume, overwrite)
    device = pick_device(config.device)
    out_dir = Path(config.out_dir) if config.out_dir and is_main_process() else None
    if out_dir is None:
        return _fit(model, data, config, device, resume, None)
    check_run_folder(out_dir, resume, overwrite)
    with hold_run_folder(out_dir):
        remove_orphaned_temps(out_dir)
        return _fit(model, data, config, device, resume, out_dir)


def _fit(model: nn.Module, data, config: TrainConfig, device: torch.device, resume, out_dir: Path | None) -> History:
    history = History(stopped="running")
    try:
        return _train_epochs(model, data, config, device, resume, out_dir, history)
    except KeyboardInterrupt:  # outside an epoch's training: setting up, or a second Ctrl-C in evaluation
        _stop_interrupted(history, out_dir, "before the next epoch finished")
        return history


def _stop_interrupted(history: History, out_dir: Path | None, where: str) -> None:
    history.stopped = "interrupted"
    if out_dir and (out_dir / "last.pt").exists():  # a resume into a new folder has earlier epochs but no files
        with interrupts_held("Ctrl-C: saving the history first") as held:
            held.shielded = True
            history.save(out_dir / "history.json")
    say(f"Interrupted {where}: returning the history of the {len(history.epochs)} finished epoch(s); "
        f"{describe_resume(out_dir)}")


class _Run:
    """What every epoch of one `fit` shares: the model as trained, the optimizer, the losses, the schedule."""

    def __init__(self, model: nn.Module, data, config: TrainConfig, device: torch.device, resume,
                 history: History):
        self.model, self.data, self.config = model, data, config
        self.channels_last = uses_channels_last(device, config.channels_last)
        prepare_model(model, device, self.channels_last)
        self.optimizer = make_optimizer(model, config)
        self.start_epoch, spent = 1, 0.0
        if resume is not None:
            state = load_training_state(resume, model, self.optimizer)
            check_resume(resume, state, data, config)
            # The earlier epochs carry over; how the earlier run stopped does not bind this one.
            earlier = History.from_dict(state["history"])
            self.start_epoch, spent = state["epoch"] + 1, state["spent"]
            history.epochs[:] = earlier.epochs
            # The learning curve too, but only the finished epochs': the interrupted one is trained again.
            history.steps[:] = [s for s in earlier.steps if s.epoch <= self.start_epoch - 1]
        self.train_model = wrap_distributed(model, device)
        self.amp_dtype, self.precision = precision(device, config.amp)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.eval_loss_fn = nn.CrossEntropyLoss()
        self.steps_per_epoch = max(len(data.train), 1)
        self.schedule = Schedule(config, self.steps_per_epoch, self.start_epoch, spent)
        self.record_every = max(1, self.steps_per_epoch // 20)  # about 20 points of learning curve per epoch


def _train_epoch(run: _Run, epoch: int, history: History) -> tuple[float, float, int]:
    """Train one pass over the training data, or until the time budget is spent; return (accuracy, loss, images)."""
    model, config = run.train_model, run.config
    device = model_device(model)
    model.train()
    tally = Tally(device)
    recorded = (0.0, 0.0, 0.0, 0)  # loss sum, correct, images, batches at the previous learning-curve point
    bar = _progress(run.data.train, config.progress, desc=f"epoch {epoch} train", leave=False)
    for step, (images, labels) in enumerate(bar, start=1):
        if run.schedule.out_of_time():
            break
        run.schedule.set_lr(run.optimizer)
        images, labels = to_device(images, labels, device, run.channels_last)
        logits, loss = train_step(model, images, labels, run.loss_fn, run.optimizer, autocast_dtype=run.amp_dtype,
                                  scaler=run.scaler)
        tally.add(logits, labels, loss)
        if step % config.check_every == 0:  # a host synchronisation: only every few steps
            tally.check_finite(epoch)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{tally.loss_sum.item() / tally.batches:.3f}",
                                acc=f"{(tally.correct / tally.seen).item():.1%}", refresh=False)
        if step % run.record_every == 0:  # a point of the learning curve: the means since the previous one
            now = (tally.loss_sum.item(), tally.correct.item(), tally.seen.item(), tally.batches)
            history.steps.append(StepRecord(epoch - 1 + step / run.steps_per_epoch,
                                            history.images_seen + int(now[2]),
                                            (now[0] - recorded[0]) / (now[3] - recorded[3]),
                                            (now[1] - recorded[1]) / (now[2] - recorded[2])))
            recorded = now
    tally.check_finite(epoch)
    return tally.totals()


def _train_epochs(model: nn.Module, data, config: TrainConfig, device: torch.device, resume,
                  out_dir: Path | None, history: History) -> History:
    run = _Run(model, data, config, device, resume, history)
    say(f"precision: {run.precision}")
    with fast_training(model, enabled=uses_matmul_convs(device, config.matmul_convs)):
        for epoch in range(run.start_epoch, config.epochs + 1):
            if run.schedule.out_of_time():
                history.stopped = "time budget"
                break
            _seed_epoch(data.train, config.seed, epoch)
            run.schedule.start_epoch()
            try:
                train_acc, train_loss, images = _train_epoch(run, epoch, history)
            except KeyboardInterrupt:
                _stop_interrupted(history, out_dir, f"during epoch {epoch}")
                return history
            # The epoch is trained: a first Ctrl-C from here lets it be evaluated and saved, then stops.
            with interrupts_held(f"Ctrl-C: finishing epoch {epoch}'s evaluation and checkpoint first "
                                 "(Ctrl-C again to stop now and drop this epoch)") as held:
                seconds = run.schedule.end_epoch()
                sync_buffers(model)
                # Evaluated in full precision, as the float32 checkpoint is: `evaluate` on best.pt gives this number.
                test_acc, test_loss = test(_progress(data.test, config.progress, desc="test", leave=False), model,
                                           run.eval_loss_fn, channels_last=run.channels_last)
                held.shielded = True  # one epoch's files are written all together, or not at all
                record = EpochRecord(epoch, train_acc, train_loss, test_acc, test_loss, run.schedule.lr, seconds,
                                     history.images_seen + images)
                is_best = test_acc >= history.best_test_acc
                history.append(record)
                if run.schedule.out_of_time():
                    history.stopped = "time budget"
                elif epoch == config.epochs:
                    history.stopped = "completed"
                elif held.requested:
                    history.stopped = "interrupted"
                say(f"epoch {epoch:2d}  train acc {train_acc:6.2%}  loss {train_loss:.3f}  |  "
                    f"test acc {test_acc:6.2%}  loss {test_loss:.3f}  |  lr {run.schedule.lr:.4f}  {seconds:5.1f} s")
                if out_dir:
                    write_epoch_files(out_dir, model, data, config, history, run.optimizer, epoch,
                                      run.schedule.spent, is_best, resume)
            if held.requested and history.stopped in ("running", "interrupted"):
                _stop_interrupted(history, out_dir, f"after epoch {epoch}")
                return history
            if history.stopped == "time budget":
                break
    if history.stopped == "running":  # nothing left to train: the budget was spent before this run
        history.stopped = "completed"
    return history


def load_or_train(run: str = "notebook", profile: str = "quick") -> tuple:
    """Return (model, CheckpointInfo) from runs/<run>/best.pt, training `profile` first if it is missing.

    Notebooks 03 to 05 call this so each of them passes Restart & Run All on its own: the `quick` profile is the
    `cpu` recipe on part of the data, so the stand-in has the input size, loss and outputs of notebook 02's model.
    """
    path = RUNS_DIR / run / "best.pt"
    device = pick_device()
    if not path.exists():
        print(f"{path} not found: training the stand-in now, the '{profile}' profile "
              f"({get_profile(profile).description}); run 02_training.ipynb for the real model")
        chosen = get_profile(profile)
        data = load_data(chosen.data, device=device)
        model = chosen.model.build(len(data.classes), data.channels)
        fit(model, data, replace(chosen.train, out_dir=str(RUNS_DIR / run), progress=False))
    return load_checkpoint(path, device)
