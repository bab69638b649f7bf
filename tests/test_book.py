"""The book (make book) without building it: both editions hold the same notebooks, the link checker of
make book-check finds a broken link, a missing anchor and a link out of the site, and the edition mapping sends
a notebook's link to the right page. The build and the browser check themselves run in make book-check."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script(path: Path, name: str):
    """Import a file of scripts/ or book/ as a module (they are run as scripts, not installed)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


build_book = _script(ROOT / "scripts" / "build_book.py", "build_book")
check_book = _script(ROOT / "scripts" / "check_book.py", "check_book")


def test_both_editions_hold_the_series_and_the_student_handouts():
    pages = build_book.check_same_pages()
    names = [p.as_posix() for p in pages]
    series = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    handouts = sorted(f"exercises/student/{p.name}" for p in (ROOT / "notebooks/exercises/student").glob("*.ipynb"))
    assert len(series) == 6 and len(handouts) == 5
    assert names == sorted(series + handouts)
    assert not any("solutions" in name for name in names), "the book shows the handouts, never the solutions"


def test_check_same_pages_names_the_notebook_an_edition_lacks(tmp_path, monkeypatch):
    for folder in ("notebooks", "notebooks/zh"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "00_setup.ipynb").write_text("{}")
    (tmp_path / "notebooks" / "01_new.ipynb").write_text("{}")
    monkeypatch.setattr(build_book, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match=r"01_new\.ipynb.*make zh"):
        build_book.check_same_pages()


def _page(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!DOCTYPE html><html><body>{body}</body></html>", encoding="utf-8")


def test_link_checker_finds_broken_links_missing_anchors_and_links_out_of_the_site(tmp_path):
    site = tmp_path / "site"
    _page(site / "en" / "index.html", '<h1 id="top">x</h1><a href="a.html#part">ok</a><a href="#top">ok</a>'
                                      '<img src="_images/fig.png"><a href="https://example.org/">out</a>')
    _page(site / "en" / "a.html", '<section id="part"></section><a href="../zh/a.html">zh</a>')
    _page(site / "zh" / "a.html", '<a href="../en/a.html">en</a>')
    (site / "en" / "_images").mkdir()
    (site / "en" / "_images" / "fig.png").write_bytes(b"png")
    broken, checked, outside = check_book.check_links(site)
    assert (broken, checked, outside) == ([], 5, 1)

    _page(site / "zh" / "a.html", '<a href="../en/a.html#gone">en</a><a href="../../elsewhere.html">up</a>'
                                  '<a href="missing.html">x</a>')
    broken, _, _ = check_book.check_links(site)
    assert broken == ["zh/a.html: ../en/a.html#gone (no id 'gone' on that page)",
                      "zh/a.html: ../../elsewhere.html (leaves the site folder)",
                      "zh/a.html: missing.html (no such file)"]


def test_editions_map_a_notebook_link_to_its_page():
    pytest.importorskip("sphinx", reason="the [book] extra (make book) is not installed")
    editions = _script(ROOT / "book" / "editions.py", "editions")
    assert editions.page_of("notebooks/zh/exercises/student/01_inception_block.ipynb") == (
        "zh", "exercises/student/01_inception_block")
    assert editions.page_of("notebooks/03_visualization.ipynb") == ("en", "03_visualization")
    assert editions.page_of("notebooks/exercises/README.md") is None

    class Config:
        book_edition = "en"
        book_repository_url = "https://github.com/o/r"
        book_repository_root = str(ROOT)

    docs = {"index", "00_setup", "exercises/student/01_inception_block"}
    assert editions.outside_link(Config, docs, "00_setup", "zh/00_setup.ipynb") == "../zh/00_setup.html"
    assert editions.outside_link(Config, docs, "exercises/student/01_inception_block",
                                 "../../zh/exercises/student/01_inception_block.ipynb") == (
        "../../../zh/exercises/student/01_inception_block.html")
    assert editions.outside_link(Config, docs, "00_setup", "exercises/student/01_inception_block.ipynb") is None
    assert editions.outside_link(Config, docs, "00_setup", "exercises/README.md") == (
        "https://github.com/o/r/blob/main/notebooks/exercises/README.md")
    assert editions.outside_link(Config, docs, "00_setup", "no_such_file.ipynb") is None


def _progress_state(visibility: str | None) -> dict:
    """The widget state tqdm.auto leaves in a notebook: an HBox of a label, a bar and the counts."""
    def model(name: str, **state) -> dict:
        return {"model_name": name, "state": state}
    return {
        "box": model("HBoxModel", children=["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"],
                     layout="IPY_MODEL_layout"),
        "layout": model("LayoutModel", visibility=visibility),
        "left": model("HTMLModel", value="epoch\u20071\u2007train:\u2007100%"),
        "bar": model("FloatProgressModel", value=468.0, max=468.0),
        "right": model("HTMLModel", value="\u2007468/468\u2007[01:25&lt;00:00,\u2007acc=89.4%]"),
    }


def test_progress_widgets_become_the_text_they_ended_with():
    assert build_book.progress_text("box", _progress_state(None)) == (
        "epoch 1 train: 100%|##########| 468/468 [01:25<00:00, acc=89.4%]")
    assert build_book.progress_text("box", _progress_state("hidden")) == "", "a bar tqdm hid (leave=False) is gone"
    assert build_book.progress_text("other", _progress_state(None)) is None, "another widget is left alone"
    nb = {"metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": _progress_state(None)}}},
          "cells": [{"cell_type": "code", "outputs": [
              {"output_type": "display_data", "metadata": {},
               "data": {build_book.WIDGET_VIEW: {"model_id": "box"}, "text/plain": "epoch 1 train:   0%|"}}]},
              {"cell_type": "markdown", "source": "x"}]}
    out = build_book.with_progress_as_text(nb)
    assert "widgets" not in out["metadata"], "the widget state would be embedded in the page"
    assert out["cells"][0]["outputs"][0]["data"] == {"text/plain": "epoch 1 train: 100%|##########| 468/468 "
                                                                   "[01:25<00:00, acc=89.4%]"}
    assert "outputs" not in out["cells"][1]
