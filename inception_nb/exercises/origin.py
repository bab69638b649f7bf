"""Where code comes from: the package's own code recognised by its files, and the guard against patched libraries.

The checks import this module before any student code runs (the handouts import the checks in their
second cell), and it takes a snapshot then: every function and class that torch, math, the builtins
and this package expose. `guard()` compares against that snapshot before each check, so a check never
runs on a replaced ``torch.allclose``, ``math.isclose`` or package function. `package_code()` tells
the package's functions, classes and code objects apart from the student's by the file they were
compiled from, not by a name the student can set; `cell_code()` tells code compiled from a notebook
cell apart from code compiled from elsewhere (``exec`` of a file, an imported module).
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import linecache
import math
import sys
import types
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # inception_nb/
EXERCISES_DIR = Path(__file__).resolve().parent
TORCH_DIR = Path(torch.__file__).resolve().parent


# IPython adds and removes some builtins (display, get_ipython, exit) around every cell: only these are watched.
_BUILTINS = ("isinstance", "issubclass", "len", "sum", "abs", "all", "any", "min", "max", "next", "iter", "zip",
             "range", "float", "int", "round", "getattr", "hasattr", "setattr", "type", "print", "sorted", "list",
             "tuple", "dict", "set", "map", "enumerate", "id", "repr", "str", "bool", "open", "__import__", "exec",
             "eval", "compile", "super", "vars")


def _watched() -> dict[str, dict]:
    """Return {owner: its namespace} for every namespace whose functions and classes the guard watches."""
    spaces = {"builtins": {n: getattr(builtins, n) for n in _BUILTINS}, "math": vars(math), "torch": vars(torch),
              "torch.nn.functional": vars(F),
              "torch.Tensor": vars(torch.Tensor), "torch.nn.Module": vars(nn.Module),
              "torch._C._VariableFunctions": {n: getattr(torch._C._VariableFunctions, n)
                                              for n in dir(torch._C._VariableFunctions) if not n.startswith("_")}}
    for name, module in list(sys.modules.items()):
        if module is not None and _in_package(getattr(module, "__file__", None)):
            spaces[name] = vars(module)
            for attr, value in list(vars(module).items()):
                if isinstance(value, type) and value.__module__ == name:
                    spaces[f"{name}.{attr}"] = vars(value)
    return spaces


def _in_package(filename: str | None, folder: Path = PACKAGE_DIR) -> bool:
    if not filename:
        return False
    try:
        return Path(filename).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def _snapshot() -> dict[tuple[str, str], int]:
    return {(owner, attr): id(value) for owner, space in _watched().items() for attr, value in list(space.items())
            if callable(value) and (owner == "builtins" or not attr.startswith("__")
                                    or attr in ("__call__", "__init__", "__eq__", "__bool__", "__float__"))}


# Kept across importlib.reload (which re-runs this file in the same namespace): the first snapshot stands.
_SNAPSHOT: dict[tuple[str, str], int] = globals().get("_SNAPSHOT", {})


def take_snapshot() -> None:
    """Record the functions and classes the guard watches, once per process (on import, before student code)."""
    if not _SNAPSHOT:
        _SNAPSHOT.update(_snapshot())


def replaced() -> list[str]:
    """Return the watched functions that were replaced since the snapshot, as dotted names."""
    now = _watched()
    return sorted(f"{owner}.{attr}" for (owner, attr), ident in _SNAPSHOT.items() if owner in now
                  and (attr not in now[owner] or not _same_or_torch_wrapper(now[owner][attr], ident)))


def _same_or_torch_wrapper(value: Any, ident: int) -> bool:
    """Whether value is the recorded object, or torch's own wrapper of it (torch._dynamo wraps manual_seed)."""
    for _ in range(5):
        if id(value) == ident:
            return True
        code = getattr(value, "__code__", None)
        if code is None or not _in_package(code.co_filename, TORCH_DIR):
            return False
        value = getattr(value, "__wrapped__", None)
    return False


def package_code(obj: Any, outside_exercises: bool = False) -> bool:
    """Whether obj (a function, class, partial, bound method or instance's class) was compiled from the package."""
    folder_ok = (lambda f: _in_package(f) and not _in_package(f, EXERCISES_DIR)) if outside_exercises else _in_package
    seen = 0
    while seen < 20:  # unwrap partials, bound methods and functools.wraps chains
        seen += 1
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif isinstance(obj, types.MethodType):
            obj = obj.__func__
        elif getattr(obj, "__wrapped__", None) is not None and not isinstance(obj, type):
            if _code_from(obj, folder_ok):
                return True
            obj = obj.__wrapped__
        else:
            break
    if isinstance(obj, type):
        return any(_class_from(c, folder_ok) for c in obj.__mro__)
    return _code_from(obj, folder_ok)


def _code_from(obj: Any, folder_ok) -> bool:
    code = getattr(obj, "__code__", None)
    return isinstance(code, types.CodeType) and folder_ok(code.co_filename)


def _class_from(cls: type, folder_ok) -> bool:
    """A class is the package's when one of its own methods was compiled from a package file."""
    return any(_code_from(v, folder_ok) for v in vars(cls).values()) or folder_ok(_module_file(cls))


def _module_file(cls: type) -> str | None:
    module = sys.modules.get(cls.__module__)
    # a class is only taken at its module's word when that module really holds this very class
    return getattr(module, "__file__", None) if getattr(module, cls.__name__, None) is cls else None


def package_modules_in(module: nn.Module) -> list[str]:
    """Return the names of the sub-modules of `module` whose class is (or derives from) one of the package's."""
    return [name or type(module).__name__ for name, m in module.named_modules() if package_code(type(m))]


def cell_code(obj: Any) -> bool:
    """Whether obj's code was compiled from a notebook cell (IPython keeps each cell's source in linecache)."""
    if isinstance(obj, type):
        codes = [v.__code__ for v in vars(obj).values() if isinstance(getattr(v, "__code__", None), types.CodeType)]
    else:
        code = getattr(obj, "__code__", None)
        codes = [code] if isinstance(code, types.CodeType) else []
    return bool(codes) and all(_is_cell_file(c.co_filename) for c in codes)


def _is_cell_file(filename: str) -> bool:
    entry = linecache.cache.get(filename)
    # IPython registers a cell as (size, None, lines, name): mtime None, so linecache never checks it on disk.
    cell_like = "ipykernel_" in filename or filename.startswith("<ipython-input-")
    return cell_like and entry is not None and entry[1] is None


@contextlib.contextmanager
def watch_calls(allowed: tuple = ()):
    """Record the package functions (outside inception_nb/exercises and the modules of `allowed`) run inside."""
    allowed_files = {getattr(sys.modules.get(getattr(a, "__module__", "")), "__file__", None) for a in allowed}
    called: list[str] = []
    cache: dict = {}

    def profile(frame, event, _arg):
        if event != "call":
            return
        code = frame.f_code
        hit = cache.get(code)
        if hit is None:
            hit = cache[code] = code.co_filename not in allowed_files and _in_package(code.co_filename) \
                and not _in_package(code.co_filename, EXERCISES_DIR)
        if hit:
            called.append(f"{Path(code.co_filename).stem}.{code.co_name}")

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield called
    finally:
        if sys.getprofile() is not profile:  # the student's code removed the watch
            called.append("sys.setprofile (the watch was removed)")
        sys.setprofile(previous)

