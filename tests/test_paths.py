"""Where data and runs are found: an explicit path, $INCEPTION_NB_DATA, ./data, the clone the package came from;
relative dataset paths mean what a user means from a notebook's folder; errors list every place looked at."""

import json
from pathlib import Path

import pytest
from PIL import Image

from inception_nb import paths
from inception_nb.config import DataConfig
from inception_nb.data import DataError, load_data, load_fashion_mnist

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clone(tmp_path, monkeypatch) -> Path:
    """A clone without Fashion-MNIST, that the package believes it came from; no INCEPTION_NB_* set."""
    root = tmp_path / "clone"
    (root / "inception_nb").mkdir(parents=True)
    (root / "inception_nb" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text("")
    (root / "notebooks").mkdir()
    monkeypatch.setattr(paths, "clone_root", lambda: root)
    monkeypatch.delenv("INCEPTION_NB_DATA", raising=False)
    monkeypatch.delenv("INCEPTION_NB_RUNS", raising=False)
    return root


def _flowers(folder: Path) -> Path:
    for name, grey in (("daisy", 60), ("rose", 200)):
        (folder / name).mkdir(parents=True)
        for i in range(4):
            Image.new("L", (8, 8), grey + i).save(folder / name / f"{i}.png")
    return folder


def _config(dataset) -> DataConfig:
    return DataConfig(dataset=dataset, image_size=28, channels=1, batch_size=2, limit=None)


def test_data_roots_come_in_the_documented_order(clone, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert paths.data_roots() == [work / "data", clone / "data"]
    monkeypatch.setenv("INCEPTION_NB_DATA", str(tmp_path / "shared"))
    assert paths.data_roots() == [tmp_path / "shared", work / "data", clone / "data"]


def test_fashion_mnist_missing_everywhere_lists_every_place_looked_at(clone, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("INCEPTION_NB_DATA", str(tmp_path / "shared"))
    with pytest.raises(DataError) as info:
        load_fashion_mnist("test")
    for place in (tmp_path / "shared", work / "data", clone / "data"):
        assert str(place / "fashion-mnist") in str(info.value)
    assert "INCEPTION_NB_DATA" in str(info.value)


def test_fashion_mnist_is_found_under_the_working_directorys_data(clone, tmp_path, monkeypatch):
    (tmp_path / "data").symlink_to(ROOT / "data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)


def test_a_notebook_finds_the_readmes_relative_dataset_path(clone, monkeypatch):
    # README: DATASET = "data/flowers"; a notebook's kernel runs in notebooks/, not in the repository root
    _flowers(clone / "data" / "flowers")
    monkeypatch.chdir(clone / "notebooks")
    for dataset in ("data/flowers", "flowers", str(clone / "data" / "flowers")):
        assert load_data(_config(dataset)).classes == ["daisy", "rose"], dataset


def test_a_relative_path_means_the_working_directory_first(clone, tmp_path, monkeypatch):
    _flowers(clone / "data" / "flowers")
    mine = tmp_path / "mine"
    (mine / "data").mkdir(parents=True)
    for name in ("tulip", "iris"):
        (mine / "data" / "flowers" / name).mkdir(parents=True)
        Image.new("L", (8, 8), 99).save(mine / "data" / "flowers" / name / "0.png")
        Image.new("L", (8, 8), 98).save(mine / "data" / "flowers" / name / "1.png")
    monkeypatch.chdir(mine)
    assert load_data(_config("data/flowers")).classes == ["iris", "tulip"]


def test_a_missing_dataset_lists_every_place_looked_at(clone, tmp_path, monkeypatch):
    monkeypatch.chdir(clone / "notebooks")
    with pytest.raises(DataError) as info:
        load_data(_config("data/flowers"))
    message = str(info.value)
    for place in (clone / "notebooks" / "data" / "flowers", clone / "data" / "flowers"):
        assert str(place) in message
    assert "DataConfig.dataset" in message


@pytest.mark.parametrize("dataset", ["", "  ", None])
def test_an_empty_dataset_is_refused_by_name_without_a_scan(clone, monkeypatch, dataset):
    _flowers(clone / "notebooks" / "oops")  # a scan of the working directory would find two classes here
    monkeypatch.chdir(clone / "notebooks")
    with pytest.raises(DataError, match=r"DataConfig\.dataset is empty"):
        load_data(_config(dataset))


def _site_with_record(site: Path, url: str) -> Path:
    record = site / "inception_nb-0.1.0.dist-info" / "direct_url.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"dir_info": {}, "url": url}))
    return site


def test_clone_root_is_the_package_parent_or_the_folder_pip_installed_from(tmp_path, monkeypatch):
    assert paths.clone_root() == ROOT  # this checkout (editable install or PYTHONPATH)
    source = tmp_path / "my clone"
    (source / "inception_nb").mkdir(parents=True)
    (source / "inception_nb" / "__init__.py").write_text("")
    (source / "pyproject.toml").write_text("")
    monkeypatch.setattr(paths, "PACKAGE_PARENT", _site_with_record(tmp_path / "site", source.as_uri()))
    assert paths.clone_root() == source  # `pip install .` from a clone: PEP 610's direct_url.json
    monkeypatch.setattr(paths, "PACKAGE_PARENT", _site_with_record(tmp_path / "gone", (tmp_path / "x").as_uri()))
    assert paths.clone_root() is None  # installed from a folder that is no longer a clone
    monkeypatch.setattr(paths, "PACKAGE_PARENT", _site_with_record(tmp_path / "git", "https://github.com/a/b"))
    assert paths.clone_root() is None  # pip install git+URL: nothing on this disk


def test_runs_go_to_the_clone_from_inside_it_else_to_the_working_directory(clone, tmp_path, monkeypatch):
    monkeypatch.chdir(clone / "notebooks")
    assert paths.runs_dir() == clone / "runs"
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert paths.runs_dir() == elsewhere / "runs"
    monkeypatch.setenv("INCEPTION_NB_RUNS", str(tmp_path / "my-runs"))
    assert paths.runs_dir() == tmp_path / "my-runs"
