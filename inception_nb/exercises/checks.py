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

from ..model import count_parameters as _count  # noqa: F401 - the checks_* modules import it from here
from .messages import say


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


def _run(what: str, fn: Callable, *args: Any, hint: str | None = None) -> Any:
    """Call student code; turn what it raises into an ExerciseError that names the call."""
    owner = getattr(fn, "__module__", None) or ""
    if owner.startswith("inception_nb."):  # the reference itself, imported or returned, passes any comparison
        _fail(say("run.package", what=what, owner=owner), say("run.package.hint"))
    try:
        return fn(*args)
    except ExerciseError:
        raise
    except NotImplementedError as e:
        raise ExerciseError(_message(say("run.not_written", what=what, error=e or "NotImplementedError"),
                                     say("run.not_written.hint"))) from None
    except Exception as e:
        raise ExerciseError(_message(say("run.raised", what=what, error_type=type(e).__name__, error=e),
                                     hint or say("run.raised.hint"))) from e


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
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(say("number.not_number", what=what, value=value), say("number.not_number.hint"))
    return float(value)


def _training_steps(model: nn.Module) -> int | None:
    """Return how many batches the model ran in training mode, as its first BatchNorm counted them."""
    norm = next((m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)), None)
    return None if norm is None or norm.num_batches_tracked is None else int(norm.num_batches_tracked)
