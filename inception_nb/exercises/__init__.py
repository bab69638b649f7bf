"""Automatic checks for the classroom exercises in notebooks/exercises/, and grading of submitted notebooks.

Each ``check_*`` runs the student's code on tiny fixed inputs and compares its behaviour with a reference
built from this package (weights copied over, never by attribute name inside a branch), or recomputes
what the student's own run reports; it prints one "✓ ..." line on success and raises
:class:`ExerciseError` saying what is wrong, with a HINT, on failure.

What a student's notebook imports (the checks) stays apart from what a teacher runs: grading and the notebook
builder it needs load only from ``inception_nb.exercises.grading``, never with the checks.

Teachers: ``python -m inception_nb.exercises grade SUBMISSIONS_DIR [--json] [--csv FILE]`` runs each
submission's exercise cells inside the teacher's handout in a fresh kernel and asks these checks for their
verdict; ``python -m inception_nb.exercises make`` rebuilds the student and solution notebooks from their
sources; ``python -m inception_nb.exercises nbgrader DIR`` writes them as an nbgrader course.

Layout: checks.py (ExerciseError and the shared helpers), checks_block.py (exercises 1-2),
checks_training.py (3-4), checks_ablation.py (5), origin.py (the guard and where code comes from),
verdict.py (the grader's side in the kernel), splice.py (handout plus exercise cells, and the flags),
grading.py, nbgrader_course.py, build.py (the notebook builder), cli.py (the ``python -m`` commands,
imported only by __main__.py).
"""

from .checks import ExerciseError
from .checks_ablation import check_ablation, check_naive_model
from .checks_block import check_block_arithmetic, check_inception_block
from .checks_training import check_aux_head, check_aux_loss, check_aux_step, check_train_loop, check_training_run
from .messages import language, set_language
from .origin import take_snapshot
from . import verdict  # noqa: F401  (imported with the checks, so it holds the checks as they are now)

take_snapshot()  # what torch, math and the package look like before any student code runs (origin.guard)

__all__ = ["ExerciseError", "check_inception_block", "check_block_arithmetic", "check_train_loop",
           "check_training_run", "check_aux_head", "check_aux_loss", "check_aux_step", "check_naive_model",
           "check_ablation", "set_language", "language"]
