"""Grading of submitted exercise notebooks: run each with the official check cells, report pass/fail."""

from __future__ import annotations

import copy
import re
import time
from pathlib import Path
from typing import Any, Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
SOURCES_DIR = REPO_ROOT / "exercises"  # the official check cells live in these source notebooks

# ----------------------------------------------------------------------------- grading

def _tags(cell: Any) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def _exercise_of(nb: Any, path: Path) -> Optional[str]:
    name = nb.metadata.get("inception_nb", {}).get("exercise")
    if name:
        return name
    return next((s.stem for s in sorted(SOURCES_DIR.glob("*.ipynb")) if path.stem.startswith(s.stem)), None)


def grade_notebook(path: Path, timeout: float = 300.0) -> list[dict]:
    """Execute one submitted notebook with the official check cells appended; return one row per check."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    name = _exercise_of(nb, path)
    source = SOURCES_DIR / f"{name}.ipynb"
    official = nbformat.read(source, as_version=4) if name and source.exists() else nb  # else trust its own
    checks = [copy.deepcopy(c) for c in official.cells if c.cell_type == "code" and "check" in _tags(c)]
    if not checks:
        return [{"notebook": str(path), "exercise": name, "check": "(notebook)", "passed": False,
                 "message": "no check cells found: is this one of the exercise notebooks?"}]
    # The submission's own check cells are dropped: a student who edits one cannot fake a pass.
    cells = [c for c in nb.cells if "check" not in _tags(c)] + checks
    run = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    # The teacher's python3 kernel, whatever kernel the student had: grading runs in this environment.
    client = NotebookClient(run, timeout=int(timeout), allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    failure, done, deadline = None, 0, time.monotonic() + timeout
    try:
        with client.setup_kernel():
            for index, cell in enumerate(run.cells):
                client.timeout = max(1, int(deadline - time.monotonic()))
                client.execute_cell(cell, index, execution_count=index + 1)
                done = index + 1
    except CellTimeoutError:
        failure = f"the notebook ran out of its {timeout:.0f} s in cell {done + 1}"
    except DeadKernelError:
        failure = f"the kernel died in cell {done + 1} (out of memory?)"
    rows = []
    for i, cell in enumerate(checks):
        label = (re.findall(r"\b(check_\w+)\s*\(", cell.source) or [f"check cell {i + 1}"])[0]
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        ran = len(cells) - len(checks) + i < done
        message = (f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else
                   "".join(o.get("text", "") for o in cell.get("outputs", [])).strip() if ran else failure or "not run")
        rows.append({"notebook": str(path), "exercise": name, "check": label, "passed": ran and not errors,
                     "message": message})
    return rows


def grade_folder(folder: Path, timeout: float = 300.0) -> list[dict]:
    """Grade every notebook under folder (sub-folders too); return one row per check, notebooks in order."""
    folder = Path(folder)
    rows = []
    for path in sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts):
        try:
            found = grade_notebook(path, timeout)
        except Exception as e:  # an unreadable file is a failed submission, not a crashed grading run
            found = [{"notebook": str(path), "exercise": None, "check": "(notebook)", "passed": False,
                      "message": f"{type(e).__name__}: {e}"}]
        for row in found:
            row["notebook"] = str(path.relative_to(folder))
        rows += found
    return rows


def format_grades(rows: Sequence[dict]) -> str:
    """Return the grades as a text table, one line per check, with a score per notebook."""
    table = [("notebook", "check", "result", "message")]
    for r in rows:
        table.append((r["notebook"], r["check"], "pass" if r["passed"] else "FAIL",
                      (r["message"].splitlines() or [""])[0][:90]))
    widths = [max(len(t[i]) for t in table) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}".rstrip() for a, b, c, d in table]
    scores = {}
    for r in rows:
        scores.setdefault(r["notebook"], []).append(r["passed"])
    lines += ["", *(f"{n}: {sum(s)}/{len(s)} checks passed" for n, s in scores.items())]
    return "\n".join(lines)
