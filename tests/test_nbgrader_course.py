"""The exercises as an nbgrader course, graded by real nbgrader on a temporary course: the solutions get full marks,
the untouched releases zero and the fake submissions zero, in English and in Chinese, read from nbgrader's gradebook.
Exercises 3 and 5 run on a few images (test_grading_attacks.TINY)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from exercise_fakes import FAKED_CHECK, FAKES, fake_notebook
from test_grading_attacks import TINY_DATA, checkpoint, tiny_sources
from inception_nb.exercises import nbgrader_course

pytest.importorskip("nbgrader")
EXERCISES = ("01_inception_block", "02_block_arithmetic", "03_train_loop", "04_aux_classifiers", "05_ablation")
# One fake of each kind (two for the last), in each language: every notebook costs a kernel, so the rest of
# tests/exercise_fakes.py runs through the package's grader only (tests/test_grading_attacks.py).
FAKES_HERE = ("custom_exc", "input_transformer", "allclose", "subclass", "exec_solution", "checkpoint_loop",
              "memorising_hook")


# nbgrader's own API in one process for all the commands: each `nbgrader` command would start Python afresh.
SCRIPT = """
import sys
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

config = PyFileConfigLoader("nbgrader_config.py", path=".").load_config()  # the course's own configuration
api = NbGraderAPI(CourseDirectory(config=config, root="."), config=config)
command, assignments = sys.argv[1], sys.argv[2:]
for assignment in assignments:
    result = (api.generate_assignment(assignment) if command == "generate_assignment"
              else api.autograde(assignment, "*"))
    if not result["success"]:
        sys.exit(f"{command} {assignment} failed:\\n{result.get('error')}\\n{result.get('log', '')[-3000:]}")
"""


CHECK_CELL = {"check_ablation": "cell-05-12"}  # grade id of the test cell that calls the check


def nbgrader(course: Path, command: str, assignments: list[str]) -> None:
    """Run an nbgrader command (generate_assignment or autograde) on assignments, in the course folder."""
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs alembic from the same environment
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run([sys.executable, "-c", SCRIPT, command, *assignments], cwd=course, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def submit(course: Path, student: str, assignment: str, nb: nbformat.NotebookNode) -> None:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{assignment.removesuffix('-zh')}.ipynb")


def as_release(fake: nbformat.NotebookNode, release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The fake's exercise cells put into the nbgrader release (which carries nbgrader's cell metadata)."""
    nb = nbformat.from_dict(release)
    sources = {c.id: c.source for c in fake.cells if "exercise" in c.metadata.get("tags", [])}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id.removeprefix("cell-") in sources:
            cell.source = sources[grade_id.removeprefix("cell-")]
    return nb


@pytest.mark.slow
def test_nbgrader_round_trip_in_both_languages(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    nbgrader_course.write_course(course, tiny_sources(tmp_path))
    monkeypatch.setenv("FAKE_CHECKPOINT", str(checkpoint(tmp_path)))
    assignments = [f"{name}{suffix}" for name in EXERCISES for suffix in ("", "-zh")]
    nbgrader(course, "generate_assignment", assignments)
    for assignment in assignments:
        notebook = f"{assignment.removesuffix('-zh')}.ipynb"
        release = nbformat.read(course / "release" / assignment / notebook, 4)
        submit(course, "solution", assignment, nbformat.read(course / "source" / assignment / notebook, 4))
        submit(course, "release", assignment, release)
        for name in FAKES_HERE:
            if FAKES[name][0] == assignment.removesuffix("-zh"):
                submit(course, f"fake-{name.replace('_', '-')}", assignment,
                       as_release(fake_notebook(name, TINY_DATA), release))
    nbgrader(course, "autograde", assignments)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {(s.student.id, s.assignment.name): (s.score, s.max_score)
                  for a in assignments for s in gradebook.assignment_submissions(a)}
        # a fake that leaves other checks honest: the test cell of the check it attacks scores zero
        attacked = {(f"fake-{name.replace('_', '-')}", a): gradebook.find_grade(
            CHECK_CELL[FAKED_CHECK[name]], a.removesuffix("-zh"), a, f"fake-{name.replace('_', '-')}").score
            for name in FAKES_HERE if name in FAKED_CHECK for a in assignments
            if a.removesuffix("-zh") == FAKES[name][0]}
    for assignment in assignments:
        score, most = scores[("solution", assignment)]
        assert most > 0 and score == most, (assignment, score, most)
        assert scores[("release", assignment)][0] == 0, assignment
    fakes = {key: value for key, value in scores.items() if key[0].startswith("fake-")}
    assert len(fakes) == 2 * len(FAKES_HERE)
    assert all(score == 0 for key, (score, _most) in fakes.items() if key not in attacked), fakes
    assert attacked and all(score == 0 for score in attacked.values()), attacked
    shutil.rmtree(course / "autograded")  # graded copies of fake submissions are not kept
