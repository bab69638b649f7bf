"""Issue 13: every bad checkpoint, argument, image or path ends in one clear `error:` line, never a traceback.

Classes (issue 13's headings): checkpoints, arguments, images, permissions, paths. Each test says whether it is a
case the issue names ("issue") or one added to the class ("added").
"""

import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from reliability_support import ROOT, TINY, clean_error, cli, permissions_apply, result_json

from inception_nb.training.checkpoint import load_checkpoint
from inception_nb.data import DataConfig, load_data
from inception_nb.config import TrainConfig
from inception_nb.training.fit import fit
from inception_nb.model import InceptionV1

MISSING_DATA = "/no/such/dataset"  # a bad argument must be refused before the data is even looked for


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reliability-inputs") / "run"
    result_json(cli("train", *TINY, "--epochs", "1", "--out", out, "--json"))
    return out / "last.pt"


def _damaged(checkpoint: Path, folder: Path, change) -> Path:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    change(state)
    path = folder / "damaged.pt"
    torch.save(state, path)
    return path


# ----------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("content", [{"weights": torch.zeros(3)}, [1, 2, 3], torch.zeros(2), {"format": 7}],
                         ids=["dict", "list", "tensor", "wrong-marker"])
def test_issue_a_pytorch_file_that_is_not_ours_is_refused_by_name(content, tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save(content, path)
    with pytest.raises(ValueError, match="foreign.pt"):
        load_checkpoint(path)
    clean_error(cli("evaluate", "--checkpoint", path, "--data", MISSING_DATA), "foreign.pt", "inception-nb")


@pytest.mark.parametrize("field", ["model_config", "state_dict", "classes", "channels", "image_size", "mean", "std",
                                   "epoch"])
def test_issue_a_checkpoint_with_a_field_missing_names_file_and_field(field, checkpoint, tmp_path):
    path = _damaged(checkpoint, tmp_path, lambda state: state.pop(field))
    with pytest.raises(ValueError, match=f"damaged.pt.*'{field}'"):
        load_checkpoint(path)


@pytest.mark.parametrize("field, value", [("classes", 10), ("channels", "1"), ("mean", [0.1, 0.2]),
                                          ("history", {"epochs": 3}), ("state_dict", {"conv1.weight": 1.0}),
                                          ("image_size", 28.0), ("epoch", None), ("std", [0.0])])
def test_issue_a_checkpoint_with_a_field_of_the_wrong_type_names_file_and_field(field, value, checkpoint, tmp_path):
    path = _damaged(checkpoint, tmp_path, lambda state: state.update({field: value}))
    with pytest.raises(ValueError, match=f"damaged.pt.*'{field}'"):
        load_checkpoint(path)


@pytest.mark.parametrize("command, change", [("predict", lambda state: state.pop("classes")),
                                             ("evaluate", lambda state: state.update(channels="1"))],
                         ids=["predict-missing-classes", "evaluate-channels-as-text"])
def test_issue_the_cli_names_file_and_field_of_a_damaged_checkpoint(command, change, checkpoint, tmp_path):
    path = _damaged(checkpoint, tmp_path, change)
    where = [ROOT / "data" / "samples"] if command == "predict" else ["--data", MISSING_DATA]
    field = "classes" if command == "predict" else "channels"
    clean_error(cli(command, "--checkpoint", path, *where), "damaged.pt", field)


def test_added_a_checkpoint_naming_fewer_classes_than_its_model_is_refused(checkpoint, tmp_path):
    path = _damaged(checkpoint, tmp_path, lambda state: state.update(classes=state["classes"][:5]))
    clean_error(cli("predict", "--checkpoint", path, ROOT / "data" / "samples"), "damaged.pt", "classes")


def test_added_a_folder_given_as_checkpoint_says_which_file_to_pass(checkpoint):
    clean_error(cli("evaluate", "--checkpoint", checkpoint.parent, "--data", MISSING_DATA), "best.pt")


def test_added_resume_from_a_damaged_last_pt_names_the_field(checkpoint, tmp_path):
    path = _damaged(checkpoint, tmp_path, lambda state: state["history"].update(epochs=[{"epoch": "one"}]))
    clean_error(cli("train", *TINY, "--epochs", "2", "--resume", path, "--out", tmp_path / "out"),
                "damaged.pt", "history")


def test_added_resume_from_optimizer_state_of_another_optimizer_is_refused(checkpoint, tmp_path):
    model = InceptionV1(num_classes=10, in_channels=1, stem_batchnorm=True)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    path = _damaged(checkpoint, tmp_path, lambda state: state.update(optimizer=sgd.state_dict()))
    clean_error(cli("train", *TINY, "--epochs", "2", "--resume", path, "--out", tmp_path / "out"), "optimizer")


# ----------------------------------------------------------------------------- arguments

@pytest.mark.parametrize("device", ["foo", "cuda:99", "mps", "meta", "cpu:x"])
def test_issue_every_device_string_is_used_or_refused_before_data_loads(device):
    if device == "mps" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    clean_error(cli("train", "--data", MISSING_DATA, "--device", device), "--device", device)


@pytest.mark.parametrize("command", ["evaluate", "bench"])
def test_added_device_is_checked_by_every_subcommand(command, checkpoint):
    extra = ["--checkpoint", checkpoint, "--data", MISSING_DATA] if command == "evaluate" else []
    clean_error(cli(command, *extra, "--device", "foo"), "--device", "foo")


def test_issue_an_output_folder_that_cannot_be_created_is_refused_before_data_loads(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    clean_error(cli("train", "--data", MISSING_DATA, "--out", blocker / "run"), "--out", str(blocker))
    clean_error(cli("train", "--data", MISSING_DATA, "--out", blocker), "--out", str(blocker))


def test_issue_an_output_folder_that_cannot_be_written_says_permission_denied(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if not permissions_apply(locked):
            pytest.skip("this file system ignores permissions")
        done = cli("train", "--data", MISSING_DATA, "--out", locked / "run", as_plain_user=True)
        clean_error(done, "permission denied", str(locked))
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("flag, value", [("--lr", "nan"), ("--lr", "inf"), ("--lr", "-0.1"), ("--lr", "0"),
                                         ("--weight-decay", "-1"), ("--weight-decay", "nan"),
                                         ("--time-budget", "-5"), ("--time-budget", "0"), ("--time-budget", "nan"),
                                         ("--dropout", "nan"), ("--dropout", "-0.2"),
                                         ("--seed", "-1"), ("--seed", str(2**70))])
def test_issue_non_finite_or_negative_numbers_are_refused_before_data_loads(flag, value):
    clean_error(cli("train", "--data", MISSING_DATA, flag, value), flag)


@pytest.mark.parametrize("argv, flag", [
    (["train", "--data", MISSING_DATA, "--preset", "torchvision", "--image-size", "8"], "--image-size"),
    (["train", "--data", MISSING_DATA, "--preset", "paper", "--aux-logits", "--image-size", "20"], "--image-size"),
    (["summary", "--preset", "torchvision", "--image-size", "8"], "--image-size"),
    (["summary", "--preset", "torchvision", "--image-size", "14"], "--image-size"),
    (["bench", "--image-size", "4"], "--image-size"),  # bench also runs torchvision's GoogLeNet
    (["bench", "--image-size", "8", "--batch-size", "1", "--steps", "1"], "--image-size"),
])
def test_issue_sizes_too_small_for_the_model_are_refused_by_every_subcommand(argv, flag):
    clean_error(cli(*argv), flag)


@pytest.mark.parametrize("argv", [
    ["bench", "--image-size", "200000", "--batch-size", "64", "--steps", "1"],
    ["summary", "--image-size", "200000"],
    ["train", "--limit", "64", "--batch-size", "32", "--image-size", "200000", "--epochs", "1", "--device", "cpu"],
], ids=["bench", "summary", "train"])
def test_issue_sizes_too_large_for_memory_name_the_option_to_lower(argv, tmp_path):
    # Each first allocation asks for terabytes: the allocator refuses at once, nothing is really used.
    out = ["--out", tmp_path / "run"] if argv[0] == "train" else []
    line = clean_error(cli(*argv, *out), "memory")
    assert "--image-size" in line or "--batch-size" in line, line


def test_added_bad_numbers_are_refused_by_the_library_in_its_own_words(tmp_path):
    data = load_data(DataConfig(image_size=28, batch_size=32, limit=64, augment=False))
    model = InceptionV1(num_classes=10, in_channels=1, stem_batchnorm=True)
    base = TrainConfig(epochs=1, out_dir=str(tmp_path / "run"), progress=False, device="cpu")
    for change, name in [({"lr": math.nan}, "TrainConfig.lr"), ({"weight_decay": -1.0}, "TrainConfig.weight_decay"),
                         ({"time_budget": 0.0}, "TrainConfig.time_budget"), ({"device": "foo"}, "TrainConfig.device"),
                         ({"epochs": 0}, "TrainConfig.epochs")]:
        with pytest.raises(ValueError, match=name.replace(".", r"\.")):
            fit(model, data, replace(base, **change))
    assert not (tmp_path / "run" / "history.json").exists()


def test_added_a_dataset_too_small_for_the_model_names_the_library_setting():
    with pytest.raises(ValueError, match=r"DataConfig\.image_size"):
        load_data(DataConfig(image_size=4, batch_size=32, limit=64), min_size=15)


# ----------------------------------------------------------------------------- images

def _value_of(folder: Path, channels: int = 1) -> list:
    """Return the mean pixel value in [0, 1] of every image load_data builds from `folder`."""
    data = load_data(DataConfig(dataset=str(folder), image_size=8, channels=channels, batch_size=1,
                                augment=False, val_fraction=0.5))
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)
    values = []
    for loader in (data.train, data.test):
        for images, _ in loader:
            values += (images * std + mean).mean(dim=(1, 2, 3)).tolist()
    return values


def _gray_folder(root: Path, image: Image.Image, suffix: str, **save) -> Path:
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(2):
            image.save(root / name / f"{i}{suffix}", **save)
    return root


def _palette(gray: int, transparent: bool) -> Image.Image:
    img = Image.new("P", (8, 8), 0)
    img.putpalette([gray, gray, gray] * 256)
    if transparent:
        img.info["transparency"] = 0
    return img


GRAY = 128 / 255
# mode: (image, file suffix, the value every pixel must come out as)
MODES = {
    "1": (Image.new("1", (8, 8), 1), ".png", 1.0),
    "L": (Image.new("L", (8, 8), 128), ".png", GRAY),
    "LA-opaque": (Image.new("LA", (8, 8), (128, 255)), ".png", GRAY),
    "LA-transparent": (Image.new("LA", (8, 8), (0, 0)), ".png", 1.0),
    "P": (_palette(128, False), ".png", GRAY),
    "P-transparent": (_palette(0, True), ".png", 1.0),
    "RGB": (Image.new("RGB", (8, 8), (128, 128, 128)), ".png", GRAY),
    "RGBA-transparent": (Image.new("RGBA", (8, 8), (0, 0, 0, 0)), ".png", 1.0),
    "CMYK": (Image.new("CMYK", (8, 8), (0, 0, 0, 127)), ".tif", GRAY),
    "YCbCr": (Image.new("YCbCr", (8, 8), (128, 128, 128)), ".tif", GRAY),
    "I;16": (Image.new("I;16", (8, 8), 128 * 257), ".png", GRAY),
    "I;16B": (Image.new("I;16B", (8, 8), 128 * 257), ".tif", GRAY),
    "I": (Image.new("I", (8, 8), 128 * 257), ".tif", GRAY),
    "F": (Image.new("F", (8, 8), 0.5), ".tif", 0.5),  # a 0-1 float image: Pillow alone clips it to black
    "F-0-255": (Image.new("F", (8, 8), 128.0), ".tif", GRAY),  # Pillow's own scale (L.convert("F"))
}


@pytest.mark.parametrize("mode", list(MODES))
def test_issue_every_image_mode_converts_to_the_right_range(mode, tmp_path):
    image, suffix, expected = MODES[mode]
    values = _value_of(_gray_folder(tmp_path / "ds", image, suffix))
    assert len(values) == 4 and all(abs(v - expected) < 0.02 for v in values), (mode, values)


@pytest.mark.parametrize("mode, image", [
    ("F", Image.fromarray(np.full((8, 8), 1000.0, np.float32), "F")),  # neither 0-1 nor Pillow's 0-255
    ("I", Image.fromarray(np.full((8, 8), 10**6, np.int32), "I")),
    ("LAB", Image.new("LAB", (8, 8), (128, 128, 128))),
], ids=["F-beyond-1", "I-beyond-16-bit", "LAB"])
def test_added_modes_without_a_clear_range_convert_or_are_refused_by_name(mode, image, tmp_path):
    folder = _gray_folder(tmp_path / "ds", image, ".tif")
    try:
        values = _value_of(folder)
    except ValueError as err:
        assert f"mode {mode}" in str(err) and str(folder) in str(err), str(err)
        return
    assert mode == "LAB" and all(0.4 < v < 0.6 for v in values), (mode, values)


def test_added_predict_refuses_an_image_mode_by_name(checkpoint, tmp_path):
    path = tmp_path / "float.tif"
    Image.fromarray(np.full((8, 8), -3.0, np.float32), "F").save(path)
    clean_error(cli("predict", "--checkpoint", checkpoint, path), "float.tif", "mode F")


def test_issue_predict_skips_a_sub_folder_named_like_an_image(checkpoint, tmp_path):
    shutil.copy(ROOT / "data" / "samples" / "1_Trouser.png", tmp_path / "trouser.png")
    (tmp_path / "album.png").mkdir()
    (tmp_path / "._trouser.png").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    result = result_json(cli("predict", "--checkpoint", checkpoint, tmp_path, "--json"))
    assert [Path(p["path"]).name for p in result["predictions"]] == ["trouser.png"]


def test_added_predict_on_a_folder_with_only_a_sub_folder_says_no_images(checkpoint, tmp_path):
    (tmp_path / "album.png").mkdir()
    clean_error(cli("predict", "--checkpoint", checkpoint, tmp_path), "no image files", str(tmp_path))


def test_added_truncated_and_empty_images_are_named(checkpoint, tmp_path):
    data = (ROOT / "data" / "samples" / "1_Trouser.png").read_bytes()
    (tmp_path / "half.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    clean_error(cli("predict", "--checkpoint", checkpoint, tmp_path / "half.png"), "half.png")
    clean_error(cli("predict", "--checkpoint", checkpoint, tmp_path / "empty.png"), "empty.png")


# ----------------------------------------------------------------------------- permissions

def _unreadable_case(kind: str, root: Path, checkpoint: Path) -> tuple:
    """Build one unreadable input under `root`; return (argv, its path)."""
    folder = root / "ds"
    for name in ("cat", "dog"):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (28, 28), 40 * i).save(folder / name / f"{i}.png")
    ckpt = root / "model.pt"
    shutil.copy(checkpoint, ckpt)
    train = ["train", "--data", folder, "--batch-size", "2", "--image-size", "28", "--epochs", "1", "--device",
             "cpu", "--out", root / "run"]
    image = folder / "cat" / "1.png"
    cases = {"image in class folder": (image, train), "class folder": (folder / "dog", train),
             "dataset folder": (folder, train), "image to predict": (image, ["predict", "--checkpoint", ckpt, image]),
             "checkpoint": (ckpt, ["predict", "--checkpoint", ckpt, image])}
    target, argv = cases[kind]
    target.chmod(0)
    return argv, target


@pytest.mark.parametrize("kind", ["image in class folder", "class folder", "image to predict", "dataset folder",
                                  "checkpoint"])
def test_issue_permission_errors_say_permission_denied_and_the_path(kind, checkpoint, tmp_path):
    argv, target = _unreadable_case(kind, tmp_path, checkpoint)
    try:
        if not permissions_apply(target):
            pytest.skip("this file system ignores permissions")
        line = clean_error(cli(*argv, as_plain_user=True), "permission denied", str(target))
        assert "corrupt" not in line and "has no images" not in line and "delete" not in line, line
    finally:
        target.chmod(0o755)


# ----------------------------------------------------------------------------- dataset paths (paths.py)


def test_issue_a_relative_dataset_resolves_against_the_repository_root(monkeypatch, tmp_path):
    rel = Path("out") / "reliability-relative-ds"
    target = ROOT / rel
    shutil.rmtree(target, ignore_errors=True)
    try:
        _gray_folder(target, Image.new("L", (8, 8), 128), ".png")
        monkeypatch.chdir(ROOT / "notebooks")  # where a notebook's kernel runs
        assert len(_value_of(rel)) == 4
    finally:
        shutil.rmtree(target, ignore_errors=True)


@pytest.mark.parametrize("dataset", ["", None])
def test_issue_an_empty_dataset_gets_a_clear_message(dataset):
    with pytest.raises(ValueError, match=r"DataConfig\.dataset"):
        load_data(DataConfig(dataset=dataset, image_size=28, batch_size=32, limit=64))
