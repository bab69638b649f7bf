"""`python -m inception_nb`: results as JSON, and exit 2 with one clear line on bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from inception_nb.cli import main
from inception_nb.paths import REPO_ROOT as ROOT

QUICK = ["--limit", "256", "--epochs", "1", "--batch-size", "64", "--image-size", "32", "--device", "cpu"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train once for the module; return (json result, output folder)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    code, result = _run_json(["train", "--data", "fashion-mnist", *QUICK, "--out", str(out), "--json"])
    assert code == 0
    return result, out


def _run_json(argv):
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    return code, json.loads(lines[-1]) if code == 0 else None


def _bad(argv, capsys) -> str:
    """Run the CLI expecting bad input; return the single stderr line."""
    with pytest.raises(SystemExit) as exit_info:
        sys.exit(main(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, f"expected one line, got {err}"
    assert err[0].startswith("error: ") and "Traceback" not in err[0]
    return err[0]


@pytest.mark.slow  # trains a model
def test_train_json_has_the_documented_keys(trained):
    result, out = trained
    for key in ("test_acc", "test_loss", "train_acc", "train_loss", "epochs", "images_seen", "seconds",
                "classes", "checkpoint", "history"):
        assert key in result, key
    assert result["epochs"] == 1 and result["images_seen"] == 256
    assert result["classes"][0] == "T-shirt/top" and len(result["classes"]) == 10
    assert Path(result["checkpoint"]) == out / "best.pt" and Path(result["checkpoint"]).exists()
    assert json.loads(Path(result["history"]).read_text())["epochs"][0]["test_acc"] == result["test_acc"]


@pytest.mark.slow  # trains a model
def test_train_builds_the_cpu_recipe_model(trained):
    from inception_nb.training.checkpoint import load_checkpoint
    from inception_nb.config import ModelConfig

    _, out = trained
    _, info = load_checkpoint(out / "best.pt", "cpu")
    recipe = ModelConfig()
    assert info.model_config["dropout"] == recipe.dropout == 0.0
    assert info.model_config["stem_batchnorm"] is recipe.stem_batchnorm is True


@pytest.mark.slow  # trains a model
def test_resume_trains_only_the_remaining_epochs(trained, tmp_path):
    _, out = trained
    code, result = _run_json(["train", "--data", "fashion-mnist", *QUICK[:2], "--epochs", "2", *QUICK[4:],
                              "--resume", str(out / "last.pt"), "--out", str(tmp_path / "more"), "--json"])
    assert code == 0 and result["epochs"] == 2
    history = json.loads(Path(result["history"]).read_text())["epochs"]
    assert [e["epoch"] for e in history] == [1, 2]


@pytest.mark.slow  # trains a model
def test_evaluate_reports_the_checkpoint_accuracy(trained):
    result, out = trained
    code, evaluated = _run_json(["evaluate", "--checkpoint", str(out / "best.pt"), "--data", "fashion-mnist",
                                 "--limit", "256", "--device", "cpu", "--json"])
    assert code == 0 and evaluated["images"] == 256
    assert evaluated["test_acc"] == pytest.approx(result["test_acc"], abs=1e-6)


@pytest.mark.slow  # trains a model
def test_predict_json_lists_top_k_per_image(trained):
    _, out = trained
    samples = sorted((ROOT / "data" / "samples").glob("*.png"))
    code, result = _run_json(["predict", "--checkpoint", str(out / "best.pt"), str(samples[0]),
                              str(ROOT / "data" / "samples"), "--top-k", "3", "--json"])
    assert code == 0
    predictions = result["predictions"]
    assert len(predictions) == 1 + len(samples)
    first = predictions[0]
    assert first["path"] == str(samples[0]) and len(first["top"]) == 3
    probs = [t["prob"] for t in first["top"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert all(t["class"] in result_classes(out) for t in first["top"])


def result_classes(out):
    return torch.load(out / "best.pt", weights_only=True)["classes"]


def test_summary_prints_the_seed_table(capsys):
    assert main(["summary", "--preset", "seed"]) == 0
    text = capsys.readouterr().out
    assert "Linear-190" in text and "Total params: 7,012,472" in text


def test_bad_data_inputs_exit_2_with_one_line(tmp_path, capsys, image_folder):
    base = ["train", "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "o")]
    assert "does not exist" in _bad([*base, "--data", str(tmp_path / "nope")], capsys)
    (tmp_path / "empty").mkdir()
    assert "class" in _bad([*base, "--data", str(tmp_path / "empty")], capsys)
    folder = image_folder(tmp_path / "ds")
    (folder / "bird").mkdir()
    assert "bird" in _bad([*base, "--data", str(folder)], capsys)
    corrupt = image_folder(tmp_path / "ds2")
    (corrupt / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    assert "broken.png" in _bad([*base, "--data", str(corrupt), "--batch-size", "2", "--image-size", "32"], capsys)
    # Library errors name config fields (DataConfig.batch_size); the CLI shows its own options instead.
    too_big = _bad([*base, "--data", "fashion-mnist", "--limit", "100", "--batch-size", "500"], capsys)
    assert "--batch-size" in too_big and "--limit" in too_big and "Config." not in too_big
    too_small = _bad([*base, "--data", "fashion-mnist", "--preset", "torchvision", "--image-size", "8"], capsys)
    assert "--image-size 8 is smaller" in too_small and "--image-size to 15" in too_small
    assert "--epochs" in _bad([*base[:1], "--epochs", "0"], capsys)
    assert "dropout" in _bad([*base, "--data", "fashion-mnist", "--limit", "256", "--dropout", "1.5"], capsys)


@pytest.mark.slow  # trains a model
def test_bad_checkpoint_and_image_inputs_exit_2_with_one_line(trained, tmp_path, capsys, image_folder):
    _, out = trained
    assert "does not exist" in _bad(["evaluate", "--checkpoint", str(tmp_path / "x.pt")], capsys)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"1234")
    assert "checkpoint" in _bad(["predict", "--checkpoint", str(junk), "a.png"], capsys)
    assert "missing.png" in _bad(["predict", "--checkpoint", str(out / "best.pt"), str(tmp_path / "missing.png")],
                                 capsys)
    bad_image = tmp_path / "bad.jpg"
    bad_image.write_bytes(b"not a jpeg")
    assert "bad.jpg" in _bad(["predict", "--checkpoint", str(out / "best.pt"), str(bad_image)], capsys)
    folder = image_folder(tmp_path / "other", classes=("a", "b"))
    assert "classes" in _bad(["evaluate", "--checkpoint", str(out / "best.pt"), "--data", str(folder)], capsys)


def test_module_entry_point_runs_as_a_process():
    done = subprocess.run([sys.executable, "-m", "inception_nb", "train", "--data", "/no/such/folder"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: ") and "/no/such/folder" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow  # trains a model
def test_bench_json_reports_the_documented_figures():
    code, result = _run_json(["bench", "--image-size", "32", "--batch-size", "16", "--steps", "1", "--json"])
    assert code == 0
    for key in ("peak_gflops", "ours_img_s", "torchvision_img_s", "speedup_vs_torchvision", "ours_gflops",
                "fraction_of_peak", "data_img_s", "predict_ms"):
        assert result[key] > 0, key
    assert result["speedup_vs_torchvision"] == pytest.approx(result["ours_img_s"] / result["torchvision_img_s"],
                                                             rel=0.02)


def test_bare_command_names_the_program_once(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "(see: python -m inception_nb --help)" in err
    assert "inception_nb inception_nb" not in err


def test_version_prints_the_package_version(capsys):
    import inception_nb

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"inception_nb {inception_nb.__version__}"


def test_every_option_of_every_subcommand_says_its_default():
    from inception_nb.cli import build_parser

    parser = build_parser()
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        for action in sub._actions:
            if not action.option_strings or action.dest == "help":
                continue
            assert action.help and ("default" in action.help or "required" in action.help), \
                f"{name} {action.option_strings[0]}: {action.help!r}"


@pytest.mark.slow  # trains a model
def test_profile_option_trains_the_named_profile_and_options_override_it(tmp_path):
    code, result = _run_json(["train", "--profile", "quick", "--limit", "128", "--epochs", "1", "--batch-size",
                              "64", "--device", "cpu", "--out", str(tmp_path / "q"), "--json"])
    assert code == 0 and result["epochs"] == 1 and result["images_seen"] == 128
    from inception_nb.config import get_profile

    quick = get_profile("quick")
    saved = torch.load(tmp_path / "q" / "best.pt", weights_only=True)
    assert saved["image_size"] == quick.data.image_size
    assert saved["model_config"] == dict(quick.model.build(10, quick.data.channels).config)
    assert saved["train_config"]["lr"] == quick.train.lr and saved["train_config"]["time_budget"] is None
