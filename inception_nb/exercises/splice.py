"""What the grader runs for a submission: the teacher's handout with only the submission's exercise cells in it.

The handout is built afresh from the exercise source (build.py), so every cell a student was not asked
to write (the imports, the data, the teacher's own code) is the teacher's. The submission's exercise
cells are found by cell id, else by their place among the cells tagged ``exercise``. Whatever cannot be
prevented inside a Python process is flagged for a human instead: cells left unimplemented, other cells
that differ from the handout, code that reaches into IPython, the import system, frames or ``exec``,
assignments to attributes of torch, math or the package, paths into solutions/ or runs/, and a notebook
whose metadata and file name name different exercises.
"""

from __future__ import annotations

import ast
import copy
import io
import re
import tokenize
from pathlib import Path

import nbformat

from . import build

# (what a human should look at, pattern in the code of an exercise cell)
SUSPICIOUS = (
    ("reaches into IPython", r"get_ipython|IPython|ipykernel|set_custom_exc|input_transformers|ast_transformers|"
                             r"custom_exceptions|showtraceback|user_expressions|run_cell|events\.register"),
    ("reaches into the import system", r"importlib|__import__|sys\.modules|meta_path|runpy"),
    ("reaches into frames or code objects", r"_getframe|\binspect\b|f_back|f_globals|f_locals|__closure__|"
                                            r"__code__|\bgc\.|setprofile|settrace|__builtins__|\bbuiltins\b"),
    ("runs code from a string", r"\bexec\s*\(|\beval\s*\(|\bcompile\s*\(|^\s*%run|^\s*%load"),
    ("loads other code or weights (solutions/, runs/, a checkpoint)",
     r"solutions|\bruns\b|\.ipynb|torch\.load|load_state_dict"),
    ("reads or sets the environment", r"os\.environ|INCEPTION_NB_GRADING|putenv"),
)
MODULE_NAMES = {"torch", "nn", "F", "math", "np", "numpy", "inception_nb", "builtins", "functional"}


def handout(name: str, sources: Path | None = None) -> nbformat.NotebookNode:
    """Return the student handout of exercise `name`, built from its source notebook."""
    source = nbformat.read(build.find_sources(sources) / f"{name}.ipynb", as_version=4)
    return build.build(source, name, student=True)


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def _module_aliases(tree: ast.AST) -> set[str]:
    names = set(MODULE_NAMES)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            root = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
            for alias in node.names:
                full = f"{root}.{alias.name}" if root else alias.name
                if full.split(".")[0] in ("torch", "math", "numpy", "inception_nb", "builtins") and \
                        (isinstance(node, ast.Import) or alias.name[:1].islower()):
                    names.add(alias.asname or alias.name.split(".")[0])
    return names


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        # vars(torch)["x"] = ..., getattr(torch, "nn").x = ...: the module is the call's first argument
        node = (node.args[0] if node.args else node.func) if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def patched_attributes(code: str) -> list[str]:
    """Return the attributes of torch, math, numpy, builtins or the package that `code` assigns or deletes."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    modules, found = _module_aliases(tree), []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else \
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            for part in ast.walk(target):
                if isinstance(part, (ast.Attribute, ast.Subscript)) and _root_name(part) in modules:
                    found.append(ast.unparse(part))
                    break
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr") \
                and node.args and _root_name(node.args[0]) in modules:
            found.append(f"{node.func.id}({ast.unparse(node.args[0])}, ...)")
    return found


def _without_comments(code: str) -> str:
    """Return code with its comments blanked (a word in a comment runs nothing)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("#"))
    lines = code.splitlines()
    for token in reversed(tokens):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col]
    return "\n".join(lines)


def code_flags(code: str) -> list[str]:
    """Return what a human should look at in one cell of student code."""
    code = _without_comments(code)
    flags = [what for what, pattern in SUSPICIOUS if re.search(pattern, code, re.M)]
    patched = patched_attributes(code)
    if patched:
        flags.append("assigns " + ", ".join(sorted(set(patched))[:3]))
    return flags


def _find(submitted: list, cell, k: int, exercise_cells: list):
    by_id = next((c for c in submitted if c.get("id") == cell.get("id") and c.cell_type == cell.cell_type), None)
    if by_id is not None:
        return by_id
    tagged = [c for c in submitted if "exercise" in _tags(c)]
    return tagged[k] if len(tagged) == len(exercise_cells) else None


def splice(submission: nbformat.NotebookNode, teacher: nbformat.NotebookNode) -> tuple[list, list[str]]:
    """Return (the cells to run: the handout's, with the submission's exercise cells, check cells left out; flags)."""
    exercise_cells = [c for c in teacher.cells if "exercise" in _tags(c)]
    cells, flags, spliced_ids = [], [], set()
    for cell in teacher.cells:
        if "check" in _tags(cell):
            continue  # the grader runs every check itself, afterwards
        if "exercise" not in _tags(cell):
            cells.append(cell)
            continue
        k = exercise_cells.index(cell)
        theirs = _find(submission.cells, cell, k, exercise_cells)
        where = f"exercise cell {k + 1}"
        if theirs is None:
            flags.append(f"{where} is missing: the handout's cell was run")
            cells.append(cell)
            continue
        spliced_ids.add(id(theirs))
        if theirs.source.strip() == cell.source.strip() or "NotImplementedError(\"your code here" in theirs.source:
            flags.append(f"{where} left unimplemented")
        if cell.cell_type == "code":
            flags += [f"{where} {flag}" for flag in code_flags(theirs.source)]
        spliced = copy.deepcopy(cell)  # the handout's cell (its tags) with the student's source
        spliced.source = theirs.source
        cells.append(spliced)
    teacher_sources = {c.source.strip() for c in teacher.cells} | _chinese_handout_sources(teacher)
    other = [c for c in submission.cells if id(c) not in spliced_ids and c.source.strip() not in teacher_sources
             and not _is_language_cell(c)]
    if other:
        flags.append(f"{len(other)} other cell(s) differ from the handout (not run by the grader)")
        flags += sorted({f"another cell {flag}" for c in other if c.cell_type == "code"
                         for flag in code_flags(c.source)})
    return cells, flags


def _chinese_handout_sources(teacher: nbformat.NotebookNode) -> set[str]:
    """The cell sources of the Chinese handout of the same exercise, where the clone has one."""
    name = teacher.metadata.get("inception_nb", {}).get("exercise", "")
    path = build.CLONE_ROOT / "notebooks" / "zh" / "exercises" / "student" / f"{name}.ipynb"
    return {c.source.strip() for c in nbformat.read(path, as_version=4).cells} if path.is_file() else set()


def _is_language_cell(cell) -> bool:
    return cell.cell_type == "code" and re.fullmatch(r"from inception_nb\.exercises import set_language\s+"
                                                     r"set_language\(\"zh\"\).*", cell.source.strip(), re.S) is not None
