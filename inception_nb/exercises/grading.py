"""Grading of submitted exercise notebooks: a fresh kernel runs the teacher's handout with the student's cells.

For each submission a new kernel starts in an empty folder, imports the checks (taking the guard's
snapshot of torch, math and the package, origin.py) before any student code, and runs the teacher's
handout, built afresh from the exercise source, with only the submission's exercise cells spliced in
(splice.py). Then it asks for each check's verdict through ``user_expressions`` (verdict.py): a check
passes when it returns the grader's one-time nonce, never because something printed a "✓". What
cannot be prevented inside the kernel is flagged for a human in the grade table. What this does not
defend against is written in notebooks/exercises/README.md.
"""

from __future__ import annotations

import ast
import csv
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from ..paths import atomic_write
from . import splice
from .checks import GRADING_VARIABLE

# exercise (the source notebook's name) -> the checks it is graded by, each with the names of the
# notebook variables it is called with. tests/test_exercises.py keeps this in step with the sources.
CHECKS: dict[str, tuple] = {
    "01_inception_block": (("check_inception_block", ("MyInceptionBlock",)),),
    "02_block_arithmetic": (("check_block_arithmetic", ("answers",)),),
    "03_train_loop": (("check_train_loop", ("train",)), ("check_training_run", ("train",))),
    "04_aux_classifiers": (("check_aux_head", ("AuxHead",)), ("check_aux_loss", ("total_loss",)),
                           ("check_aux_step", ("train_step",))),
    "05_ablation": (("check_naive_model", ("naive_googlenet",)), ("check_ablation", ("result", "models", "data"))),
}
FIELDS = ("notebook", "exercise", "check", "passed", "message", "flags")
PRELUDE = ("import inception_nb.exercises.verdict  # the checks, imported before any student code\n"
           "from inception_nb.exercises import set_language\nset_language({language!r})")


def _tags(cell: Any) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def identify(nb: Any, path: Path) -> tuple[str | None, list[str]]:
    """Return (the exercise a notebook is, flags): by its metadata, else its file name; a disagreement is a flag."""
    by_metadata = nb.metadata.get("inception_nb", {}).get("exercise")
    by_name = next((name for name in CHECKS if path.stem.startswith(name)), None)
    flags = []
    if by_metadata in CHECKS and by_name and by_name != by_metadata:
        flags.append(f"metadata says {by_metadata}, the file name {by_name}: graded as {by_name}")
        return by_name, flags
    return (by_metadata if by_metadata in CHECKS else by_name), flags


def _language(nb: Any) -> str:
    return "zh" if any(c.cell_type == "code" and 'set_language("zh")' in c.source for c in nb.cells) else "en"


class _Kernel:
    """A fresh python3 kernel in an empty folder, with the grading variable set; run cells, ask verdicts."""

    def __init__(self, folder: str) -> None:
        from jupyter_client.manager import start_new_kernel

        env = {**os.environ, GRADING_VARIABLE: "1"}
        self.manager, self.client = start_new_kernel(kernel_name="python3", cwd=folder, env=env)

    def run(self, code: str, timeout: float, expressions: dict | None = None) -> dict:
        """Execute code; return the reply's content (status, ename, evalue, user_expressions)."""
        reply = self.client.execute_interactive(code, timeout=max(1.0, timeout), allow_stdin=False,
                                                user_expressions=expressions or {}, output_hook=lambda msg: None)
        return reply["content"]

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def _verdict(kernel: _Kernel, check: str, names: Sequence[str], timeout: float) -> tuple[bool, str]:
    nonce = secrets.token_hex(16)
    expression = (f"__import__('inception_nb.exercises.verdict', fromlist=['verdict']).verdict("
                  f"{check!r}, {list(names)!r}, {nonce!r})")
    content = kernel.run("", timeout, {"verdict": expression})
    answer = content.get("user_expressions", {}).get("verdict", {})
    if content.get("status") != "ok" or answer.get("status") != "ok":
        error = answer if answer.get("status") == "error" else content
        return False, f"{error.get('ename', 'error')}: {error.get('evalue', 'the kernel gave no verdict')}"
    try:
        said, result, line = ast.literal_eval(answer["data"]["text/plain"])
    except (ValueError, SyntaxError, KeyError, TypeError):
        return False, "the verdict came back garbled"
    return (said == nonce and result == "pass"), (line if said == nonce else "the verdict did not come from the grader")


def grade_notebook(path: Path, timeout: float = 300.0, sources: Path | None = None) -> list[dict]:
    """Run one submission's exercise cells in the teacher's handout, in a fresh kernel; return one row per check."""
    import nbformat


    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    name, flags = identify(nb, path)
    if name is None:
        return [{"notebook": str(path), "exercise": None, "check": "(notebook)", "passed": False, "flags": "",
                 "message": f"not one of the exercises {', '.join(CHECKS)} (by file name or notebook metadata)"}]
    cells, found = splice.splice(nb, splice.handout(name, sources))
    flags += found
    results: dict[str, tuple[bool, str]] = {}
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="grading-") as folder:
        kernel = _Kernel(folder)
        try:
            kernel.run(PRELUDE.format(language=_language(nb)), deadline - time.monotonic())
            for index, cell in enumerate(c for c in cells if c.cell_type == "code"):
                content = kernel.run(cell.source, deadline - time.monotonic())
                if content.get("status") == "error" and "exercise" in _tags(cell):
                    flags.append(f"code cell {index + 1} raised {content.get('ename')}")
            for check, names in CHECKS[name]:
                results[check] = _verdict(kernel, check, names, deadline - time.monotonic())
        except TimeoutError:
            alive = kernel.manager.is_alive()
            failure = f"ran out of its {timeout:.0f} s" if alive else "the kernel died (out of memory?)"
            results.update({check: (False, failure) for check, _ in CHECKS[name] if check not in results})
        finally:
            kernel.close()
    return [{"notebook": str(path), "exercise": name, "check": check, "passed": results[check][0],
             "message": results[check][1], "flags": "; ".join(dict.fromkeys(flags))} for check, _ in CHECKS[name]]


def grade_folder(folder: Path, timeout: float = 300.0, sources: Path | None = None) -> list[dict]:
    """Grade every notebook under folder (sub-folders too); return one row per check, notebooks in order."""
    folder = Path(folder)
    rows = []
    for path in sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts):
        try:
            found = grade_notebook(path, timeout, sources)
        except Exception as e:  # an unreadable file is a failed submission, not a crashed grading run
            found = [{"notebook": str(path), "exercise": None, "check": "(notebook)", "passed": False,
                      "message": f"{type(e).__name__}: {e}", "flags": ""}]
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
    flags: dict = {}
    for r in rows:
        scores.setdefault(r["notebook"], []).append(r["passed"])
        flags[r["notebook"]] = r.get("flags", "")
    lines.append("")
    for n, s in scores.items():
        lines.append(f"{n}: {sum(s)}/{len(s)} checks passed" + (f"  FLAGGED: {flags[n]}" if flags[n] else ""))
    return "\n".join(lines)


def write_csv(rows: Sequence[dict], path: Path) -> None:
    """Write the grades to a CSV file, one row per check (the columns of FIELDS), replacing it whole."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)  # an interrupted export never leaves half a file

