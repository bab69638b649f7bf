"""The seed post's loops, fit, checkpoints and resume, on a small slice of Fashion-MNIST."""

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from inception_nb.training.checkpoint import CheckpointError, atomic_save, load_checkpoint
from inception_nb.config import TrainConfig
from inception_nb.loops import TrainingDiverged, train
from inception_nb.training.fit import fit
from inception_nb.training import runtime, schedule
from inception_nb.training.schedule import lr_at
from inception_nb.loops import test as evaluate
from inception_nb.training.history import History
from inception_nb.model import InceptionV1
from inception_nb.paths import REPO_ROOT as ROOT


def small_model(seed: int = 0) -> InceptionV1:
    torch.manual_seed(seed)
    return InceptionV1(num_classes=10, in_channels=1, preset="seed", stem_batchnorm=True)


def config(tmp_path, **overrides) -> TrainConfig:
    # SGD: these tests were written for its lr 0.05; they check bookkeeping, not the recipe
    base = TrainConfig(epochs=2, optimizer="sgd", lr=0.05, weight_decay=5e-4, out_dir=str(tmp_path / "run"),
                       progress=False, device="cpu")
    return replace(base, **overrides)


@pytest.fixture(scope="module")
def finished_run(small_data, tmp_path_factory):
    """One two-epoch run of fit, trained once for every test that only reads it: (model, history, folder)."""
    folder = tmp_path_factory.mktemp("finished")
    model = small_model()
    history = fit(model, small_data, config(folder))
    return model, history, folder / "run"


def state_equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.slow  # trains a model
def test_post_train_and_test_loops_return_accuracy_and_mean_loss(small_data):
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    first_loss = None
    for _ in range(3):
        acc, loss = train(small_data.train, model, loss_fn, optimizer)
        first_loss = loss if first_loss is None else first_loss
        assert 0.0 <= acc <= 1.0 and loss > 0
    assert loss < first_loss, "three passes over the same images should lower the training loss"
    test_acc, test_loss = evaluate(small_data.test, model, loss_fn)
    assert 0.0 <= test_acc <= 1.0 and test_loss > 0
    # test() must not train: weights are unchanged by evaluation
    before = {k: v.clone() for k, v in model.state_dict().items()}
    evaluate(small_data.test, model, loss_fn)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.slow  # trains a model
def test_fit_records_history_and_writes_checkpoints(finished_run):
    _, history, run = finished_run
    assert [r.epoch for r in history.epochs] == [1, 2]
    assert history.stopped == "completed"
    assert history.images_seen == 2 * (256 // 64) * 64, "training drops only the last partial batch"
    for record in history.epochs:
        assert 0 <= record.test_acc <= 1 and record.seconds > 0 and record.lr > 0
    assert {p.name for p in run.iterdir()} == {"best.pt", "last.pt", "history.json"}
    saved = History.load(run / "history.json")
    assert saved.column("test_acc") == history.column("test_acc")
    assert "epoch" in history.table() and len(history.table().splitlines()) == 3


class FakeClock:
    """A clock that moves `tick` seconds each time it is read, whatever the machine's load."""

    def __init__(self, tick: float):
        self.now, self.tick = 0.0, tick

    def perf_counter(self) -> float:
        self.now += self.tick
        return self.now


def test_time_budget_stops_at_the_first_step_past_it_and_lays_the_schedule_over_it(small_data, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.setattr(schedule, "time", FakeClock(tick=0.25))  # two reads per step: half a second a step
    history = fit(small_model(), small_data, config(tmp_path, epochs=50, time_budget=1.0))
    assert history.stopped == "time budget"
    assert len(history.epochs) == 1 and history.images_seen == 2 * 64, "two steps fit in the budget"
    assert history.seconds == pytest.approx(1.5)  # the budget, and the reads until the loop saw it spent
    assert history.epochs[0].lr == pytest.approx(0.0, abs=1e-12), "the schedule ends when the time does"


def test_onecycle_warms_up_to_the_peak_then_falls_to_zero():
    cfg = TrainConfig(lr=0.1, warmup=0.2)
    assert lr_at(0.0, cfg) == pytest.approx(0.01)
    assert lr_at(0.2, cfg) == pytest.approx(0.1)
    assert lr_at(1.0, cfg) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.slow  # trains a model
def test_load_checkpoint_rebuilds_model_and_preprocessing(small_data, finished_run):
    model, _, run = finished_run
    loaded, info = load_checkpoint(run / "last.pt")
    assert info.classes == small_data.classes and info.channels == 1 and info.image_size == 32
    assert info.mean == tuple(small_data.mean) and info.preset == "seed"
    assert state_equal(model.cpu(), loaded)
    x = torch.randn(4, 1, 32, 32)
    # The trained model sits in channels-last memory, the loaded one in the default layout: the same weights, but
    # the convolutions sum in another order, so float32 rounding differs (measured up to 3e-7 on logits near 0.1).
    assert torch.allclose(model.eval()(x), loaded(x), atol=1e-6)


def test_atomic_write_keeps_previous_checkpoint_when_save_fails(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    atomic_save({"value": torch.tensor([1.0])}, path)

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")  # atomic_save hands torch.save an open file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        atomic_save({"value": torch.tensor([2.0])}, path)
    assert torch.load(path, weights_only=True)["value"].item() == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"], "no temporary file may be left behind"


@pytest.mark.slow  # trains a model
def test_bad_checkpoints_get_clear_errors(finished_run, tmp_path):
    garbage = tmp_path / "notes.pt"
    garbage.write_text("this is not a checkpoint")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_checkpoint(garbage)
    plain = tmp_path / "weights.pt"
    torch.save(small_model().state_dict(), plain)
    with pytest.raises(CheckpointError, match="not an inception-nb checkpoint"):
        load_checkpoint(plain)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    state = torch.load(finished_run[2] / "last.pt", weights_only=True)
    state["model_config"] = dict(state["model_config"], stem_batchnorm=False)
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="another architecture"):
        load_checkpoint(tmp_path / "other.pt")


@pytest.mark.slow  # trains a model
@pytest.mark.parametrize("how", ["interrupted after epoch 1", "epochs=1 then --epochs 2"])
def test_resume_gives_the_same_result_as_training_straight(small_data, finished_run, tmp_path, how):
    # A one-epoch run has its own complete schedule; only a constant one makes it a prefix of two.
    schedule = "onecycle" if how.startswith("interrupted") else "constant"
    if schedule == "onecycle":  # the finished run is this straight run (two epochs, onecycle)
        straight, h_straight, _ = finished_run
    else:
        straight = small_model()
        h_straight = fit(straight, small_data, config(tmp_path / "a", epochs=2, schedule=schedule))
    if how.startswith("interrupted"):
        data = replace(small_data, train=_InterruptingLoader(small_data.train, at_batch=0))
        assert fit(small_model(), data, config(tmp_path / "b", epochs=2)).stopped == "interrupted"
    else:
        fit(small_model(), small_data, config(tmp_path / "b", epochs=1, schedule=schedule))
    resumed = small_model(seed=123)  # different init: everything must come from the checkpoint
    h_resumed = fit(resumed, small_data, config(tmp_path / "b", epochs=2, schedule=schedule),
                    resume=tmp_path / "b" / "run" / "last.pt")
    assert [r.epoch for r in h_resumed.epochs] == [1, 2]
    for key in ("train_acc", "train_loss", "test_acc", "test_loss", "lr"):
        assert getattr(h_resumed.epochs[-1], key) == pytest.approx(getattr(h_straight.epochs[-1], key), abs=1e-6)
    assert state_equal(straight, resumed)


@pytest.mark.slow  # trains a model
def test_a_progress_bar_does_not_change_the_run(small_data, finished_run, tmp_path):
    # tqdm.auto used to build a DataLoader iterator of its own, one more draw from the loader's generator, so the
    # same seed shuffled differently with the bar shown (notebook 02, a terminal) than without (a pipe, the tests).
    straight, h_plain, _ = finished_run  # progress=False
    shown = small_model()
    h_shown = fit(shown, small_data, config(tmp_path, progress=True))
    assert [s.train_loss for s in h_shown.steps] == [s.train_loss for s in h_plain.steps]
    assert h_shown.epochs[-1].test_acc == h_plain.epochs[-1].test_acc
    assert state_equal(shown, straight)


def test_non_finite_loss_stops_with_epoch_step_and_advice(small_data, tmp_path):
    model = small_model()
    with torch.no_grad():
        model.classifier.weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 1;.*lower the learning rate"):
        fit(model, small_data, config(tmp_path))


class _InterruptingLoader:
    """Yields the real batches, then raises KeyboardInterrupt in the second epoch, as Ctrl-C would."""

    def __init__(self, loader, at_batch: int = 1):
        self.loader, self.epochs, self.at_batch = loader, 0, at_batch
        self.batch_size, self.generator, self.sampler = loader.batch_size, loader.generator, loader.sampler

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        self.epochs += 1
        for i, batch in enumerate(self.loader):
            if self.epochs == 2 and i == self.at_batch:
                raise KeyboardInterrupt
            yield batch


@pytest.mark.slow  # trains a model
def test_interrupt_returns_history_and_keeps_last_checkpoint(small_data, tmp_path):
    data = replace(small_data, train=_InterruptingLoader(small_data.train))
    history = fit(small_model(), data, config(tmp_path, epochs=3))
    assert history.stopped == "interrupted"
    assert [r.epoch for r in history.epochs] == [1]
    _, info = load_checkpoint(tmp_path / "run" / "last.pt")
    assert info.epoch == 1


@pytest.mark.process
@pytest.mark.slow
def test_torchrun_two_cpu_ranks_end_with_identical_weights_and_one_set_of_files(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    out = tmp_path / "ddp"
    cmd = [str(torchrun), "--nproc_per_node=2", "--master_port=29531", str(ROOT / "tests" / "ddp_worker.py"),
           str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    digests = [(out / f"rank{r}.sha").read_text() for r in (0, 1)]
    assert digests[0] == digests[1], "DDP ranks diverged"
    run_files = sorted(p.name for p in (out / "run").iterdir())
    assert run_files == ["best.pt", "history.json", "last.pt"]
    result_lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(result_lines) == 1, "only rank 0 may print results"
    assert json.loads(result_lines[0])["world_size"] == 2


def test_fit_learning_curve_points_are_means_since_the_previous_point():
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    data = SimpleNamespace(train=loader, test=loader)
    history = fit(nn.Linear(4, 2), data, TrainConfig(epochs=1, out_dir=None, progress=False, device="cpu",
                                                     channels_last=False))
    steps, epoch = history.steps, history.epochs[0]
    assert [s.images_seen for s in steps] == [16, 32, 48, 64]  # 4 steps: a point after each
    assert sum(s.train_loss for s in steps) / 4 == pytest.approx(epoch.train_loss)  # equal chunks average out
    assert sum(s.train_acc for s in steps) / 4 == pytest.approx(epoch.train_acc)


@pytest.mark.slow  # trains a model
def test_fit_records_a_learning_curve_inside_each_epoch(small_data, finished_run):
    _, history, run = finished_run
    steps = history.steps
    assert len(steps) == 2 * len(small_data.train)  # 4 steps per epoch: one record each
    assert [s.epoch for s in steps] == sorted(s.epoch for s in steps) and steps[-1].epoch == pytest.approx(2.0)
    assert steps[-1].images_seen == history.images_seen
    assert all(s.train_loss > 0 and 0 <= s.train_acc <= 1 for s in steps)
    assert History.load(run / "history.json").steps == steps


def test_precision_is_bfloat16_only_where_the_cpu_computes_it_and_amp_allows_it(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    assert runtime.precision(cpu) == (torch.bfloat16, "bfloat16 autocast (this CPU has AMX or AVX512_BF16)")
    assert runtime.precision(cpu, enabled=False)[0] is None
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    dtype, why = runtime.precision(cpu)
    assert dtype is None and why == "float32 (no native bfloat16 on this CPU)"


def test_a_bfloat16_run_learns_and_saves_float32_weights_that_load_anywhere(small_data, tmp_path, monkeypatch, capsys):
    fit_module = sys.modules[fit.__module__]  # the module, which the package's `fit` function name shadows
    monkeypatch.setattr(fit_module, "precision", lambda device, enabled: (torch.bfloat16, "bfloat16 (forced here)"))
    history = fit(small_model(), small_data, config(tmp_path, epochs=1))
    assert "precision: bfloat16 (forced here)" in capsys.readouterr().out
    before = small_model().state_dict()
    assert all(map(math.isfinite, (history.epochs[0].train_loss, history.epochs[0].test_loss)))
    weights = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["state_dict"]
    assert {tensor.dtype for tensor in weights.values() if tensor.is_floating_point()} == {torch.float32}
    assert any(not torch.equal(weights[name], before[name]) for name in before), "the weights moved"
    model, _ = load_checkpoint(tmp_path / "run" / "best.pt")
    assert all(p.dtype == torch.float32 for p in model.parameters())
