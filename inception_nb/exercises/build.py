"""Build the student and solution notebooks of the exercises from their sources.

``python -m inception_nb.exercises make [--sources DIR] [--out DIR] [--check] [--no-execute] [--force]``

A source notebook (``exercises/NN_name.ipynb`` in the repository) marks what the student writes
with nbgrader's markers:

    ### BEGIN SOLUTION: build the four branches    (the text after ':' becomes the student's hint)
    ...solution code...
    ### END SOLUTION

The solution version drops the marker lines. The student version replaces each marked region with
``raise NotImplementedError("your code here: <hint>")`` at the marker's indentation; a region opened with
``### BEGIN SOLUTION (answers)`` instead keeps its ``name = value`` / ``"key": value,`` lines and
blanks each value to ``...``; in a markdown cell the region becomes "*Your answer here.*". Cells
with a region get the tag ``exercise``; check cells carry the tag ``check`` in the source.

Solution notebooks are committed with the outputs of a real run (nbval compares them), so a solution
whose cell sources changed is executed here with nbclient; one whose sources did not change keeps
its outputs. Student notebooks are written without outputs.

Why not nbgrader or otter-grader: nbgrader (an 11 MB wheel) brings a database (SQLAlchemy,
alembic), a Jupyter server extension and a course-directory layout, and otter-grader brings its own
assignment format, pandas and a Docker client; both are far more than five notebooks need. Their
useful core, one source with marked solutions rendered two ways, is the 60 lines below, runs
offline, and keeps the markers nbgrader uses, so the sources could move to nbgrader later.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from ..paths import atomic_write

# The clone this package sits in, when it runs from one (an editable install or PYTHONPATH).
CLONE_ROOT = Path(__file__).resolve().parent.parent.parent
BEGIN = re.compile(r"^(?P<indent>\s*)### BEGIN SOLUTION(?P<answers> \(answers\))?(?::\s*(?P<hint>.*?))?\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")
# One answer line: `name = value` or `"key": value,`, with an optional trailing comment.
ANSWER = re.compile(r"""^(?P<key>\s*(?:[A-Za-z_]\w*\s*=|"[^"]*"\s*:|'[^']*'\s*:))\s*.*?"""
                    r"""(?P<comma>,?)(?P<comment>\s+#.*)?$""")


def _placeholder(begin: re.Match, body: list[str], markdown: bool) -> list[str]:
    """Return the student's lines for one marked region."""
    if markdown:
        return ["*Your answer here.*"]
    if begin["answers"]:
        out = []
        for line in body:
            match = ANSWER.match(line)
            if line.strip() and not line.strip().startswith("#") and not match:
                raise ValueError(f"an (answers) region may hold only one-line `name = value` or `\"key\": value,` "
                                 f"lines, got {line!r}")
            out.append(f"{match['key']} ...{match['comma']}{match['comment'] or ''}" if match else line)
        return out
    hint = f"your code here: {begin['hint']}" if begin["hint"] else "your code here"
    quoted = '"' + hint.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return [f"{begin['indent']}# YOUR CODE HERE", f"{begin['indent']}raise NotImplementedError({quoted})"]


def render(source: str, student: bool, markdown: bool = False) -> str:
    """Return one cell's source as the student (regions replaced) or solution (markers dropped) sees it."""
    out: list[str] = []
    begin, body = None, []
    for number, line in enumerate(source.splitlines(), 1):
        if BEGIN.match(line):
            if begin:
                raise ValueError(f"line {number}: BEGIN SOLUTION inside another region")
            begin, body = BEGIN.match(line), []
        elif END.match(line):
            if not begin:
                raise ValueError(f"line {number}: END SOLUTION without BEGIN SOLUTION")
            out += _placeholder(begin, body, markdown) if student else body
            begin = None
        elif begin:
            body.append(line)
        else:
            out.append(line)
    if begin:
        raise ValueError("BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out)


def build(source_nb: nbformat.NotebookNode, name: str, student: bool) -> nbformat.NotebookNode:
    """Return the student or solution version of a source notebook, without outputs."""
    nb = copy.deepcopy(source_nb)
    for cell in nb.cells:
        if any(BEGIN.match(line) for line in cell.source.splitlines()):
            tags = cell.metadata.setdefault("tags", [])
            if "exercise" not in tags:
                tags.append("exercise")
        cell.source = render(cell.source, student, markdown=cell.cell_type == "markdown")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata["inception_nb"] = {"exercise": name}  # lets grading find the official checks after a rename
    return nb


def cell_sources(nb: nbformat.NotebookNode) -> list[tuple]:
    """Return what must match between a built and a committed notebook: type, source and tags per cell."""
    return [(c.cell_type, c.source, tuple(c.metadata.get("tags", []))) for c in nb.cells]


def find_sources(sources: Path | None = None) -> Path:
    """Return the folder of source notebooks: `sources`, else ./exercises, else the clone's exercises/."""
    tried = [Path(sources)] if sources else [Path.cwd() / "exercises", CLONE_ROOT / "exercises"]
    for folder in tried:
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            return folder
    raise FileNotFoundError("no exercise source notebooks (*.ipynb) in " + ", ".join(map(str, tried)) +
                            ". Fix: pass sources= (--sources DIR), the exercises/ folder of a clone of the repository")


def default_out(sources: Path) -> Path:
    """Return where the built notebooks go by default: notebooks/exercises beside the sources' folder."""
    return Path(sources).resolve().parent / "notebooks" / "exercises"


def targets(sources: Path, out: Path) -> dict[Path, nbformat.NotebookNode]:
    """Return {output path: freshly built notebook} for every source notebook in `sources`."""
    built = {}
    for path in sorted(Path(sources).glob("*.ipynb")):
        source = nbformat.read(path, as_version=4)
        built[out / "student" / path.name] = build(source, path.stem, student=True)
        built[out / "solutions" / path.name] = build(source, path.stem, student=False)
    return built


def stale(sources: Path, out: Path) -> list[Path]:
    """Return the output notebooks whose cell sources differ from what the sources build."""
    return [path for path, nb in targets(sources, out).items()
            if not path.exists() or cell_sources(nbformat.read(path, as_version=4)) != cell_sources(nb)]


def unexecuted(out: Path) -> list[Path]:
    """Return the solution notebooks with a code cell that has never run (written with execute=False)."""
    return [path for path in sorted((out / "solutions").glob("*.ipynb"))
            if any(c.cell_type == "code" and c.execution_count is None for c in nbformat.read(path, 4).cells)]


def execute(nb: nbformat.NotebookNode, folder: Path) -> None:
    """Run a notebook in place with nbclient, in its own folder as nbval will."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()


def make(sources: Path | None = None, out: Path | None = None, check: bool = False, run: bool = True,
         force: bool = False) -> int:
    """Write the out-of-date student and solution notebooks (check=True: only list them); return an exit code.

    run=False writes solutions without executing them; force=True re-executes every solution (after a
    check in this package changed what it prints).
    """
    sources = find_sources(sources)
    out = Path(out) if out else default_out(sources)
    outdated = stale(sources, out)
    if check:
        for path in outdated:
            print(f"out of date: {path}")
        print("run `python -m inception_nb.exercises make` to rebuild them" if outdated
              else "all exercise notebooks are up to date")
        return 1 if outdated else 0
    built = targets(sources, out)
    rerun = [p for p in built if p.parent.name == "solutions"] if force else unexecuted(out)
    todo = outdated + [p for p in rerun if p not in outdated and run]
    for path in todo:
        nb = built[path]
        if path.parent.name == "solutions" and run:
            print(f"executing {path} ...", flush=True)
            execute(nb, path.parent)
        atomic_write(path, lambda tmp, nb=nb: nbformat.write(nb, tmp))  # an interrupted run loses nothing
        print(f"wrote {path}")
    if not todo:
        print("all exercise notebooks are up to date")
    return 0
