"""The shared machinery of the exercise checks: ExerciseError and the helpers every check_* uses.

The checks themselves live in checks_block.py (exercises 1-2), checks_training.py (3-4) and
checks_ablation.py (5); import them from :mod:`inception_nb.exercises`.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
from typing import Any
from collections.abc import Callable

import torch
from torch import nn

from ..model import count_parameters as _count  # noqa: F401 - the checks_* modules import it from here
from . import origin
from .messages import say

# Read once, when the checks are imported (before any student code): the grader and the nbgrader course set it.
GRADING_VARIABLE = "INCEPTION_NB_GRADING"


def _flag(value: bool):
    return lambda: value  # a function, so the guard notices when the student's code replaces it


grading = _flag(os.environ.get(GRADING_VARIABLE) == "1")


class ExerciseError(AssertionError):
    """A check failed: the message says what is wrong and gives a hint."""


def _message(what: str, hint: str) -> str:
    return f"{what}\n{say('hint_label')}{hint}"


def _fail(what: str, hint: str) -> None:
    raise ExerciseError(_message(what, hint))


def _ok(message: str) -> None:
    print(f"✓ {message}")


@contextlib.contextmanager
def _seeded(seed: int = 0):
    # Fixed inputs for the check, without disturbing the random state of the student's notebook.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def guard() -> None:
    """Fail when torch, math or the package had a function replaced since the checks were imported."""
    changed = origin.replaced()
    if changed:
        _fail(say("guard.replaced", names=", ".join(changed[:5])), say("guard.replaced.hint"))


def _refuse_package_code(what: str, fn: Any, allowed: tuple = ()) -> None:
    """Fail for the package's own code (imported, subclassed, wrapped) or code not written in a notebook cell."""
    if origin.package_code(fn) and not any(fn is a for a in allowed):
        # the reference itself, imported or subclassed, passes any comparison
        _fail(say("run.package", what=what, owner=getattr(fn, "__qualname__", type(fn).__name__)),
              say("run.package.hint"))
    if grading() and not origin.cell_code(fn) and not isinstance(fn, nn.Module):
        _fail(say("run.not_cell", what=what), say("run.not_cell.hint"))


def _run(what: str, fn: Callable, *args: Any, hint: str | None = None, allowed: tuple = ()) -> Any:
    """Call student code; turn what it raises into an ExerciseError that names the call.

    The package's code refused as the answer, and `allowed` names the package classes or functions whose
    modules the student's code may call (exercise 5 builds on InceptionV1); any other package code that
    runs inside the call is refused too.
    """
    guard()
    _refuse_package_code(what, fn)
    try:
        with origin.watch_calls(allowed) as called:
            result = fn(*args)
    except ExerciseError:
        raise
    except NotImplementedError as e:
        raise ExerciseError(_message(say("run.not_written", what=what, error=e or "NotImplementedError"),
                                     say("run.not_written.hint"))) from None
    except Exception as e:
        raise ExerciseError(_message(say("run.raised", what=what, error_type=type(e).__name__, error=e),
                                     hint or say("run.raised.hint"))) from e
    if called:
        _fail(say("run.package", what=what, owner=", ".join(sorted(set(called))[:3])), say("run.package.hint"))
    guard()
    return result


def _refuse_package_modules(module: nn.Module, what: str) -> None:
    """Fail when a module the student built is, or contains, one of the package's own classes."""
    found = origin.package_modules_in(module)
    if found:
        _fail(say("run.package", what=what, owner=", ".join(found[:3])), say("run.package.hint"))


def _shapes(module: nn.Module) -> list:
    return [tuple(t.shape) for t in module.state_dict().values()]


def _copy_state(src: nn.Module, dst: nn.Module, what: str) -> None:
    """Load src's tensors into dst in registration order, matching shapes, whatever dst calls them."""
    values, keys = list(src.state_dict().values()), list(dst.state_dict())
    if _shapes(src) != _shapes(dst):
        _fail(say("copy.misaligned", what=what, got=_shapes(dst), want=_shapes(src)), say("copy.misaligned.hint"))
    dst.load_state_dict(dict(zip(keys, values)))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)


def _number(value: Any, what: str) -> float:
    if value is ...:
        _fail(say("number.ellipsis", what=what), say("number.ellipsis.hint"))
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if hasattr(value, "dtype") and getattr(value, "shape", None) == () and hasattr(value, "item"):
        value = value.item()  # a numpy scalar or 0-d array: its Python number
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(say("number.not_number", what=what, value=value), say("number.not_number.hint"))
    return float(value)


def _training_steps(model: nn.Module) -> int | None:
    """Return how many batches the model ran in training mode, as its first BatchNorm counted them."""
    norm = next((m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)), None)
    return None if norm is None or norm.num_batches_tracked is None else int(norm.num_batches_tracked)
