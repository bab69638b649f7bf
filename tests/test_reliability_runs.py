"""Issue 13: nothing a user trained is lost; Ctrl-C anywhere ends cleanly; resume and seeds repeat a run exactly.

Classes (issue 13's headings): data loss, interrupts and resume, reproducibility. Each test says whether it is a
case the issue names ("issue") or one added to the class ("added").
"""

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from reliability_support import ROOT, TINY, clean_error, cli, cli_env, interrupt_after, listing, result_json, start_cli

from inception_nb.training.checkpoint import load_checkpoint
from inception_nb.data import DataConfig, load_data
from inception_nb.config import TrainConfig
from inception_nb.training.fit import fit
from inception_nb.model import InceptionV1

RUN_FILES = {"best.pt", "last.pt", "history.json"}


@pytest.fixture(scope="module")
def tiny_data():
    return load_data(DataConfig(image_size=28, channels=1, batch_size=32, limit=128, seed=0, augment=False))


def tiny_model(seed: int = 0) -> InceptionV1:
    torch.manual_seed(seed)
    return InceptionV1(num_classes=10, in_channels=1, preset="seed", stem_batchnorm=True)


def tiny_config(out, **overrides) -> TrainConfig:
    base = TrainConfig(epochs=1, lr=3e-3, optimizer="adamw", out_dir=str(out), progress=False, device="cpu")
    return replace(base, **overrides)


def weights(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def fit_no_escape(*args, **kwargs):
    """fit, failing the test (not the whole pytest session) if a KeyboardInterrupt escapes it."""
    try:
        return fit(*args, **kwargs)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped fit")


def history_file(out) -> dict:
    return json.loads((Path(out) / "history.json").read_text())


# ----------------------------------------------------------------------------- data loss

def test_issue_second_train_into_a_finished_run_is_refused_and_the_run_kept(tmp_path):
    out = tmp_path / "run"
    result_json(cli("train", *TINY, "--epochs", "1", "--out", out, "--json"))
    before = listing(out)
    clean_error(cli("train", *TINY, "--epochs", "1", "--out", out), "--resume", "--overwrite", str(out))
    assert listing(out) == before, "a refused run must leave the earlier run's files untouched"


def test_issue_overwrite_replaces_a_run_when_asked(tmp_path):
    out = tmp_path / "run"
    result_json(cli("train", *TINY, "--epochs", "1", "--out", out, "--json"))
    old = weights(out / "last.pt")
    result = result_json(cli("train", *TINY, "--epochs", "1", "--seed", "5", "--out", out, "--overwrite", "--json"))
    assert result["epochs"] == 1 and not same_weights(old, weights(out / "last.pt"))


def test_added_default_out_folder_is_protected_too(tmp_path):
    # The common case of the issue: no --out at all, so every run goes to runs/cli.
    env = cli_env(INCEPTION_NB_RUNS=str(tmp_path))
    result_json(cli("train", *TINY, "--epochs", "1", "--json", env=env))
    before = listing(tmp_path / "cli")
    clean_error(cli("train", *TINY, "--epochs", "1", env=env), "--resume", "--overwrite", "cli")
    assert listing(tmp_path / "cli") == before


def test_added_library_fit_refuses_a_finished_run_unless_overwrite(tiny_data, tmp_path):
    fit(tiny_model(), tiny_data, tiny_config(tmp_path))
    before = listing(tmp_path)
    with pytest.raises(ValueError, match=r"overwrite=True.*|.*resume="):
        fit(tiny_model(), tiny_data, tiny_config(tmp_path))
    assert listing(tmp_path) == before
    history = fit(tiny_model(1), tiny_data, tiny_config(tmp_path), overwrite=True)
    assert history.stopped == "completed" and set(listing(tmp_path)) == RUN_FILES


def test_added_resume_into_another_finished_run_is_refused(tiny_data, tmp_path):
    fit(tiny_model(), tiny_data, tiny_config(tmp_path / "a"))
    fit(tiny_model(), tiny_data, tiny_config(tmp_path / "b"))
    before = listing(tmp_path / "b")
    with pytest.raises(ValueError, match="overwrite"):
        fit(tiny_model(), tiny_data, tiny_config(tmp_path / "b", epochs=2), resume=tmp_path / "a" / "last.pt")
    assert listing(tmp_path / "b") == before


@pytest.mark.slow
def test_issue_a_second_run_into_a_folder_in_use_is_refused_even_with_overwrite(tiny_data, tmp_path):
    out = tmp_path / "run"
    first = start_cli("train", "--limit", "512", "--batch-size", "32", "--image-size", "28", "--device", "cpu",
                      "--epochs", "30", "--out", out)
    try:
        deadline = time.monotonic() + 180
        while not (out / "history.json").exists():  # the first run holds the folder and has written epoch 1
            assert first.poll() is None and time.monotonic() < deadline, "the first run ended early"
            time.sleep(0.2)
        clean_error(cli("train", *TINY, "--epochs", "1", "--out", out, "--overwrite"), "another run", str(out))
        with pytest.raises(ValueError, match="another run"):  # the library refuses too
            fit(tiny_model(), tiny_data, tiny_config(out), overwrite=True)
    finally:
        first.send_signal(signal.SIGINT)
        _, first_stderr = first.communicate(timeout=180)
    assert "Traceback" not in first_stderr, first_stderr[-3000:]
    # The first run's files are its own, complete and consistent.
    epochs = [e["epoch"] for e in history_file(out)["epochs"]]
    assert epochs == list(range(1, len(epochs) + 1)) and load_checkpoint(out / "last.pt")[1].epoch == epochs[-1]
    # The hold ends with the run: resuming now is accepted.
    assert cli("train", "--limit", "512", "--batch-size", "32", "--image-size", "28", "--device", "cpu",
               "--epochs", str(epochs[-1] + 1), "--resume", out / "last.pt", "--out", out).returncode == 0


def test_issue_make_clean_keeps_runs(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for folder in ("runs/long", "out/notebooks"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "file").write_text("x")
    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True)
    assert (tmp_path / "runs" / "long" / "file").exists(), "make clean deleted runs/, where users keep models"
    assert not (tmp_path / "out").exists(), "make clean should still remove what the project rebuilds (out/)"


def test_issue_history_temp_names_are_unique_and_orphans_are_removed(tiny_data, tmp_path):
    fit(tiny_model(), tiny_data, tiny_config(tmp_path))
    # What an earlier crash leaves: the old fixed name, a checkpoint writer's temp file, and a folder that a
    # fixed temporary name would collide with.
    (tmp_path / "history.json.tmp").write_text("{")
    (tmp_path / "last.pt.4242-deadbeef.tmp").write_bytes(b"half")
    (tmp_path / "history.json.4242-cafe.tmp").write_text("{")
    history = fit(tiny_model(), tiny_data, tiny_config(tmp_path, epochs=2), resume=tmp_path / "last.pt")
    assert [r.epoch for r in history.epochs] == [1, 2]
    assert not [p.name for p in tmp_path.glob("*.tmp")], "orphaned temporary files were left behind"
    (tmp_path / "history.json.tmp").mkdir()  # a fixed temporary name cannot be written now; unique ones can
    fit(tiny_model(), tiny_data, tiny_config(tmp_path, epochs=3), resume=tmp_path / "last.pt")
    assert [e["epoch"] for e in history_file(tmp_path)["epochs"]] == [1, 2, 3]


def test_issue_run_files_get_an_ordinary_file_mode(tiny_data, tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    fit(tiny_model(), tiny_data, tiny_config(tmp_path))
    for name in RUN_FILES:
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_added_a_refused_or_failed_run_leaves_no_trace(tiny_data, tmp_path):
    fit(tiny_model(), tiny_data, tiny_config(tmp_path))
    before = listing(tmp_path)
    with pytest.raises(ValueError):
        fit(tiny_model(), tiny_data, tiny_config(tmp_path))
    with pytest.raises(ValueError):  # refused after taking the folder: the hold must be released
        fit(tiny_model(), tiny_data, tiny_config(tmp_path, lr=float("nan")), overwrite=True)
    assert listing(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == sorted(RUN_FILES)


# ----------------------------------------------------------------------------- interrupts and resume

class _SigintLoader:
    """Yields the real batches and sends a real SIGINT to this process once, in pass `on_pass`."""

    def __init__(self, loader, on_pass: int):
        self.loader, self.on_pass, self.passes = loader, on_pass, 0
        self.batch_size, self.generator, self.sampler = loader.batch_size, loader.generator, loader.sampler
        self.dataset = loader.dataset

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        self.passes += 1
        for i, batch in enumerate(self.loader):
            if self.passes == self.on_pass and i == 0:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # let the handler run here, mid-pass
            yield batch


def _consistent(out) -> tuple:
    """Assert last.pt, best.pt and history.json agree; return (epochs in history.json, stopped)."""
    saved = history_file(out)
    epochs = [e["epoch"] for e in saved["epochs"]]
    _, last = load_checkpoint(out / "last.pt")
    _, best = load_checkpoint(out / "best.pt")
    assert last.epoch == epochs[-1] and best.epoch in epochs
    assert [e["epoch"] for e in last.history["epochs"]] == epochs
    return epochs, saved["stopped"]


def test_issue_ctrl_c_during_evaluation_keeps_the_epoch_and_stops_cleanly(tiny_data, tmp_path):
    data = replace(tiny_data, test=_SigintLoader(tiny_data.test, on_pass=2))  # evaluation after epoch 2
    history = fit_no_escape(tiny_model(), data, tiny_config(tmp_path, epochs=4))
    assert history.stopped == "interrupted"
    assert [r.epoch for r in history.epochs] == [1, 2], "the epoch trained before Ctrl-C was dropped"
    assert _consistent(tmp_path) == ([1, 2], "interrupted")


def test_issue_ctrl_c_while_a_checkpoint_is_written_keeps_files_consistent(tiny_data, tmp_path, monkeypatch):
    real_save, calls = torch.save, []

    def save_then_interrupt(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # epoch 2's last.pt (epoch 1 wrote last.pt and best.pt)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_then_interrupt)
    history = fit_no_escape(tiny_model(), tiny_data, tiny_config(tmp_path, epochs=4))
    monkeypatch.setattr(torch, "save", real_save)
    assert history.stopped == "interrupted" and [r.epoch for r in history.epochs] == [1, 2]
    assert _consistent(tmp_path) == ([1, 2], "interrupted")


def test_issue_interrupted_history_file_says_interrupted(tiny_data, tmp_path):
    data = replace(tiny_data, train=_SigintLoader(tiny_data.train, on_pass=2))  # during epoch 2's training
    history = fit_no_escape(tiny_model(), data, tiny_config(tmp_path, epochs=3))
    assert [r.epoch for r in history.epochs] == [1]
    assert _consistent(tmp_path) == ([1], "interrupted")


def test_added_history_file_says_completed_or_time_budget_when_it_was(tiny_data, tmp_path):
    fit(tiny_model(), tiny_data, tiny_config(tmp_path / "a", epochs=1))
    assert history_file(tmp_path / "a")["stopped"] == "completed"
    fit(tiny_model(), tiny_data, tiny_config(tmp_path / "b", epochs=5, time_budget=1e-3))
    assert history_file(tmp_path / "b")["stopped"] == "time budget"


def test_issue_resume_after_a_time_budget_continues_to_the_new_total(tiny_data, tmp_path):
    first = fit(tiny_model(), tiny_data, tiny_config(tmp_path, epochs=3, time_budget=1e-3))
    assert first.stopped == "time budget" and len(first.epochs) == 1
    resumed = fit(tiny_model(), tiny_data, tiny_config(tmp_path, epochs=3, time_budget=None),
                  resume=tmp_path / "last.pt")
    assert [r.epoch for r in resumed.epochs] == [1, 2, 3] and resumed.stopped == "completed"
    assert _consistent(tmp_path) == ([1, 2, 3], "completed")


def test_issue_resume_after_a_time_budget_through_the_cli(tmp_path):
    out = tmp_path / "run"
    first = result_json(cli("train", *TINY, "--epochs", "3", "--time-budget", "0.001", "--out", out, "--json"))
    assert first["stopped"] == "time budget" and first["epochs"] == 1
    again = result_json(cli("train", *TINY, "--epochs", "3", "--resume", out / "last.pt", "--out", out, "--json"))
    assert again["epochs"] == 3 and again["stopped"] == "completed"


def _folder_dataset(root: Path, classes) -> Path:
    from PIL import Image

    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(8):
            Image.new("L", (28, 28), 30 * k + 5 * i).save(root / name / f"{i}.png")
    return root


def _folder_data(root, **overrides):
    config = DataConfig(dataset=str(root), image_size=28, channels=1, batch_size=4, augment=False, val_fraction=0.25)
    return load_data(replace(config, **overrides))


def test_issue_resume_on_another_dataset_with_as_many_classes_is_refused(tmp_path):
    pets = _folder_data(_folder_dataset(tmp_path / "pets", ["cat", "dog"]))
    bugs = _folder_data(_folder_dataset(tmp_path / "bugs", ["ant", "bee"]))
    fit(InceptionV1(num_classes=2, in_channels=1, stem_batchnorm=True), pets, tiny_config(tmp_path / "run"))
    with pytest.raises(ValueError, match="cat"):
        fit(InceptionV1(num_classes=2, in_channels=1, stem_batchnorm=True), bugs,
            tiny_config(tmp_path / "run", epochs=2), resume=tmp_path / "run" / "last.pt")
    done = cli("train", "--data", tmp_path / "bugs", "--batch-size", "4", "--image-size", "28", "--device", "cpu",
               "--epochs", "2", "--resume", tmp_path / "run" / "last.pt", "--out", tmp_path / "run")
    clean_error(done, "cat", "ant")
    assert [e["epoch"] for e in history_file(tmp_path / "run")["epochs"]] == [1]


def test_added_resume_at_another_image_size_is_refused(tiny_data, tmp_path):
    fit(tiny_model(), tiny_data, tiny_config(tmp_path))
    bigger = load_data(DataConfig(image_size=32, channels=1, batch_size=32, limit=128, augment=False))
    with pytest.raises(ValueError, match="image_size"):
        fit(tiny_model(), bigger, tiny_config(tmp_path, epochs=2), resume=tmp_path / "last.pt")
    done = cli("train", *TINY[:4], "--image-size", "32", "--device", "cpu", "--epochs", "2",
               "--resume", tmp_path / "last.pt", "--out", tmp_path)
    clean_error(done, "--image-size", "28")


def test_added_resume_with_another_optimizer_is_refused(tiny_data, tmp_path):
    fit(tiny_model(), tiny_data, tiny_config(tmp_path))
    with pytest.raises(ValueError, match="optimizer"):
        fit(tiny_model(), tiny_data, tiny_config(tmp_path, epochs=2, optimizer="sgd", lr=0.05),
            resume=tmp_path / "last.pt")
    clean_error(cli("train", *TINY, "--epochs", "2", "--optimizer", "sgd", "--resume", tmp_path / "last.pt",
                    "--out", tmp_path), "--optimizer", "adamw")


def test_added_resume_with_no_epochs_left_is_refused(tiny_data, tmp_path):
    fit(tiny_model(), tiny_data, tiny_config(tmp_path, epochs=2))
    before = listing(tmp_path)
    with pytest.raises(ValueError, match="TrainConfig.epochs"):
        fit(tiny_model(), tiny_data, tiny_config(tmp_path, epochs=2), resume=tmp_path / "last.pt")
    clean_error(cli("train", *TINY, "--epochs", "1", "--resume", tmp_path / "last.pt", "--out", tmp_path),
                "--epochs", "2")
    assert listing(tmp_path) == before


def test_added_resume_honours_a_new_weight_decay(tiny_data, tmp_path):
    fit(tiny_model(), tiny_data, tiny_config(tmp_path, weight_decay=0.05))
    fit(tiny_model(), tiny_data, tiny_config(tmp_path, epochs=2, weight_decay=0.0), resume=tmp_path / "last.pt")
    groups = torch.load(tmp_path / "last.pt", weights_only=True)["optimizer"]["param_groups"]
    assert [g["weight_decay"] for g in groups] == [0.0, 0.0]


def test_added_resume_without_repeating_the_model_options_uses_the_checkpoints(tmp_path):
    # The README's own example: --resume with --epochs and --out only; size and channels come from last.pt.
    out = tmp_path / "run"
    result_json(cli("train", "--limit", "128", "--batch-size", "32", "--image-size", "32", "--channels", "3",
                    "--device", "cpu", "--epochs", "1", "--out", out, "--json"))
    again = result_json(cli("train", "--limit", "128", "--batch-size", "32", "--device", "cpu", "--epochs", "2",
                            "--resume", out / "last.pt", "--out", out, "--json"))
    assert again["epochs"] == 2
    _, info = load_checkpoint(out / "last.pt")
    assert (info.image_size, info.channels) == (32, 3)


def test_added_resume_from_best_pt_is_refused_with_advice(tiny_data, tmp_path):
    fit(tiny_model(), tiny_data, tiny_config(tmp_path))
    clean_error(cli("train", *TINY, "--epochs", "2", "--resume", tmp_path / "best.pt", "--out", tmp_path),
                "last.pt")


def test_added_ctrl_c_before_the_first_epoch_ends_leaves_nothing(tmp_path):
    out = tmp_path / "run"
    run = start_cli("train", "--limit", "4096", "--batch-size", "32", "--image-size", "28", "--device", "cpu",
                    "--epochs", "1", "--out", out)
    deadline = time.monotonic() + 120
    while not out.exists():  # the run has started training (it takes the folder just before)
        assert run.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1.0)
    run.send_signal(signal.SIGINT)
    stdout, stderr = run.communicate(timeout=120)
    assert "Traceback" not in stderr, stderr[-3000:]
    assert run.returncode == 130 and "interrupted" in (stdout + stderr).lower()
    assert not [p for p in out.iterdir() if not p.name.startswith(".")] if out.exists() else True
    # Nothing finished, so nothing to protect: the same command runs again without --overwrite.
    assert not (out / "history.json").exists()


@pytest.mark.slow
def test_added_ctrl_c_to_the_whole_process_group_with_loader_workers(tmp_path):
    # A terminal sends Ctrl-C to every process of the group: the DataLoader workers must not die of it
    # while the main process finishes the epoch's evaluation and checkpoint.
    out = tmp_path / "run"
    run = start_cli("train", *TINY, "--num-workers", "1", "--epochs", "3", "--out", out, own_group=True)
    for line in run.stdout:
        if "epoch  1" in line:
            os.killpg(run.pid, signal.SIGINT)  # epoch 1's files are being written now
            break
    _, stderr = run.communicate(timeout=240)
    assert "Traceback" not in stderr and run.returncode == 130, stderr[-3000:]
    epochs, stopped = _consistent(out)
    assert stopped == "interrupted" and epochs in ([1], [1, 2])


def test_added_ctrl_c_while_starting_up_prints_no_traceback(tmp_path):
    run = start_cli("train", *TINY, "--epochs", "1", "--out", tmp_path / "run")
    time.sleep(0.5)  # importing torch: long before training
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=120)
    assert "Traceback" not in stderr, stderr[-3000:]
    assert run.returncode in (130, -signal.SIGINT)


# ----------------------------------------------------------------------------- reproducibility

def test_issue_same_seed_twice_through_the_cli_gives_the_same_model(tmp_path):
    runs = [result_json(cli("train", *TINY, "--epochs", "1", "--seed", "3", "--out", tmp_path / name, "--json"))
            for name in ("a", "b")]
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert runs[0][key] == runs[1][key], key
    assert same_weights(weights(tmp_path / "a" / "best.pt"), weights(tmp_path / "b" / "best.pt"))


def test_added_another_seed_through_the_cli_gives_another_model(tmp_path):
    a = result_json(cli("train", *TINY, "--epochs", "1", "--seed", "3", "--out", tmp_path / "a", "--json"))
    b = result_json(cli("train", *TINY, "--epochs", "1", "--seed", "4", "--out", tmp_path / "b", "--json"))
    assert a["train_loss"] != b["train_loss"]
    assert not same_weights(weights(tmp_path / "a" / "best.pt"), weights(tmp_path / "b" / "best.pt"))


def test_issue_same_seed_twice_through_fit_gives_the_same_numbers(tiny_data, tmp_path):
    histories = [fit(tiny_model(3), tiny_data, tiny_config(tmp_path / name, epochs=2, seed=3)) for name in "ab"]
    assert [r.test_loss for r in histories[0].epochs] == [r.test_loss for r in histories[1].epochs]
    assert [r.train_loss for r in histories[0].epochs] == [r.train_loss for r in histories[1].epochs]
    assert same_weights(weights(tmp_path / "a" / "last.pt"), weights(tmp_path / "b" / "last.pt"))


def test_added_train_config_seed_reaches_the_shuffling(tiny_data, tmp_path):
    a = fit(tiny_model(3), tiny_data, tiny_config(tmp_path / "a", seed=3))
    b = fit(tiny_model(3), tiny_data, tiny_config(tmp_path / "b", seed=4))
    assert a.epochs[0].train_loss != b.epochs[0].train_loss


@pytest.mark.slow
def test_issue_two_epochs_straight_equal_ctrl_c_in_epoch_2_then_resume(tmp_path):
    args = ["--limit", "1024", "--batch-size", "32", "--image-size", "28", "--device", "cpu", "--seed", "3",
            "--epochs", "2"]
    straight = result_json(cli("train", *args, "--out", tmp_path / "straight", "--json", timeout=300))
    run = start_cli("train", *args, "--out", tmp_path / "cut")
    interrupt_after(run, "epoch  1", delay=0.5)
    _, stderr = run.communicate(timeout=240)
    assert "Traceback" not in stderr and run.returncode == 130, stderr[-3000:]
    saved = history_file(tmp_path / "cut")
    assert saved["stopped"] == "interrupted" and [e["epoch"] for e in saved["epochs"]] == [1]
    resumed = result_json(cli("train", *args, "--resume", tmp_path / "cut" / "last.pt", "--out", tmp_path / "cut",
                              "--json", timeout=300))
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "images_seen", "epochs"):
        assert resumed[key] == straight[key], key
    assert same_weights(weights(tmp_path / "straight" / "last.pt"), weights(tmp_path / "cut" / "last.pt"))
