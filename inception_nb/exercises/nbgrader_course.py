"""The exercises as an nbgrader course: ``python -m inception_nb.exercises nbgrader DIR``.

Writes ``DIR/source/<exercise>/`` (English) and ``DIR/source/<exercise>-zh/`` (Chinese) from the same
exercise sources as the handouts (exercises/*.ipynb), plus ``DIR/nbgrader_config.py``. Cell by cell:

- a code cell with a solution region is an *autograded answer* (nbgrader replaces the region with
  ``raise NotImplementedError()`` in the release); the hint after ``BEGIN SOLUTION:`` stays as a comment;
- a markdown cell with a region is a *manually graded answer* worth 0 points (the teacher reads it);
- a check cell is an *autograder test* worth 1 point per check it calls, locked;
- every other cell is locked (read-only; nbgrader restores it before grading).

The Chinese notebooks take their markdown from the Chinese handouts (notebooks/zh/exercises/) by cell id.
``nbgrader_config.py`` sets the grading variable the checks read and replaces nbgrader's Execute with
`VerdictExecute`, which after each test cell asks the kernel for the check's verdict through
``user_expressions`` (verdict.py): a test cell whose check does not return gets an error output, so
nbgrader gives it zero even when an input transformer or an exception handler hid the failure.
"""

from __future__ import annotations

import ast
import copy
import functools
import re
import secrets
from pathlib import Path

import nbformat

from . import build

CHECK_CALL = re.compile(r"^(check_\w+)\((.*)\)\s*$", re.M)
ZH_LANGUAGE_CELL = 'from inception_nb.exercises import set_language\n\nset_language("zh")  # 检查信息和提示使用中文'
CONFIG = '''"""nbgrader configuration of the inception-nb exercises (from python -m inception_nb.exercises nbgrader)."""

import os

from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                    SaveAutoGrades)
from nbconvert.preprocessors import ClearMetadataPreprocessor

from inception_nb.exercises.nbgrader_course import VerdictExecute

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = "inception-nb"
# Kernels started by autograde inherit this: the checks then insist that answers come from notebook cells.
os.environ["INCEPTION_NB_GRADING"] = "1"
# The heavy cells of exercises 3 and 5 train for up to a minute on a CPU.
c.Execute.timeout = 600
c.ClearSolutions.text_stub = "*Your answer here.*"
# nbgrader's own list, with Execute replaced by the one that asks each check for its verdict.
c.Autograde.autograde_preprocessors = [VerdictExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
'''


def _nbgrader(grade_id: str, solution: bool = False, grade: bool = False, locked: bool = False,
              points: int = 0) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if grade:
        meta["points"] = points
    return meta


def _nbgrader_source(source: str) -> str:
    """Return a cell's source with our markers turned into nbgrader's (hint kept as a comment, answers dicts)."""
    out, answers, collecting = [], None, False
    for line in source.splitlines():
        begin = build.BEGIN.match(line)
        if begin and begin["answers"]:
            answers, collecting = [], True  # the student keeps `key: ...`; the solution fills the same dict below
            continue
        if collecting:
            if build.END.match(line):
                collecting = False
                out += build.render("\n".join(["### BEGIN SOLUTION (answers)", *answers, "### END SOLUTION"]),
                                    student=True).splitlines()
            else:
                answers.append(line)
            continue
        if begin and begin["hint"]:
            out += [f"{begin['indent']}# {begin['hint']}", f"{begin['indent']}### BEGIN SOLUTION"]
        else:
            out.append(line)
    if answers is not None:  # after the dict: the solution fills it, the release keeps the student's `...`
        name = source.split("=", 1)[0].strip()
        out += ["### BEGIN SOLUTION", f"{name}.update({{", *answers, "})", "### END SOLUTION"]
    return "\n".join(out)


def _chinese_markdown(name: str, root: Path) -> tuple[dict, dict]:
    folder = root / "notebooks" / "zh" / "exercises"
    student, solution = (nbformat.read(folder / kind / f"{name}.ipynb", as_version=4) for kind in ("student",
                                                                                                    "solutions"))
    return ({c.id: c.source for c in student.cells}, {c.id: c.source for c in solution.cells})


def _with_region(student: str, solution: str) -> str:
    """Rebuild a marked markdown region from the student (placeholder) and solution (answer) texts."""
    head = 0
    while head < min(len(student), len(solution)) and student[head] == solution[head]:
        head += 1
    head = student.rfind("\n", 0, head) + 1  # whole lines
    tail = 0
    while tail < min(len(student), len(solution)) - head and student[-1 - tail] == solution[-1 - tail]:
        tail += 1
    end = len(solution) - tail
    end = solution.find("\n", end) if solution.find("\n", end) != -1 else len(solution)
    return solution[:head] + "### BEGIN SOLUTION\n" + solution[head:end].strip("\n") + "\n### END SOLUTION" + \
        solution[end:]


def course_notebook(source: nbformat.NotebookNode, name: str, language: str = "en",
                    root: Path = build.CLONE_ROOT) -> nbformat.NotebookNode:
    """Return the nbgrader source notebook of one exercise, in English or Chinese ("zh")."""
    nb = copy.deepcopy(source)
    zh_student, zh_solution = _chinese_markdown(name, root) if language == "zh" else ({}, {})
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        marked = any(build.BEGIN.match(line) for line in cell.source.splitlines())
        grade_id = f"cell-{cell.id}"
        if cell.cell_type == "markdown" and language == "zh":
            cell.source = _with_region(zh_student[cell.id], zh_solution[cell.id]) if marked else \
                zh_student.get(cell.id, cell.source)
        if marked and cell.cell_type == "code":
            cell.source = _nbgrader_source(cell.source)
            cell.metadata["nbgrader"] = _nbgrader(grade_id, solution=True)
        elif marked:
            cell.metadata["nbgrader"] = _nbgrader(grade_id, solution=True, grade=True, points=0)
        elif "check" in tags:
            cell.metadata["nbgrader"] = _nbgrader(grade_id, grade=True, locked=True,
                                                  points=len(CHECK_CALL.findall(cell.source)))
        else:
            cell.metadata["nbgrader"] = _nbgrader(grade_id, locked=True)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    if language == "zh":
        at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "from inception_nb.exercises import"
                  in c.source)
        language_cell = nbformat.v4.new_code_cell(ZH_LANGUAGE_CELL)
        language_cell.metadata["nbgrader"] = _nbgrader("cell-set-language-zh", locked=True)
        nb.cells.insert(at + 1, language_cell)
    nb.metadata["inception_nb"] = {"exercise": name}
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


def write_course(folder: Path, sources: Path | None = None) -> list[Path]:
    """Write the nbgrader course (source/ in English and Chinese, nbgrader_config.py) into folder; return the files."""
    sources = build.find_sources(sources)
    # the Chinese handouts of the clone beside the sources, else of the clone the package runs from
    root = sources.resolve().parent if (sources.resolve().parent / "notebooks" / "zh").is_dir() else build.CLONE_ROOT
    folder = Path(folder)
    written = []
    for path in sorted(sources.glob("*.ipynb")):
        source = nbformat.read(path, as_version=4)
        for language, assignment in (("en", path.stem), ("zh", f"{path.stem}-zh")):
            target = folder / "source" / assignment / path.name
            _write(target, nbformat.writes(course_notebook(source, path.stem, language, root)))
            written.append(target)
    _write(folder / "nbgrader_config.py", CONFIG)
    written.append(folder / "nbgrader_config.py")
    return written


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")  # whole or not at all
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _passed(text: str, nonce: str) -> bool:
    """Whether a verdict's text (the tuple's repr, maybe pretty-printed over lines) says this nonce passed."""
    try:
        said = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return False
    return isinstance(said, tuple) and said[:2] == (nonce, "pass")


def _verdict_expression(check: str, names: list[str], nonce: str) -> str:
    return (f"__import__('inception_nb.exercises.verdict', fromlist=['verdict']).verdict({check!r}, {names!r}, "
            f"{nonce!r})")


@functools.cache
def _verdict_executor():
    from nbclient.util import run_sync
    from nbgrader.preprocessors import Execute

    class VerdictExecute(Execute):
        """nbgrader's Execute, plus the check's own verdict after every autograder test cell."""

        async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
                return cell
            for check, arguments in CHECK_CALL.findall(cell.source):
                nonce = secrets.token_hex(16)
                names = [a.strip() for a in arguments.split(",") if a.strip()]
                msg_id = self.kc.execute("", silent=True, store_history=False,
                                         user_expressions={"verdict": _verdict_expression(check, names, nonce)})
                reply = await self.async_wait_for_reply(msg_id)
                answer = (reply or {}).get("content", {}).get("user_expressions", {}).get("verdict", {})
                text = answer.get("data", {}).get("text/plain", "") if answer.get("status") == "ok" else ""
                if not _passed(text, nonce):
                    why = f"{answer.get('ename', 'no verdict')}: {answer.get('evalue', '')}".strip()
                    cell.outputs.append(nbformat.v4.new_output("error", ename="GradingVerdict",
                                                               evalue=f"{check} did not pass: {why}",
                                                               traceback=[f"{check} did not pass: {why}"]))
            return cell

        # nbconvert calls the blocking execute_cell, which nbclient binds to its own async_execute_cell
        execute_cell = run_sync(async_execute_cell)

    return VerdictExecute


def __getattr__(name: str):
    if name == "VerdictExecute":  # built on first use: nbgrader is only needed by the course, not the package
        return _verdict_executor()
    raise AttributeError(name)
