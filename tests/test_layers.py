"""The package's layers, read from the real imports: a lower layer never imports a higher one.

    core      inception_nb/*.py (model, loops, data, images, predict, config, paths)   imports: core
    training  inception_nb/training/                                                   imports: core, training
    lesson    inception_nb/lesson/                                                     imports: + lesson
    exercises inception_nb/exercises/                                                  imports: + exercises
    entry     inception_nb/cli.py, __main__.py (the command line): anything

inception_nb/__init__.py is core: it holds the version and loads each public name lazily, by importlib.

tools/ (clone-only) may import the package; the package never imports tools. docs/architecture.md draws the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "inception_nb"
LAYERS = ["core", "training", "lesson", "exercises", "entry"]
SUBPACKAGES = ("training", "lesson", "exercises")
ENTRY = {"inception_nb.cli", "inception_nb.__main__"}


def module_name(path: Path) -> str:
    """Return the dotted name of a module file under inception_nb/."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    """Return the layer a dotted module name belongs to."""
    if module in ENTRY:
        return "entry"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in SUBPACKAGES else "core"


def internal_imports(path: Path) -> list[tuple[int, str, bool]]:
    """Return (line, imported inception_nb module, inside a function) for every import in a module file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            targets = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    prefix = ".".join(base + ([child.module] if child.module else []))
                else:
                    prefix = child.module or ""
                # `from . import x` / `from .pkg import mod`: the names may be modules themselves
                targets = [prefix] + [f"{prefix}.{alias.name}" for alias in child.names]
            for target in targets:
                if target == "inception_nb" or target.startswith("inception_nb."):
                    found.append((child.lineno, _existing_module(target), in_function))
            visit(child, nested)

    visit(tree, False)
    return [f for f in found if f[1] is not None]


def _existing_module(name: str) -> str | None:
    """Return `name` if it is a module or package of inception_nb, else None (an attribute)."""
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    if (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file():
        return name
    return None


def module_files() -> list[Path]:
    """Return every module file of the package."""
    return sorted(PACKAGE.rglob("*.py"))


def test_the_layer_of_each_folder():
    assert layer("inception_nb.model") == layer("inception_nb.loops") == "core"
    assert layer("inception_nb.training.fit") == "training"
    assert layer("inception_nb.lesson.plots") == "lesson"
    assert layer("inception_nb.exercises.checks") == "exercises"
    assert layer("inception_nb.cli") == "entry"


@pytest.mark.parametrize("path", module_files(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_module_imports_a_higher_layer(path):
    importer = module_name(path)
    upward = [f"line {line}: {importer} ({layer(importer)}) imports {target} ({layer(target)})"
              for line, target, _ in internal_imports(path)
              if LAYERS.index(layer(target)) > LAYERS.index(layer(importer))]
    assert not upward, "a lower layer imports a higher one:\n" + "\n".join(upward)


@pytest.mark.parametrize("path", module_files(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_package_modules_are_imported_at_the_top_of_a_module(path):
    # An import inside a function hides an arrow from a reader (and once hid upward ones). __main__ is the
    # exception: it installs its Ctrl-C handler before importing the command line, which imports torch.
    if module_name(path) == "inception_nb.__main__":
        return
    hidden = [f"line {line}: {target}" for line, target, in_function in internal_imports(path) if in_function]
    assert not hidden, "import these at the top of the module:\n" + "\n".join(hidden)


def test_the_package_never_imports_the_clone_only_tools():
    for path in module_files():
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level]
        assert not [n for n in names if n == "tools" or n.startswith("tools.")], path
