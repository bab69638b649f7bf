"""Sphinx extension for the book's two editions: the link to the other language on every page, and links
between notebooks that cross editions or leave the book.

Each edition is built on its own from a folder that mirrors one notebook folder of the repository
(``notebooks/`` for English, ``notebooks/zh/`` for Chinese), so both editions have the same page names and
``en/<page>.html`` and ``zh/<page>.html`` are the same notebook. A notebook's link into the other edition
(``zh/00_setup.ipynb`` from English) goes to that edition's page; a link to a repository file that is not
in the book (a teacher's README, a solution) goes to the file in the repository named in pyproject.toml.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.transforms.post_transforms import SphinxPostTransform

# edition -> (the repository folder its pages mirror, the Sphinx language, the name of the language in itself)
EDITIONS = {
    "en": ("notebooks", "en", "English"),
    "zh": ("notebooks/zh", "zh_CN", "简体中文"),
}
TITLES = {"en": "Inception V1 in PyTorch", "zh": "用 PyTorch 学 Inception V1"}


def edition_of(language: str) -> str:
    """Return the edition ("en" or "zh") that a Sphinx language code builds."""
    return "zh" if language.lower().startswith("zh") else "en"


def other_edition(edition: str) -> str:
    """Return the edition in the other language."""
    return "en" if edition == "zh" else "zh"


def to_site_root(pagename: str) -> str:
    """Return the relative URL from a page of an edition to the site root above both editions."""
    return "../" * (pagename.count("/") + 1)


def page_of(repo_path: str) -> tuple[str, str] | None:
    """Return (edition, page name) of a notebook path in the repository, or None if no edition holds it."""
    if not repo_path.endswith(".ipynb"):
        return None
    for edition, (folder, _, _) in sorted(EDITIONS.items(), key=lambda item: -len(item[1][0])):
        if repo_path.startswith(folder + "/"):
            return edition, repo_path[len(folder) + 1:].removesuffix(".ipynb")
    return None


def outside_link(config: Config, found_docs: set[str], docname: str, target: str) -> str | None:
    """Return the URL for a link from docname that leaves its edition, or None if the edition has the page."""
    edition = config.book_edition
    here = posixpath.dirname(f"{EDITIONS[edition][0]}/{docname}")
    repo_path = posixpath.normpath(posixpath.join(here, target))
    page = page_of(repo_path)
    if page is not None and page[1] in found_docs:
        if page[0] == edition:
            return None  # a page of this edition: MyST resolves it
        # both editions have the same pages (the build script checks that)
        return f"{to_site_root(docname)}{page[0]}/{page[1]}.html"
    if repo_path.startswith("../") or not (Path(config.book_repository_root) / repo_path).exists():
        return None  # nothing there: MyST warns, and the warning fails the build
    return f"{config.book_repository_url.rstrip('/')}/blob/main/{repo_path}"


class EditionLinks(SphinxPostTransform):
    """Turn the links MyST cannot resolve inside one edition into links to the other edition or the repository."""

    default_priority = 5  # before MyST's own resolver (9), which would warn about them

    def run(self, **kwargs) -> None:
        """Replace each such pending link by a plain reference."""
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst":
                continue
            path, _, anchor = node["reftarget"].partition("#")
            uri = path and outside_link(self.config, self.env.found_docs, self.env.docname, path)
            if uri:
                reference = nodes.reference("", "", internal=False, refuri=uri + (f"#{anchor}" if anchor else ""))
                reference += node.children
                node.replace_self(reference)


def _language_link(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Put a link to the same page in the other edition at the top of the page's body."""
    if "body" not in context:
        return
    other = other_edition(app.config.book_edition)
    _, language, name = EDITIONS[other]
    href = f"{to_site_root(pagename)}{other}/{pagename}.html"
    lang = language.replace("_", "-")
    link = (f'<p class="book-language-link"><a href="{href}" hreflang="{lang}" lang="{lang}">{name}</a></p>\n')
    context["body"] = link + context["body"]


def _choose_edition(app: Sphinx, config: Config) -> None:
    """Set the edition, its title and the words of MyST-NB's fold button from the language being built."""
    config.book_edition = edition_of(config.language or "en")
    config.html_title = TITLES[config.book_edition]
    config.project = TITLES[config.book_edition]
    if config.book_edition == "zh":  # MyST-NB's button on the folded first cell has no translation of its own
        config.nb_code_prompt_show, config.nb_code_prompt_hide = "显示代码", "隐藏代码"


def _add_edition_files(app: Sphinx) -> None:
    """Add the edition's own script: the Chinese edition's search needs the stemmer Sphinx 9.0 forgot."""
    if app.config.book_edition == "zh":
        app.add_js_file("zh-search-stemmer.js")


def setup(app: Sphinx) -> dict:
    """Register the configuration values, the link transform and the language link."""
    app.add_config_value("book_edition", "en", "env")
    app.add_config_value("book_repository_url", "", "env")
    app.add_config_value("book_repository_root", "", "env")
    app.connect("config-inited", _choose_edition)
    app.connect("builder-inited", _add_edition_files)
    app.add_post_transform(EditionLinks)
    app.connect("html-page-context", _language_link)
    app.add_css_file("editions.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
