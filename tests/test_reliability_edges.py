"""Issue 25: the edges. Resume keeps every setting, no file of the user's is touched, disk full and odd paths end in
one clean message, the library names the argument it refuses, and a killed run is recognised afterwards.

Classes (issue 25's headings): data lost, wrong results, tracebacks, messages that do not name the fix, loose ends.
Each test says whether it is a case the issue names ("issue") or one added to the class ("added"). Almost all run
the command line in this process (`inception_nb.cli.main`) or the public API on tiny data; the few that need a
process of their own (a signal, a closed pipe) are marked `process`.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from reliability_support import cli_env

from inception_nb import DataConfig, InceptionV1, ModelConfig, TrainConfig, fit, load_checkpoint, load_data
from inception_nb.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

# The cheapest run that trains: 32 images per split in batches of 16 at the seed model's native 28 px.
TINY = ["--limit", "32", "--batch-size", "16", "--image-size", "28", "--device", "cpu"]
LONG_NAME = "n" * 300  # longer than any file system's 255-byte limit on one name
RUN_FILES = {"best.pt", "last.pt", "history.json"}


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def json(self) -> dict:
        assert self.code == 0, self.err[-3000:]
        return json.loads([line for line in self.out.splitlines() if line.startswith("{")][-1])


def run(capsys, *argv) -> Ran:
    """Run the command line in this process as `python -m inception_nb ARGV` would; a traceback fails the test."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def clean_error(ran: Ran, *words: str, code: int = 2) -> str:
    """Assert one `error:` line, last, holding every word (case-insensitive); return it."""
    lines = [line for line in ran.err.splitlines() if line.strip()]
    assert "Traceback" not in ran.err and "Traceback" not in ran.out, ran.err[-3000:]
    assert ran.code == code, (ran.code, ran.err[-2000:])
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], lines
    for word in words:
        assert word.lower() in errors[0].lower(), (word, errors[0])
    print(errors[0])  # shown by `pytest -rP`: the message each case gets, for the issue's closing note
    return errors[0]


def train(capsys, out, *extra) -> dict:
    """Train the tiny run into `out` (one epoch unless `extra` says otherwise); return its JSON result."""
    return run(capsys, "train", *TINY, "--epochs", "1", "--out", out, "--json", *extra).json


def history(out) -> dict:
    return json.loads((Path(out) / "history.json").read_text())


def listing(folder) -> dict:
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished one-epoch tiny run (--seed 0); copy it before changing it."""
    out = tmp_path_factory.mktemp("edges") / "run"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out), "--json"]) == 0
    return out


@pytest.fixture
def run_copy(trained, tmp_path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "run"))


@pytest.fixture(scope="module")
def tiny_data():
    return load_data(DataConfig(image_size=28, channels=1, batch_size=16, limit=32, seed=0))


def tiny_model(**options) -> InceptionV1:
    """The model the command line's default recipe builds (so it can resume the `trained` run)."""
    torch.manual_seed(0)
    return InceptionV1(**{"num_classes": 10, "in_channels": 1, "stem_batchnorm": True, "dropout": 0.0, **options})


def tiny_config(out, **changes) -> TrainConfig:
    return replace(TrainConfig(epochs=1, out_dir=str(out), progress=False, device="cpu"), **changes)


def image_folder(root: Path, per_class: int = 8, corrupt: bool = False) -> Path:
    """Two classes of small gray PNGs, no test split; `corrupt`: one JPEG whose header is fine but body is not."""
    for c, shade in (("dark", 40), ("light", 200)):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.new("L", (28, 28), shade + i).save(root / c / f"{i}.png")
    if corrupt:  # noise, so that half the file is half the picture: the header reads, decoding fails
        noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(noise).save(root / "dark" / "broken.jpg", quality=90)
        data = (root / "dark" / "broken.jpg").read_bytes()
        (root / "dark" / "broken.jpg").write_bytes(data[:len(data) // 2])
    return root


def damaged(checkpoint: Path, folder: Path, change) -> Path:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    change(state)
    path = folder / "damaged.pt"
    torch.save(state, path)
    return path


# ============================================================================= data lost

def test_issue_resume_keeps_tmp_files_the_user_put_in_the_run_folder(capsys, run_copy):
    mine = {"history.json.my-notes.tmp": "my notes", "last.pt.tmp": "my copy", "best.pt.backup.tmp": "mine"}
    for name, text in mine.items():
        (run_copy / name).write_text(text)
    ours = run_copy / "last.pt.4242-deadbeef.tmp"  # what a crashed writer of this program leaves
    ours.write_bytes(b"half")
    assert run(capsys, "train", "--resume", run_copy / "last.pt", "--epochs", "2", "--json").json["epochs"] == 2
    assert {name: (run_copy / name).read_text() for name in mine} == mine
    assert not ours.exists(), "an orphaned temporary file this program wrote should be removed"


def test_added_temporary_files_carry_a_name_no_user_would_choose(tmp_path, monkeypatch):
    from inception_nb import History

    names = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (names.append(Path(src).name), real_replace(src, dst)))
    History().save(tmp_path / "history.json")
    assert len(names) == 1 and "inception-nb" in names[0] and names[0].endswith(".tmp"), names


def test_issue_overwrite_that_is_not_a_boolean_is_refused_and_the_run_kept(tiny_data, run_copy):
    before = listing(run_copy)
    for value in ("no", "False", 0.0, None, 1):
        with pytest.raises(TypeError, match="overwrite"):
            fit(tiny_model(), tiny_data, tiny_config(run_copy), overwrite=value)
    assert listing(run_copy) == before


def test_added_overwrite_whose_new_run_fails_to_start_keeps_the_old_run(capsys, run_copy):
    before = listing(run_copy)
    clean_error(run(capsys, "train", *TINY, "--epochs", "1", "--out", run_copy, "--overwrite", "--data",
                    "/no/such/dataset"), "dataset")
    assert listing(run_copy) == before


def test_added_disk_full_writing_history_keeps_the_old_files(capsys, run_copy, monkeypatch):
    # Disk full simulated by writing the history's text to /dev/full, which fails every write with ENOSPC.
    before = listing(run_copy)
    real_write_text = Path.write_text

    def to_dev_full(self, text, *args, **kwargs):
        if self.name.startswith("history.json"):
            return real_write_text(Path("/dev/full"), text, *args, **kwargs)
        return real_write_text(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", to_dev_full)
    line = clean_error(run(capsys, "train", "--resume", run_copy / "last.pt", "--epochs", "2"), "disk full",
                       str(run_copy))
    assert "resume" in line or "free" in line
    assert listing(run_copy)["history.json"] == before["history.json"]
    assert not [p for p in run_copy.iterdir() if p.name.endswith(".tmp")]


def test_added_a_failed_start_keeps_the_users_own_folder_and_its_files(capsys, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep")
    clean_error(run(capsys, "train", *TINY, "--epochs", "1", "--out", folder, "--data", image_folder(
        tmp_path / "images", corrupt=True), "--val-fraction", "0.25", "--batch-size", "4", "--num-workers", "0"),
        "broken.jpg")
    assert listing(folder) == {"notes.txt": b"keep"}


# ============================================================================= wrong results

def test_issue_resume_carries_limit_batch_size_and_augment(capsys, tmp_path):
    out = tmp_path / "run"
    train(capsys, out, "--limit", "48", "--batch-size", "12", "--augment")
    again = run(capsys, "train", "--resume", out / "last.pt", "--epochs", "2", "--json").json
    epochs = history(out)["epochs"]
    assert again["epochs"] == 2 and epochs[1]["images_seen"] - epochs[0]["images_seen"] == 48
    _, info = load_checkpoint(out / "last.pt")
    assert (info.data_config["limit"], info.data_config["batch_size"], info.data_config["augment"]) == (48, 12, True)


@pytest.mark.parametrize("flag, value, trained_with", [("--limit", "64", "32"), ("--seed", "3", "0"),
                                                       ("--data", "fashion-mnist-copy", "fashion-mnist"),
                                                       ("--val-fraction", "0.3", "0.1")])
def test_issue_resume_refuses_a_setting_that_contradicts_the_checkpoint(capsys, run_copy, flag, value,
                                                                        trained_with):
    before = listing(run_copy)
    clean_error(run(capsys, "train", "--resume", run_copy / "last.pt", "--epochs", "2", flag, value), flag,
                trained_with)
    assert listing(run_copy) == before


def test_added_resume_given_the_same_value_again_is_not_refused(capsys, run_copy):
    assert run(capsys, "train", "--resume", run_copy / "last.pt", "--epochs", "2", "--limit", "32", "--seed", "0",
               "--json").json["epochs"] == 2


def test_added_resume_carries_the_learning_rate_and_schedule(capsys, tmp_path):
    out = tmp_path / "run"
    train(capsys, out, "--lr", "0.0007", "--schedule", "constant", "--epochs", "2", "--time-budget", "1e-9")
    run(capsys, "train", "--resume", out / "last.pt", "--epochs", "2", "--json").json
    assert [e["lr"] for e in history(out)["epochs"]] == [0.0007, 0.0007]


def test_added_resume_ignores_the_profile_for_what_the_checkpoint_records(capsys, run_copy):
    # --profile quick says 2,000 images at 32 px; the run being continued trained on 32 images at 28 px.
    again = run(capsys, "train", "--profile", "quick", "--resume", run_copy / "last.pt", "--epochs", "2",
                "--json").json
    epochs = history(run_copy)["epochs"]
    assert again["epochs"] == 2 and epochs[1]["images_seen"] - epochs[0]["images_seen"] == 32


def test_issue_evaluate_uses_the_runs_own_split_of_a_folder(capsys, tmp_path):
    folder = image_folder(tmp_path / "images", per_class=10)
    out = tmp_path / "run"
    train(capsys, out, "--data", folder, "--seed", "7", "--val-fraction", "0.3", "--batch-size", "4",
          "--limit", "100")
    # The same batches as the run's own evaluation (its loss is a mean over batches), so the same numbers.
    result = run(capsys, "evaluate", "--checkpoint", out / "last.pt", "--data", folder, "--batch-size", "4",
                 "--json").json
    last = history(out)["epochs"][-1]
    assert result["images"] == 6
    assert math.isclose(result["test_loss"], last["test_loss"], rel_tol=1e-5), (result, last)


def test_added_evaluate_without_data_uses_the_runs_dataset(capsys, tmp_path):
    folder = image_folder(tmp_path / "images", per_class=10)
    out = tmp_path / "run"
    train(capsys, out, "--data", folder, "--seed", "7", "--val-fraction", "0.3", "--batch-size", "4",
          "--limit", "100")
    result = run(capsys, "evaluate", "--checkpoint", out / "last.pt", "--batch-size", "4", "--json").json
    assert math.isclose(result["test_loss"], history(out)["epochs"][-1]["test_loss"], rel_tol=1e-5)


def test_added_library_resume_on_data_split_with_another_seed_is_refused(tiny_data, tmp_path):
    fit(tiny_model(), tiny_data, tiny_config(tmp_path))
    other = load_data(DataConfig(image_size=28, channels=1, batch_size=16, limit=32, seed=3))
    with pytest.raises(ValueError, match="seed"):
        fit(tiny_model(), other, tiny_config(tmp_path, epochs=2), resume=tmp_path / "last.pt")


def test_issue_resume_into_a_new_folder_writes_best_pt_and_reports_files_that_exist(capsys, run_copy, tmp_path):
    new = tmp_path / "continued"
    result = run(capsys, "train", "--resume", run_copy / "last.pt", "--epochs", "2", "--out", new, "--json").json
    assert Path(result["checkpoint"]).is_file() and Path(result["history"]).is_file()
    assert RUN_FILES <= {p.name for p in new.iterdir()}
    best_epoch = max(history(new)["epochs"], key=lambda e: (e["test_acc"], e["epoch"]))["epoch"]
    assert load_checkpoint(new / "best.pt")[1].epoch == best_epoch


class _StopInFirstBatch:
    """A train loader that raises KeyboardInterrupt (what Ctrl-C raises) at its first batch."""

    def __init__(self, loader):
        self.loader, self.generator, self.sampler, self.dataset = loader, loader.generator, loader.sampler, \
            loader.dataset

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        raise KeyboardInterrupt
        yield


def test_issue_ctrl_c_in_a_resume_into_a_new_folder_leaves_it_usable(tiny_data, run_copy, tmp_path):
    new = tmp_path / "continued"
    interrupted = replace(tiny_data, train=_StopInFirstBatch(tiny_data.train))
    history_ = fit(tiny_model(), interrupted, tiny_config(new, epochs=2), resume=run_copy / "last.pt")
    assert history_.stopped == "interrupted"
    assert not new.exists() or not list(new.iterdir()), "nothing was saved, so nothing may be left"
    fit(tiny_model(), tiny_data, tiny_config(new, epochs=2), resume=run_copy / "last.pt")  # resume works
    assert {e["epoch"] for e in history(new)["epochs"]} == {1, 2}


def test_added_ctrl_c_before_an_epoch_of_a_new_run_leaves_no_folder(tiny_data, tmp_path):
    new = tmp_path / "a" / "b"
    interrupted = replace(tiny_data, train=_StopInFirstBatch(tiny_data.train))
    assert fit(tiny_model(), interrupted, tiny_config(new)).stopped == "interrupted"
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("out", ["", "   "])
def test_issue_an_empty_out_is_refused(capsys, out):
    clean_error(run(capsys, "train", *TINY, "--epochs", "1", "--out", out), "--out")


def test_added_library_empty_out_dir_is_refused_naming_the_setting(tiny_data):
    with pytest.raises(ValueError, match="TrainConfig.out_dir"):
        fit(tiny_model(), tiny_data, tiny_config(""))


def _nan_weights(state):
    name = next(k for k, v in state["state_dict"].items() if v.is_floating_point())
    state["state_dict"][name] = torch.full_like(state["state_dict"][name], float("nan"))


def _inf_buffer(state):
    name = next(k for k in state["state_dict"] if k.endswith("running_var"))
    state["state_dict"][name][0] = float("inf")


@pytest.mark.parametrize("change", [_nan_weights, _inf_buffer], ids=["nan-weight", "inf-buffer"])
def test_issue_a_checkpoint_with_non_finite_weights_is_refused_by_evaluate_and_predict(capsys, trained, tmp_path,
                                                                                      change):
    bad = damaged(trained / "last.pt", tmp_path, change)
    Image.new("L", (28, 28), 90).save(tmp_path / "x.png")
    clean_error(run(capsys, "evaluate", "--checkpoint", bad, "--json"), str(bad), "finite")
    clean_error(run(capsys, "predict", "--checkpoint", bad, tmp_path / "x.png", "--json"), str(bad), "finite")


def test_added_resume_from_non_finite_weights_names_the_checkpoint_not_the_lr(capsys, trained, tmp_path):
    bad = damaged(trained / "last.pt", tmp_path, _nan_weights)
    line = clean_error(run(capsys, "train", "--resume", bad, "--epochs", "2", "--out", tmp_path / "new"), str(bad))
    assert "--lr" not in line


# ============================================================================= tracebacks

def test_issue_out_through_a_dangling_symlink_is_refused_before_data_loads(capsys, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone")
    clean_error(run(capsys, "train", *TINY, "--epochs", "1", "--out", link, "--data", "/no/such/dataset"),
                str(link), "symbolic link")


@pytest.mark.parametrize("flag", ["--out", "--data"])
def test_added_a_loop_of_symbolic_links_is_named(capsys, tmp_path, flag):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    values = {"--out": tmp_path / "run", "--data": "/no/such/dataset", flag: loop}
    line = clean_error(run(capsys, "train", *TINY, "--epochs", "1", *[x for kv in values.items() for x in kv]),
                       str(loop))
    assert "symbolic links" in line and flag.lstrip("-") in line.replace("dataset", "data"), line


@pytest.mark.parametrize("argv", [
    ["train", *TINY, "--epochs", "1", "--out", "{tmp}/" + LONG_NAME],
    ["train", *TINY, "--epochs", "1", "--data", "{tmp}/" + LONG_NAME, "--out", "{tmp}/run"],
    ["evaluate", "--checkpoint", "{tmp}/" + LONG_NAME],
    ["predict", "--checkpoint", "{tmp}/" + LONG_NAME, "x.png"],
    ["train", "--resume", "{tmp}/" + LONG_NAME, "--epochs", "2"],
    ["predict", "--checkpoint", "{ckpt}", "{tmp}/" + LONG_NAME + ".png"],
], ids=["out", "data", "evaluate-checkpoint", "predict-checkpoint", "resume", "predict-image"])
def test_issue_a_file_name_too_long_is_named_with_the_fix(capsys, trained, tmp_path, argv):
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{ckpt}", str(trained / "last.pt")) for a in argv]
    clean_error(run(capsys, *argv), "too long", LONG_NAME[:50])


def _save_to_dev_full(real_save):
    # Disk full, simulated without root: torch's own zip writer writes the object into /dev/full, where every
    # write fails with ENOSPC, as on a full disk.
    def save(obj, target, *args, **kwargs):
        with open("/dev/full", "wb", buffering=0) as full:
            return real_save(obj, full, *args, **kwargs)
    return save


def test_issue_disk_full_while_writing_a_checkpoint_says_so_and_keeps_the_old_files(capsys, run_copy, monkeypatch):
    before = listing(run_copy)
    monkeypatch.setattr(torch, "save", _save_to_dev_full(torch.save))
    clean_error(run(capsys, "train", "--resume", run_copy / "last.pt", "--epochs", "2"), "disk full",
                str(run_copy / "last.pt"))
    assert listing(run_copy) == before
    monkeypatch.undo()
    assert load_checkpoint(run_copy / "last.pt")[1].epoch == 1


def test_added_disk_full_in_the_library_raises_an_os_error_naming_the_file(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "save", _save_to_dev_full(torch.save))
    with pytest.raises(OSError, match="disk full") as caught:
        fit(tiny_model(), tiny_data, tiny_config(tmp_path / "run"))
    assert caught.value.errno == errno.ENOSPC and "last.pt" in str(caught.value)


@pytest.mark.parametrize("field, value", [("preset", ["seed"]), ("preset", "resnet"), ("aux_logits", "yes"),
                                          ("dropout", "0.1"), ("stem_batchnorm", None)])
def test_issue_a_checkpoint_with_a_bad_model_config_value_names_the_field(capsys, trained, tmp_path, field, value):
    bad = damaged(trained / "last.pt", tmp_path, lambda s: s["model_config"].__setitem__(field, value))
    for argv in (["evaluate", "--checkpoint", bad], ["train", "--resume", bad, "--epochs", "2", "--out",
                                                     tmp_path / "new"]):
        clean_error(run(capsys, *argv), str(bad), field)


@pytest.mark.parametrize("section, field, value", [("train_config", "epochs", "2"), ("train_config", "lr", None),
                                                   ("data_config", "limit", "32"), ("data_config", "augment", 1)])
def test_added_resume_from_a_checkpoint_with_a_bad_recorded_setting_names_it(capsys, trained, tmp_path, section,
                                                                             field, value):
    bad = damaged(trained / "last.pt", tmp_path, lambda s: s[section].__setitem__(field, value))
    clean_error(run(capsys, "train", "--resume", bad, "--epochs", "3", "--out", tmp_path / "new"), str(bad), field)


class _ClosedPipe:
    """A stdout whose reader has gone away, as in `python -m inception_nb summary | true`."""

    def write(self, text):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def isatty(self):
        return False

    def fileno(self):
        raise OSError("no file descriptor")


def test_issue_summary_into_a_closed_pipe_ends_quietly(monkeypatch):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["summary", "--image-size", "32", "--num-classes", "10"]) == 0


def test_added_train_into_a_closed_pipe_still_saves_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["train", *TINY, "--epochs", "1", "--out", str(tmp_path / "run"), "--json"]) == 0
    assert RUN_FILES <= {p.name for p in (tmp_path / "run").iterdir()}


@pytest.mark.process
def test_issue_summary_piped_to_a_reader_that_quits_prints_no_traceback():
    done = subprocess.run(f"{sys.executable} -m inception_nb summary | true", shell=True, capture_output=True,
                          text=True, env=cli_env(), timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr


@pytest.mark.parametrize("workers", ["1", "0"])
def test_issue_a_corrupt_jpeg_read_by_a_loader_worker_is_one_line(capsys, tmp_path, workers):
    folder = image_folder(tmp_path / "images", corrupt=True)
    line = clean_error(run(capsys, "train", *TINY, "--epochs", "1", "--out", tmp_path / "run", "--data", folder,
                           "--val-fraction", "0.25", "--batch-size", "4", "--num-workers", workers), "broken.jpg")
    assert "worker" not in line and "Original" not in line
    assert not (tmp_path / "run").exists(), "a failed start leaves no empty --out folder behind"


def test_added_library_loader_worker_error_keeps_its_class_and_a_clean_message(tmp_path):
    folder = image_folder(tmp_path / "images", corrupt=True)
    data = load_data(DataConfig(dataset=str(folder), image_size=28, batch_size=4, val_fraction=0.25, num_workers=1))
    from inception_nb import DataError

    with pytest.raises(DataError) as caught:
        fit(InceptionV1(num_classes=2, in_channels=1), data, tiny_config(tmp_path / "run"))
    assert "broken.jpg" in str(caught.value) and "Traceback" not in str(caught.value)


# ============================================================================= messages that do not name the fix

@pytest.mark.parametrize("preset", ["torchvision", "paper"])
def test_issue_other_presets_train_with_the_default_options(capsys, preset):
    # Everything before the data is checked first; the missing dataset proves the preset itself was accepted.
    clean_error(run(capsys, "train", "--preset", preset, "--image-size", "96", "--data", "/no/such/dataset"),
                "dataset not found")


def test_added_library_model_config_of_another_preset_names_the_setting_to_change():
    # ModelConfig's default is the cpu recipe's (stem BatchNorm on, for the seed preset); the message says what
    # to write for another preset.
    with pytest.raises(ValueError, match=r"stem_batchnorm=False"):
        ModelConfig(preset="torchvision").build(10, 1)
    assert ModelConfig(preset="torchvision", stem_batchnorm=False).build(10, 1).config["preset"] == "torchvision"


def test_added_stem_batchnorm_given_with_another_preset_names_the_flag(capsys):
    clean_error(run(capsys, "train", "--preset", "paper", "--stem-batchnorm", "--data", "/no/such/dataset"),
                "--stem-batchnorm", "--preset seed")


@pytest.mark.parametrize("flag", [["--preset", "torchvision"], ["--aux-logits"], ["--dropout", "0.3"],
                                  ["--image-size", "32"], ["--channels", "3"], ["--optimizer", "sgd"]])
def test_issue_resume_mismatch_names_the_flag_to_drop(capsys, run_copy, flag):
    line = clean_error(run(capsys, "train", "--resume", run_copy / "last.pt", "--epochs", "2", *flag), flag[0])
    assert "read_checkpoint_info" not in line and "{" not in line, line


def _out_of_memory(*args, **kwargs):
    raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried "
                       "to allocate 123456789 bytes")


@pytest.mark.parametrize("argv, wrong, right", [
    (["evaluate", "--checkpoint", "{ckpt}", "--batch-size", "1", "--limit", "4"], "--batch-size", "memory"),
    (["train", "--limit", "32", "--batch-size", "1", "--device", "cpu", "--epochs", "1", "--out", "{tmp}/r"],
     "--batch-size", "--image-size"),
    (["evaluate", "--checkpoint", "{ckpt}", "--batch-size", "8", "--limit", "4"], None, "--batch-size"),
], ids=["evaluate-batch-1", "train-batch-1", "evaluate-batch-8"])
def test_issue_out_of_memory_advice_fits_the_options_given(capsys, trained, tmp_path, monkeypatch, argv, wrong,
                                                          right):
    monkeypatch.setattr(InceptionV1, "forward", _out_of_memory)
    argv = [a.replace("{ckpt}", str(trained / "last.pt")).replace("{tmp}", str(tmp_path)) for a in argv]
    line = clean_error(run(capsys, *argv), "out of memory", right)
    assert wrong is None or f"lower {wrong}" not in line and f"{wrong} or" not in line, line


@pytest.mark.parametrize("call, argument", [
    (lambda m, d, out: fit(m, d, {"epochs": 1}), "config"),
    (lambda m, d, out: fit(m, "data", tiny_config(out)), "data"),
    (lambda m, d, out: fit("model", d, tiny_config(out)), "model"),
    (lambda m, d, out: fit(tiny_model(num_classes=5), d, tiny_config(out)), "num_classes"),
    (lambda m, d, out: fit(tiny_model(in_channels=3), d, tiny_config(out)), "in_channels"),
    (lambda m, d, out: fit(m, d, tiny_config(out), resume=5), "resume"),
    (lambda m, d, out: fit(m, d, tiny_config(out, amp="no")), "TrainConfig.amp"),
    (lambda m, d, out: fit(m, d, tiny_config(out, progress="no")), "TrainConfig.progress"),
    (lambda m, d, out: load_data("fashion-mnist"), "config"),
    (lambda m, d, out: load_data(DataConfig(augment="no", limit=32)), "DataConfig.augment"),
    (lambda m, d, out: load_checkpoint(5), "path"),
    (lambda m, d, out: ModelConfig(aux_logits="no").build(10, 1), "aux_logits"),
    (lambda m, d, out: InceptionV1(num_classes=10, aux_logits="no"), "aux_logits"),
    (lambda m, d, out: InceptionV1(num_classes=10, preset=["seed"]), "preset"),
    (lambda m, d, out: InceptionV1(num_classes=10, dropout="0.1"), "dropout"),
], ids=["fit-config-dict", "fit-data-str", "fit-model-str", "fit-classes", "fit-channels", "fit-resume-int",
        "fit-amp-str", "fit-progress-str", "load-data-str", "load-data-augment", "load-checkpoint-int",
        "model-config-aux", "model-aux-str", "model-preset-list", "model-dropout-str"])
def test_issue_library_misuse_names_the_argument(tiny_data, tmp_path, call, argument):
    with pytest.raises((TypeError, ValueError)) as caught:
        call(tiny_model(), tiny_data, tmp_path / "run")
    print(f"{type(caught.value).__name__}: {caught.value}")
    assert argument in str(caught.value), str(caught.value)
    assert not (tmp_path / "run").exists()


def test_added_predict_images_given_one_path_instead_of_a_list_names_it(trained):
    from inception_nb import predict_images

    model, info = load_checkpoint(trained / "last.pt")
    with pytest.raises(TypeError, match="paths"):
        predict_images(model, info, "x.png")
    with pytest.raises(TypeError, match="top_k"):
        predict_images(model, info, [], top_k="3")


# ============================================================================= loose ends

def _killed_mid_run(tiny_data, out) -> None:
    """Leave `out` as SIGKILL after epoch 1 of 2 leaves it: history.json "running", a lock file nobody holds."""

    class Killed(BaseException):
        pass

    class DieInSecondPass:
        def __init__(self, loader):
            self.loader, self.generator, self.sampler, self.dataset = loader, loader.generator, loader.sampler, \
                loader.dataset
            self.passes = 0

        def __len__(self):
            return len(self.loader)

        def __iter__(self):
            self.passes += 1
            if self.passes == 2:
                raise Killed
            yield from self.loader

    with pytest.raises(Killed):
        fit(tiny_model(), replace(tiny_data, train=DieInSecondPass(tiny_data.train)), tiny_config(out, epochs=2))
    (out / ".inception-nb.lock").write_text("999999999")  # a pid no process has


def test_issue_a_killed_run_is_recognised_and_resumes_cleanly(capsys, tiny_data, tmp_path):
    out = tmp_path / "run"
    _killed_mid_run(tiny_data, out)
    assert history(out)["stopped"] == "running"
    clean_error(run(capsys, "train", *TINY, "--epochs", "2", "--out", out), "killed", "--resume")
    assert run(capsys, "train", "--resume", out / "last.pt", "--json").json["epochs"] == 2
    assert history(out)["stopped"] == "completed"
    assert not (out / ".inception-nb.lock").exists(), "the stale lock should be gone after the next run"


def test_added_library_says_a_killed_run_was_killed(tiny_data, tmp_path):
    out = tmp_path / "run"
    _killed_mid_run(tiny_data, out)
    with pytest.raises(ValueError, match="killed"):
        fit(tiny_model(), tiny_data, tiny_config(out, epochs=2))


@pytest.mark.process
def test_issue_sigterm_stops_like_ctrl_c_and_leaves_consistent_files(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-u", "-m", "inception_nb", "train", *TINY, "--epochs", "50",
                                "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=cli_env())
    deadline = time.monotonic() + 120
    for line in process.stdout:
        if line.startswith("epoch  1"):
            process.send_signal(signal.SIGTERM)
            break
        assert time.monotonic() < deadline
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143 and "Traceback" not in err, err
    assert history(out)["stopped"] == "interrupted"
    assert not (out / ".inception-nb.lock").exists()


@pytest.mark.process
def test_added_sigkill_then_a_new_run_is_told_and_a_resume_works(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-u", "-m", "inception_nb", "train", *TINY, "--epochs", "50",
                                "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=cli_env())
    for line in process.stdout:
        if line.startswith("epoch  2"):  # printed before epoch 2's files are written, after epoch 1's
            process.kill()
            break
    process.wait(timeout=60)
    assert history(out)["stopped"] == "running"
    again = subprocess.run([sys.executable, "-m", "inception_nb", "train", *TINY, "--epochs", "1", "--out",
                            str(out)], capture_output=True, text=True, env=cli_env(), timeout=120)
    assert again.returncode == 2 and "killed" in again.stderr and "Traceback" not in again.stderr, again.stderr


def test_issue_a_failed_start_leaves_no_empty_out_folder(capsys, tmp_path):
    out = tmp_path / "new" / "run"
    clean_error(run(capsys, "train", *TINY, "--epochs", "1", "--out", out, "--data", image_folder(
        tmp_path / "images", corrupt=True), "--val-fraction", "0.25", "--batch-size", "4"), "broken.jpg")
    assert not (tmp_path / "new").exists()


def test_added_help_of_train_says_what_a_resume_carries_and_refuses(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--limit", "--batch-size", "--augment", "--lr", "--epochs"):
        assert flag in text
    assert "resume carries" in text and "refuses to change" in text
