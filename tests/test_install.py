"""The package works outside its clone: installed non-editable into a folder (no data, no scripts beside it), it
finds the data where the README says, writes runs under the working directory, and the command line trains,
predicts and builds the exercises from another working directory."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Return a folder holding `pip install --target` of a copy of the package (its data left behind)."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"  # what pip builds from: build/ and *.egg-info land here, not in the repository
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "inception_nb", source / "inception_nb", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp / "site"
    # --no-index --no-deps --no-build-isolation: nothing is downloaded; this environment's setuptools builds it
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index",
                    "--no-deps", "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True, timeout=300)
    shutil.rmtree(source)  # the folder pip installed from is gone, as after `pip install git+URL`
    return target


def run(site: Path, cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python ARGS` as a user of the installed package would: only `site` added to the path."""
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("INCEPTION_NB_")}
    return subprocess.run([sys.executable, *args], cwd=cwd, env={**clean, "PYTHONPATH": str(site), **(env or {})},
                          capture_output=True, text=True, timeout=600)


@pytest.mark.process
def test_the_installed_copy_is_what_imports_and_it_carries_the_licence(site, tmp_path):
    done = run(site, tmp_path, "-c", "import inception_nb; print(inception_nb.__file__)")
    assert Path(done.stdout.strip()) == site / "inception_nb" / "__init__.py", done.stderr
    [metadata] = site.glob("inception_nb-*.dist-info/METADATA")
    assert "License-Expression: MIT" in metadata.read_text()
    assert not (site / "data").exists() and not (site / "runs").exists()


@pytest.mark.process
def test_without_data_anywhere_the_error_lists_where_it_looked(site, tmp_path):
    done = run(site, tmp_path, "-m", "inception_nb", "train", "--data", "fashion-mnist", "--epochs", "1")
    assert done.returncode == 2, done.stderr
    message = done.stderr
    assert "Traceback" not in message
    assert str(tmp_path / "data" / "fashion-mnist") in message, "the working directory's data/ is searched"
    assert "INCEPTION_NB_DATA" in message


@pytest.mark.process
@pytest.mark.slow
def test_train_evaluate_and_predict_from_another_working_directory(site, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    data = {"INCEPTION_NB_DATA": str(ROOT / "data")}
    done = run(site, work, "-m", "inception_nb", "train", "--data", "fashion-mnist", "--limit", "128",
               "--epochs", "1", "--batch-size", "32", "--json", env=data)
    assert done.returncode == 0, done.stderr
    assert (work / "runs" / "cli" / "best.pt").is_file(), "runs go under the working directory"
    assert not list(site.glob("runs")), "nothing is written into the installed package's folder"

    done = run(site, work, "-m", "inception_nb", "predict", "--checkpoint", "runs/cli/best.pt",
               str(ROOT / "data" / "samples"), "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["predictions"]) == len(list((ROOT / "data" / "samples").glob("*.png")))

    # the working directory's data/ is the next place looked at
    (work / "data").symlink_to(ROOT / "data", target_is_directory=True)
    done = run(site, work, "-m", "inception_nb", "evaluate", "--checkpoint", "runs/cli/best.pt",
               "--data", "fashion-mnist", "--limit", "64")
    assert done.returncode == 0, done.stderr


@pytest.mark.process
@pytest.mark.skipif(importlib.util.find_spec("inception_nb.exercises.build") is None,
                    reason="waits on branch `exercises`, which moves the exercise builder into the package")
def test_exercises_make_from_another_working_directory(site, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(ROOT / "exercises", work / "exercises")  # a teacher's copy of the sources, built where it is
    done = run(site, work, "-m", "inception_nb.exercises", "make", "--no-execute")
    assert done.returncode == 0, done.stderr
    for kind in ("student", "solutions"):
        built = sorted(p.name for p in (work / "notebooks" / "exercises" / kind).glob("*.ipynb"))
        assert built == sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
