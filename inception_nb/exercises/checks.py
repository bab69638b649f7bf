"""The shared machinery of the exercise checks: ExerciseError and the helpers every check_* uses.

The checks themselves live in checks_block.py (exercises 1-2), checks_training.py (3-4) and
checks_ablation.py (5); import them from :mod:`inception_nb.exercises`.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any
from collections.abc import Callable

import torch
from torch import nn


class ExerciseError(AssertionError):
    """A check failed: the message says what is wrong and gives a hint."""


def _fail(what: str, hint: str) -> None:
    raise ExerciseError(f"{what}\nHINT: {hint}")


def _ok(message: str) -> None:
    print(f"✓ {message}")


@contextlib.contextmanager
def _seeded(seed: int = 0):
    # Fixed inputs for the check, without disturbing the random state of the student's notebook.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _run(what: str, fn: Callable, *args: Any, hint: str = "the traceback above points at the line of your code "
                                                           "that failed") -> Any:
    """Call student code; turn what it raises into an ExerciseError that names the call."""
    owner = getattr(fn, "__module__", None) or ""
    if owner.startswith("inception_nb."):  # the reference itself, imported or returned, passes any comparison
        _fail(f"{what} runs the package's own code ({owner}), not yours",
              "write it yourself in the cell above: the package's version is what your code is compared with")
    try:
        return fn(*args)
    except ExerciseError:
        raise
    except NotImplementedError as e:
        raise ExerciseError(f"{what} is not written yet ({e or 'NotImplementedError'}).\nHINT: replace the "
                            "`raise NotImplementedError(...)` lines in the cell above with your code, run that "
                            "cell, then this one.") from None
    except Exception as e:
        raise ExerciseError(f"{what} raised {type(e).__name__}: {e}\nHINT: {hint}") from e


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _shapes(module: nn.Module) -> list:
    return [tuple(t.shape) for t in module.state_dict().values()]


def _copy_state(src: nn.Module, dst: nn.Module, what: str) -> None:
    """Load src's tensors into dst in registration order, matching shapes, whatever dst calls them."""
    values, keys = list(src.state_dict().values()), list(dst.state_dict())
    if _shapes(src) != _shapes(dst):
        _fail(f"{what}: its layers do not line up with the reference's: your tensors have shapes {_shapes(dst)}, "
              f"the reference's {_shapes(src)}", "create the layers in __init__ in the order the task lists them")
    dst.load_state_dict(dict(zip(keys, values)))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)


def _number(value: Any, what: str) -> float:
    if value is ...:
        _fail(f"{what} is still `...`", "replace `...` with your answer and run the cell again")
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(f"{what} should be a number, got {value!r}", "write a number or arithmetic such as 192 * 64 + 64")
    return float(value)


def _training_steps(model: nn.Module) -> int | None:
    """Return how many batches the model ran in training mode, as its first BatchNorm counted them."""
    norm = next((m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)), None)
    return None if norm is None or norm.num_batches_tracked is None else int(norm.num_batches_tracked)
