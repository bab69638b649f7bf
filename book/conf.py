"""Sphinx configuration shared by both editions of the book (scripts/build_book.py builds them).

The edition follows the language: `-D language=zh_CN` builds the Chinese one (book/editions.py).
The notebooks are rendered with their committed outputs and never executed.

Why Sphinx itself and not the `jupyter-book` command: Jupyter Book 2 (mystmd) downloads its theme from
api.mystmd.org at build time (`jupyter-book build --html` 2.1.7 stops with "request to
https://api.mystmd.org/templates/site/myst/book-theme failed" without that host), and Jupyter Book 1 is this
same stack (Sphinx, MyST-NB, sphinx-book-theme) behind a command that would need `jupyter-book<2`, a cap the
project's floors-only dependency rule (tests/test_foundation.py) does not allow.
"""

import sys
import tomllib
from pathlib import Path

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
sys.path.insert(0, str(BOOK))

with open(ROOT / "pyproject.toml", "rb") as f:
    REPOSITORY = tomllib.load(f)["project"]["urls"]["Repository"]

extensions = ["myst_nb", "editions"]
root_doc = "index"
language = "en"
exclude_patterns = ["**/.ipynb_checkpoints", "**/conftest.py"]
author = "the inception-nb authors"
copyright = "the inception-nb authors; text and figures CC BY 4.0, code MIT"

# Render what was committed: no kernel, no network.
nb_execution_mode = "off"
# tqdm's progress widgets need widget JavaScript from a CDN; show their text form instead.
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_static_path = [str(BOOK / "_static")]
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "repository_url": REPOSITORY,
    "use_repository_button": True,
    "use_download_button": False,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
}

book_repository_url = REPOSITORY
book_repository_root = str(ROOT)
