"""Grading of submitted exercise notebooks: run each, then the package's checks on what it defined.

The submission is executed as the student left it, minus its check cells. Then, in the same kernel,
one cell per check reloads the check modules from this package's files and calls the check on the
objects the notebook defined (``MyInceptionBlock``, ``train``, ...). A check the student rewrote,
shadowed with a function of the same name, or deleted, therefore changes nothing: the grade comes
from the package's code. What this does not defend against is written in notebooks/exercises/README.md.
"""

from __future__ import annotations

import csv
import importlib
import time
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from ..paths import atomic_write

# exercise (the source notebook's name) -> the checks it is graded by, each with the names of the
# notebook variables it is called with. tests/test_exercises.py keeps this in step with the sources.
CHECKS: dict[str, tuple] = {
    "01_inception_block": (("check_inception_block", ("MyInceptionBlock",)),),
    "02_block_arithmetic": (("check_block_arithmetic", ("answers",)),),
    "03_train_loop": (("check_train_loop", ("train",)), ("check_training_run", ("model", "data", "history"))),
    "04_aux_classifiers": (("check_aux_head", ("AuxHead",)), ("check_aux_loss", ("total_loss",)),
                           ("check_aux_step", ("train_step",))),
    "05_ablation": (("check_naive_model", ("naive_googlenet",)), ("check_ablation", ("result", "models", "data"))),
}
_CHECK_MODULES = ("checks", "checks_block", "checks_training", "checks_ablation")  # reloaded in this order
FIELDS = ("notebook", "exercise", "check", "passed", "message")


def run_check(check: str, names: Sequence[str], namespace: dict) -> None:
    """Run one check, loaded afresh from this package's files, on the notebook variables `names`."""
    # reload() re-executes each module from disk into its module object, so a check function that
    # notebook code replaced (in its globals or on the module) is the package's own again.
    modules = [importlib.reload(importlib.import_module(f"{__package__}.{name}")) for name in _CHECK_MODULES]
    function = next(getattr(m, check) for m in modules if hasattr(m, check))
    missing = [name for name in names if name not in namespace]
    if missing:
        raise modules[0].ExerciseError(
            f"the notebook defines no {', '.join(missing)}\nHINT: keep the names the exercise gives and run "
            "the notebook from top to bottom before you hand it in")
    function(*(namespace[name] for name in names))


def _grading_cell(check: str, names: Sequence[str]) -> str:
    return ("import importlib\n"
            f"importlib.reload(importlib.import_module({__name__!r})).run_check({check!r}, {list(names)!r}, "
            "globals())")


def _tags(cell: Any) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def _exercise_of(nb: Any, path: Path) -> str | None:
    name = nb.metadata.get("inception_nb", {}).get("exercise")
    if name in CHECKS:
        return name
    return next((name for name in CHECKS if path.stem.startswith(name)), None)


def grade_notebook(path: Path, timeout: float = 300.0) -> list[dict]:
    """Execute one submitted notebook, then the package's checks on its objects; return one row per check."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    name = _exercise_of(nb, path)
    if name is None:
        return [{"notebook": str(path), "exercise": None, "check": "(notebook)", "passed": False,
                 "message": f"not one of the exercises {', '.join(CHECKS)} (by file name or notebook metadata)"}]
    checks = CHECKS[name]
    # The submission's own check cells are left out: the grading cells below replace them.
    cells = [c for c in nb.cells if "check" not in _tags(c)]
    cells += [nbformat.v4.new_code_cell(_grading_cell(check, names)) for check, names in checks]
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
    first = len(cells) - len(checks)
    for i, (check, _names) in enumerate(checks):
        outputs = run.cells[first + i].get("outputs", [])
        errors = [o for o in outputs if o.get("output_type") == "error"]
        text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream").strip()
        ran = first + i < done
        ticks = [line for line in text.splitlines() if line.startswith("✓")]
        passed = ran and not errors and bool(ticks)
        message = (f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else ticks[-1] if passed else
                   text or "the check printed nothing" if ran else failure or "not run")
        rows.append({"notebook": str(path), "exercise": name, "check": check, "passed": passed, "message": message})
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
    scores: dict = {}
    for r in rows:
        scores.setdefault(r["notebook"], []).append(r["passed"])
    lines += ["", *(f"{n}: {sum(s)}/{len(s)} checks passed" for n, s in scores.items())]
    return "\n".join(lines)


def write_csv(rows: Sequence[dict], path: Path) -> None:
    """Write the grades to a CSV file, one row per check (the columns of FIELDS), replacing it whole."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)  # an interrupted export never leaves half a file

