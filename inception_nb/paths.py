"""Where things live: the repository, the data and the runs, decided here only.

Data is looked for in this order: an explicit path, ``$INCEPTION_NB_DATA``, ``./data`` under the working
directory, then the clone the package came from (its parent folder, or the folder ``pip install .`` built
it from). Runs go to ``$INCEPTION_NB_RUNS``; else to the clone's ``runs/`` while the working directory is
inside that clone (notebooks run in ``notebooks/``, the CLI in the root: both share one ``runs/``); else to
``./runs`` under the working directory, never into an installed package's folder.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from .oserrors import PathError, describe_os_error

__all__ = ["REPO_ROOT", "DATA_ROOT", "RUNS_DIR", "clone_root", "data_roots", "dataset_candidates", "runs_dir",
           "atomic_write"]

TMP_SUFFIX = ".tmp"  # atomic_write's temporary files end so; checkpoint.remove_orphaned_temps finds them by it
TMP_MARK = "inception-nb"  # in every temporary file's name, so that only files this program wrote are removed

# The folder that holds the package: the repository in a clone (editable install, PYTHONPATH), site-packages
# or a --target folder in a plain install.
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def _is_clone(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file() and (folder / "inception_nb" / "__init__.py").is_file()


def clone_root() -> Path | None:
    """Return the clone the package came from, or None for a package installed without one on this disk."""
    if _is_clone(PACKAGE_PARENT):
        return PACKAGE_PARENT
    # pip records the folder a non-editable install was built from (PEP 610's direct_url.json)
    for record in sorted(PACKAGE_PARENT.glob("inception_nb-*.dist-info/direct_url.json")):
        try:
            url = urlparse(json.loads(record.read_text()).get("url", ""))
        except (OSError, ValueError, AttributeError):
            continue
        source = Path(unquote(url.path))
        if url.scheme == "file" and _is_clone(source):
            return source
    return None


def _unique(folders: list[Path]) -> list[Path]:
    seen: set[str] = set()
    kept = []
    for folder in folders:
        key = os.path.normcase(os.path.abspath(folder))
        if key not in seen:
            seen.add(key)
            kept.append(folder)
    return kept


def data_roots() -> list[Path]:
    """Return the data folders in the order they are searched: $INCEPTION_NB_DATA, ./data, the clone's data/."""
    env = os.environ.get("INCEPTION_NB_DATA")
    roots = [Path(env).expanduser().absolute()] if env else []
    roots.append(Path.cwd() / "data")
    clone = clone_root()
    if clone is not None:
        roots.append(clone / "data")
    return _unique(roots)


def dataset_candidates(dataset: str | os.PathLike) -> list[Path]:
    """Return the folders a dataset path may mean, in the order they are tried.

    An absolute path means itself. A relative one means, in turn: the path from the working directory (as a
    shell reads it), the path under each data root ($INCEPTION_NB_DATA, ./data, the clone's data/), and
    under the clone itself, where the README's ``data/flowers`` is whatever folder a notebook runs in.
    """
    path = Path(dataset).expanduser()
    if path.is_absolute():
        return [path]
    clone = clone_root()
    bases = [Path.cwd(), *data_roots(), *([clone] if clone is not None else [])]
    return _unique([base / path for base in bases])


def runs_dir() -> Path:
    """Return where training runs go: $INCEPTION_NB_RUNS, the clone's runs/ from inside the clone, else ./runs."""
    if os.environ.get("INCEPTION_NB_RUNS"):
        return Path(os.environ["INCEPTION_NB_RUNS"]).expanduser()
    cwd, clone = Path.cwd().resolve(), clone_root()
    if clone is not None and cwd.is_relative_to(clone.resolve()):
        return clone / "runs"
    return cwd / "runs"


def _data_root() -> Path:
    # the folder searched first that exists; $INCEPTION_NB_DATA counts even before it exists
    roots = data_roots()
    if os.environ.get("INCEPTION_NB_DATA"):
        return roots[0]
    return next((root for root in roots if root.is_dir()), roots[0])


# The clone (notebooks/, data/, exercises/): also for a package `pip install .` put into site-packages.
REPO_ROOT = clone_root() or PACKAGE_PARENT
# As found when the package was imported: where data/samples and data/fashion-mnist are read from, and where
# notebooks, the CLI and `make run` write training runs. Lookups at run time call the functions above.
DATA_ROOT = _data_root()
RUNS_DIR = runs_dir()


def atomic_write(path, write: Callable[[Path], None]) -> None:
    """Call `write(temporary path)`, then rename that file over `path`: the old file or the complete new one.

    A write that fails (disk full, ...) leaves the old file as it was and raises a PathError naming `path`.
    """
    path = Path(path)
    # A name of our own per write (two writers never share a temporary file) that says who wrote it, created
    # the way open() creates any file, so the result gets the umask's ordinary mode rather than mkstemp's 0600.
    tmp = path.parent / f"{path.name}.{TMP_MARK}-{os.getpid()}-{secrets.token_hex(4)}{TMP_SUFFIX}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        open(tmp, "xb").close()
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())  # the rename must not reach the disk before the data does
        os.replace(tmp, path)  # atomic on POSIX and Windows when on the same filesystem
    except OSError as err:
        if isinstance(err, PathError):
            raise
        kept = f"; the previous {path.name} is kept" if path.exists() else ""
        raise PathError(err.errno, describe_os_error(err, path) + kept, str(path)) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
