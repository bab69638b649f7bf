"""The grader's side inside the grading kernel: run one check on the notebook's objects and say that it returned.

``python -m inception_nb.exercises grade`` imports this module in the kernel's first cell, before any
student code, which also imports the checks and takes the guard's snapshot (origin.py); the checks are
never reloaded. The grader then asks for each verdict through the execute request's ``user_expressions``,
which IPython evaluates without the input transformers, the custom exception handler or the cell's
printed output: a check passes when ``verdict`` returns the grader's one-time nonce with "pass".
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

from . import checks_ablation, checks_block, checks_training
from .checks import ExerciseError
from .messages import say

# The check functions as they were at import time: rebinding a name on a module changes nothing here.
CHECK_FUNCTIONS = {name: getattr(module, name) for module in (checks_block, checks_training, checks_ablation)
                   for name in dir(module) if name.startswith("check_")}


def verdict(check: str, names: Sequence[str], nonce: str) -> tuple[str, str, str]:
    """Run check on the notebook variables `names`; return (nonce, "pass", the check's line) when it returns."""
    from IPython import get_ipython

    namespace = get_ipython().user_ns
    missing = [name for name in names if name not in namespace]
    if missing:
        raise ExerciseError(say("grade.missing", names=", ".join(missing)) + "\n" + say("hint_label")
                            + say("grade.missing.hint"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        CHECK_FUNCTIONS[check](*(namespace[name] for name in names))
    lines = printed.getvalue().strip().splitlines()
    return nonce, "pass", lines[-1] if lines else check
