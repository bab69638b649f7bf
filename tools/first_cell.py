"""The first code cell of every notebook: it makes ``inception_nb`` importable in any Jupyter and on Colab.

Usage: python -m tools.first_cell [--check] [NOTEBOOK ...]
       python -m tools.first_cell --repository https://github.com/OWNER/REPO

Without arguments it writes the cell into the numbered notebooks (notebooks/*.ipynb) and the exercise
sources (exercises/*.ipynb); ``python -m inception_nb.exercises make`` then carries it into the student
and solution notebooks. ``--check`` writes nothing and also checks those built notebooks.

The cell is generated, never edited by hand: the list of packages comes from pyproject.toml's
``dependencies`` and the repository URL from its ``[project.urls] Repository``, so both stay in one place.
Where ``inception_nb`` is importable (after ``make setup``, ``pip install``, or with PYTHONPATH) the
cell does nothing and prints nothing, so nbval sees the same empty output everywhere.

``--repository URL`` points a fork or a course's copy at itself: it writes URL into pyproject.toml, rewrites
the README's Colab and GitHub links and puts the new URL into the first cell of every notebook (the Chinese
edition and the built exercises included), all files or none.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import tomllib

REPO_ROOT = Path(__file__).resolve().parent.parent  # tools/ sits at the root of a clone

CELL_ID = "first-cell"
MARKER = "#@title First cell, no need to read it:"  # the line that identifies the cell on a refresh
OLD_MARKERS = ("# First cell (no need to read it):",)  # earlier versions, replaced on a refresh
# Collapsed where it is read: JupyterLab hides the source (a "..." line stays), Colab shows only the title.
METADATA = {"jupyter": {"source_hidden": True}, "cellView": "form"}
# Distributions whose import name differs from the distribution name.
IMPORT_NAMES = {"pillow": "PIL"}

TEMPLATE = '''\
{marker} makes inception_nb importable in any Jupyter and on Colab (tools/first_cell.py)
import importlib, importlib.metadata, importlib.util, os, pathlib, subprocess, sys
if importlib.util.find_spec("inception_nb") is None:  # not installed (make setup installs it)
    here = pathlib.Path.cwd().resolve()
    repo = next((p for p in (here, *here.parents) if (p / "inception_nb" / "__init__.py").is_file()), here / "{folder}")
    if not repo.is_dir():  # not inside a clone (Colab): clone the repository into the working directory
        subprocess.run(["git", "clone", "--depth", "1", "{url}", str(repo)], check=True)
    sys.path.insert(0, str(repo))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))
    needed = {needed}  # pyproject.toml's dependencies
    missing = [dist for dist in needed if importlib.util.find_spec({import_names}.get(dist, dist)) is None]
    if missing:  # pin what is installed, so that pip adds packages and never replaces one (torch above all)
        kept = [f"{{dist}}=={{importlib.metadata.version(dist)}}" for dist in needed if dist not in missing]
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing, *kept], check=True)
        importlib.invalidate_caches()'''


def _project(root: Path = REPO_ROOT) -> dict:
    """Return pyproject.toml's [project] table."""
    if not (root / "pyproject.toml").is_file():
        raise FileNotFoundError(f"{root / 'pyproject.toml'} not found: the first cell is generated from a clone's "
                                "pyproject.toml; run python -m tools.first_cell with the clone's package")
    with open(root / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def repository_url(root: Path = REPO_ROOT) -> str:
    """Return the repository URL the cell clones from: [project.urls] Repository in pyproject.toml."""
    return _project(root)["urls"]["Repository"]


def requirement_name(requirement: str) -> str:
    """Return the distribution name of a requirement such as 'torch>=2.5.1', lower-cased."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"cannot read a distribution name from the requirement {requirement!r} in pyproject.toml")
    return match[1].lower()


def cell_source(root: Path = REPO_ROOT) -> str:
    """Return the source of the first cell, generated from pyproject.toml."""
    project = _project(root)
    dists = [requirement_name(r) for r in project["dependencies"]]
    import_names = {d: IMPORT_NAMES[d] for d in dists if d in IMPORT_NAMES}
    url = repository_url(root)
    folder = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return TEMPLATE.format(marker=MARKER, url=url, folder=folder, needed=json.dumps(dists),
                           import_names=json.dumps(import_names))


def _is_first_cell(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and cell.source.startswith((MARKER, *OLD_MARKERS))


def with_first_cell(nb: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """Return nb with the first cell (source) as its first code cell, replacing an older version of it."""
    cells = [c for c in nb.cells if not _is_first_cell(c)]
    at = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    cell = nbformat.v4.new_code_cell(source, metadata=copy.deepcopy(METADATA))
    if (nb.nbformat, nb.nbformat_minor) >= (4, 5):
        if any(c.get("id") == CELL_ID for c in cells):
            raise ValueError(f"another cell already has the id {CELL_ID!r}; rename it")
        cell.id = CELL_ID
    else:
        cell.pop("id", None)
    nb.cells = cells[:at] + [cell] + cells[at:]
    return nb


def has_first_cell(nb: nbformat.NotebookNode, source: str) -> bool:
    """Whether the first code cell of nb is exactly the generated first cell."""
    first = next((c for c in nb.cells if c.cell_type == "code"), None)
    return (first is not None and first.source == source and not first.get("outputs")
            and all(first.metadata.get(key) == value for key, value in METADATA.items()))


def default_notebooks(root: Path = REPO_ROOT, built: bool = False) -> list[Path]:
    """Return the numbered notebooks and the exercise sources (and with built=True, the student/solutions)."""
    paths = sorted((root / "notebooks").glob("*.ipynb")) + sorted((root / "exercises").glob("*.ipynb"))
    if built:
        paths += sorted((root / "notebooks" / "exercises").glob("*/*.ipynb"))
    return paths


GITHUB_URL = re.compile(r"https://github\.com/(?P<path>[\w.-]+/[\w.-]+?)(?:\.git)?/?")
# Where the READMEs name the repository: its GitHub page and Colab's view of it, each followed by OWNER/REPO.
LINK_PREFIXES = ("https://github.com/", "https://colab.research.google.com/github/")
READMES = ("README.md", "README.zh-CN.md")


def github_path(url: str) -> str:
    """Return OWNER/REPO of a GitHub repository URL, or raise ValueError saying what URL is wanted."""
    match = GITHUB_URL.fullmatch(url.strip())
    if not match:
        raise ValueError(f"{url!r} is not a GitHub repository URL; give https://github.com/OWNER/REPO "
                         "(Colab, which the README's links open, reads notebooks from GitHub only)")
    return match["path"]


def relink(text: str, old_path: str, new_path: str) -> str:
    """Return text with every GitHub and Colab link to old_path (OWNER/REPO) pointing at new_path."""
    for prefix in LINK_PREFIXES:
        text = re.sub(re.escape(prefix + old_path) + r"(?![\w.-])", lambda _: prefix + new_path, text)
    return text


def notebooks_with_first_cell(root: Path = REPO_ROOT) -> list[Path]:
    """Return every notebook of the clone that holds the first cell: sources, built exercises, Chinese edition."""
    paths = sorted(root.glob("notebooks/**/*.ipynb")) + sorted(root.glob("exercises/*.ipynb"))
    return [p for p in paths if ".ipynb_checkpoints" not in p.parts
            and any(_is_first_cell(c) for c in nbformat.read(p, as_version=4).cells)]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def set_repository(url: str, root: Path = REPO_ROOT) -> list[Path]:
    """Point pyproject.toml, the READMEs' links and every notebook's first cell at url; return the files changed.

    Every new text is prepared before the first file is written, so a problem leaves the clone as it was.
    """
    url = url.strip().removesuffix("/").removesuffix(".git")
    new_path, old_path = github_path(url), github_path(repository_url(root))
    pyproject = root / "pyproject.toml"
    old_text = pyproject.read_text(encoding="utf-8")
    text, count = re.subn(r'^(Repository\s*=\s*)"[^"]*"', lambda m: f'{m[1]}"{url}"', old_text, flags=re.M)
    if count != 1:
        raise ValueError(f"{pyproject} must have exactly one `Repository = \"...\"` line under [project.urls]")
    new = {pyproject: text}
    for name in READMES:
        if (root / name).is_file():
            new[root / name] = relink((root / name).read_text(encoding="utf-8"), old_path, new_path)
    notebooks = notebooks_with_first_cell(root)
    _write_atomic(pyproject, text)  # the cell is generated from pyproject.toml
    try:
        source = cell_source(root)
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                if _is_first_cell(cell):
                    cell.source = source
            text = nbformat.writes(nb)
            new[path] = text if text.endswith("\n") else text + "\n"  # as nbformat.write ends a file
    except Exception:
        _write_atomic(pyproject, old_text)
        raise
    changed = [path for path, text in new.items() if path == pyproject or path.read_text(encoding="utf-8") != text]
    for path in changed:
        _write_atomic(path, new[path])
    return changed


def main(argv: list[str] | None = None) -> int:
    """Write the first cell into the notebooks; with --check, list those without it and exit 1 if any."""
    parser = argparse.ArgumentParser(prog="python -m tools.first_cell", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to update (default: notebooks/*.ipynb and exercises/*.ipynb)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a notebook lacks the current first cell (default: all "
                             "notebooks, the built student/solution ones included)")
    parser.add_argument("--repository", metavar="URL",
                        help="point pyproject.toml, the READMEs' links and every notebook's first cell at this "
                             "GitHub repository (https://github.com/OWNER/REPO), e.g. for a fork")
    args = parser.parse_args(argv)
    if args.repository:
        try:
            changed = set_repository(args.repository)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"wrote {repository_url()} into {len(changed)} files (pyproject.toml, READMEs, notebooks); commit them")
        return 0
    source = cell_source()
    paths = args.notebooks or default_notebooks(built=args.check)
    outdated = [p for p in paths if not has_first_cell(nbformat.read(p, as_version=4), source)]
    if args.check:
        for path in outdated:
            print(f"no current first cell: {path}")
        if outdated:
            print("fix: python -m tools.first_cell, then python -m inception_nb.exercises make")
        return 1 if outdated else 0
    for path in outdated:
        nbformat.write(with_first_cell(nbformat.read(path, as_version=4), source), path)
        print(f"wrote the first cell into {path}")
    if not outdated:
        print("every notebook has the current first cell")
    return 0


if __name__ == "__main__":
    sys.exit(main())
