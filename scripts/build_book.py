"""Build the series as a static website, English and Chinese editions, from the committed notebooks.

Usage: python scripts/build_book.py [--out DIR]   (make book; default out/book)

Nothing is executed and nothing is downloaded: Sphinx with MyST-NB renders the outputs the notebooks were
committed with. Each edition's pages are copied from its notebook folder (notebooks/ or notebooks/zh/), keeping
the folder layout, next to the edition's home page (book/en/index.md, book/zh/index.md); book/conf.py and
book/editions.py configure both builds. The website is DIR/site/: en/ and zh/ with the same page names, and an
index.html that sends a visitor to the English edition. Publish DIR/site as it is (GitHub Pages, any web server).
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
# edition -> (notebook folder, Sphinx language); book/editions.py maps each edition's links the same way
EDITIONS = {"en": ("notebooks", "en"), "zh": ("notebooks/zh", "zh_CN")}
# What each edition holds, relative to its notebook folder: the series and the students' exercise handouts.
PAGES = ("[0-9][0-9]_*.ipynb", "exercises/student/*.ipynb")
# The cell id of the notebooks' generated first cell (first_cell.CELL_ID): setup code a reader need not see, so its
# source is folded away behind a "show" button (MyST-NB's hide-input tag) on the page, as its comment invites.
FIRST_CELL_ID = "first-cell"


def pages(edition: str) -> list[Path]:
    """Return the notebooks of an edition, relative to its notebook folder."""
    folder = ROOT / EDITIONS[edition][0]
    return sorted(path.relative_to(folder) for pattern in PAGES for path in folder.glob(pattern))


def check_same_pages() -> list[Path]:
    """Return the pages both editions share; stop with an error if one edition lacks a page of the other."""
    english, chinese = set(pages("en")), set(pages("zh"))
    if not english:
        sys.exit("error: no notebooks found under notebooks/; run this from a clone of the repository")
    if english != chinese:
        only = sorted(map(str, english ^ chinese))
        sys.exit(f"error: the editions hold different notebooks ({', '.join(only)}); "
                 "rebuild the Chinese edition with `make zh` so that every page has its translation")
    return sorted(english)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def progress_text(model_id: str, state: dict) -> str | None:
    """Return what a tqdm progress widget showed when the notebook was saved, as tqdm prints it in a terminal
    ("epoch 1 train: 100%|##########| 468/468 [...]"); "" for a bar tqdm hid when done; None if unknown."""
    box = state.get(model_id, {}).get("state", {})
    children = [state.get(c.removeprefix("IPY_MODEL_"), {}).get("state", {}) for c in box.get("children", [])]
    layout = state.get(box.get("layout", "").removeprefix("IPY_MODEL_"), {}).get("state", {})
    if len(children) != 3 or "max" not in children[1]:
        return None
    if layout.get("visibility") == "hidden":
        return ""
    left, bar, right = children
    filled = round(10 * bar["value"] / bar["max"]) if bar["max"] else 10
    text = f"{left['value']}|{'#' * filled}{' ' * (10 - filled)}|{right['value']}"
    return html.unescape(text).replace("\u2007", " ")


def with_progress_as_text(notebook: dict) -> dict:
    """Replace the notebook's progress widgets by the text they showed: the widgets' JavaScript would come from a
    CDN, and their plain-text fallback is tqdm's first line (0%), not what the run printed last."""
    state = notebook.get("metadata", {}).pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    for cell in notebook["cells"]:
        outputs = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            text = progress_text(view["model_id"], state.get("state", {})) if view else None
            if text is None:
                outputs.append(output)
            elif text:
                outputs.append({**output, "data": {"text/plain": text}})
        if "outputs" in cell:
            cell["outputs"] = outputs
    return notebook


def stage(edition: str, source: Path) -> None:
    """Copy an edition's home page and notebooks into source/, keeping the notebook folder's layout; the copies
    differ from the committed notebooks only in the hide-input tag of the first cell and in progress bars shown as
    the text they ended with."""
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    shutil.copy2(BOOK / edition / "index.md", source / "index.md")
    for page in pages(edition):
        (source / page).parent.mkdir(parents=True, exist_ok=True)
        notebook = with_progress_as_text(json.loads((ROOT / EDITIONS[edition][0] / page).read_text(encoding="utf-8")))
        for cell in notebook["cells"]:
            if cell.get("id") == FIRST_CELL_ID:
                cell.setdefault("metadata", {}).setdefault("tags", []).append("hide-input")
        (source / page).write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")


def build(out: Path) -> Path:
    """Build both editions into out/site and return that folder; any Sphinx warning fails the build."""
    check_same_pages()
    site = out / "site"
    shutil.rmtree(site, ignore_errors=True)
    for edition, (_, language) in EDITIONS.items():
        source = out / "src" / edition
        stage(edition, source)
        started = time.perf_counter()
        command = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(BOOK), "-D", f"language={language}",
                   "-d", str(out / "doctrees" / edition), "-W", "--keep-going", "-q", str(source), str(site / edition)]
        if subprocess.run(command).returncode != 0:
            sys.exit(f"error: the {edition} edition did not build (Sphinx's messages above name the page)")
        print(f"built the {edition} edition in {time.perf_counter() - started:.1f} s: {site / edition}")
    shutil.copy2(BOOK / "site-index.html", site / "index.html")
    (site / ".nojekyll").touch()  # GitHub Pages would otherwise hide the folders Sphinx starts with "_"
    return site


def main(argv: list[str] | None = None) -> int:
    """Build the website and print where it is."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "book", help="output folder (default: out/book)")
    args = parser.parse_args(argv)
    site = build(args.out.resolve())
    print(f"open {site / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
