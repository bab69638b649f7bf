"""Grading against a student who sets out to cheat: every fake submission of tests/exercise_fakes.py scores zero
with the package's grader (a fresh kernel, the teacher's handout, the checks' verdict through user_expressions),
honest work still passes, numpy numbers are accepted, and what cannot be prevented is flagged for a human."""

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from exercise_fakes import FAKED_CHECK, FAKES, fake_notebook
from inception_nb import exercises as ex
from inception_nb.exercises import ExerciseError, grading, origin, splice
from inception_nb.model import InceptionV1

ROOT = Path(__file__).resolve().parent.parent
# Exercises 3 and 5 on a few images, so that a whole notebook runs in seconds (the checks do not depend on it).
TINY = {"limit=512": "limit=64", "limit=2000": "limit=64", "batch_size=64": "batch_size=16",
        "time_budget=20": "time_budget=None", "epochs=30": "epochs=1"}
TINY_DATA = ('data = load_data(DataConfig(image_size=32, channels=1, batch_size=16, limit=64, augment=True))\n'
             'config = TrainConfig(epochs=1, optimizer="sgd", lr=0.05, weight_decay=5e-4, out_dir=None, '
             'progress=False, device="cpu")')


def tiny_sources(folder: Path) -> Path:
    """Copy the exercise sources into folder/exercises with the tiny data sizes of TINY; return that folder."""
    target = folder / "exercises"
    target.mkdir(parents=True)
    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        for old, new in TINY.items():
            text = text.replace(old, new)
        (target / path.name).write_text(text, encoding="utf-8")
    return target


def checkpoint(folder: Path) -> Path:
    """A checkpoint "from runs/": the state of the exercise 3 network, as a student could load it."""
    path = folder / "runs" / "quick" / "model.pt"
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(InceptionV1(num_classes=10, in_channels=1, stem_batchnorm=True).state_dict(), path)
    return path


@pytest.mark.slow
def test_every_fake_scores_zero_and_honest_work_passes_with_the_packages_grader(tmp_path, monkeypatch):
    sources = tiny_sources(tmp_path)
    monkeypatch.setenv("FAKE_CHECKPOINT", str(checkpoint(tmp_path)))
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    for name, (exercise, _kind, _cells) in FAKES.items():
        nbformat.write(fake_notebook(name, TINY_DATA), submissions / f"{name}.ipynb")
    honest = nbformat.read(ROOT / "notebooks" / "exercises" / "solutions" / "01_inception_block.ipynb", 4)
    nbformat.write(honest, submissions / "honest.ipynb")

    rows = grading.grade_folder(submissions, timeout=300, sources=sources)

    by_name = {}
    for row in rows:
        by_name.setdefault(Path(row["notebook"]).stem, []).append(row)
    assert set(by_name) == set(FAKES) | {"honest"}
    assert [r["passed"] for r in by_name.pop("honest")] == [True]
    for name, found in by_name.items():
        attacked = [r for r in found if r["check"] == FAKED_CHECK.get(name, r["check"])]
        assert attacked and not any(r["passed"] for r in attacked), (name, found)
        assert all(r["exercise"] == FAKES[name][0] for r in found)
    flags = {name: found[0]["flags"] for name, found in by_name.items()}
    for name in ("custom_exc", "showtraceback", "private_showtraceback", "input_transformer", "transformer_post",
                 "ast_transformer"):
        assert "reaches into IPython" in flags[name], name
    assert "assigns torch.allclose" in flags["allclose"] and "assigns vars(t)['allclose']" in flags["allclose_vars"]
    assert "runs code from a string" in flags["exec_solution"]
    assert "loads other code or weights" in flags["checkpoint_loop"]
    table = grading.format_grades(rows)
    assert re.search(r"custom_exc\.ipynb: 0/1 checks passed  FLAGGED: .*reaches into IPython", table)


# ----------------------------------------------------------------------------- in-process pieces


def test_the_guard_notices_a_patched_comparison_and_restoring_it_clears_it(monkeypatch):
    assert origin.replaced() == []
    monkeypatch.setattr(torch, "allclose", lambda *args, **kwargs: True)
    assert "torch.allclose" in origin.replaced()
    with pytest.raises(ExerciseError, match="replaced after the checks were imported"):
        ex.check_aux_loss(lambda outputs, target, loss_fn: None)
    monkeypatch.undo()
    assert origin.replaced() == []


def test_package_code_is_recognised_by_its_files_not_its_name():
    from inception_nb.model import InceptionBlock, aux_loss

    class Renamed(InceptionBlock):
        pass

    Renamed.__module__ = "__main__"
    assert origin.package_code(Renamed) and origin.package_code(aux_loss)

    def mine(x):
        return x

    mine.__module__ = "inception_nb.model"  # a name is not an origin
    assert not origin.package_code(mine)


def test_grading_refuses_code_not_compiled_from_a_notebook_cell(monkeypatch):
    from inception_nb.exercises import checks

    solution = {}
    exec(fake_source_of_solution(), solution)  # like exec of the worked solution: compiled from a string
    # Replacing checks.grading is itself caught by the guard (a check would fail for that); the refusal alone:
    monkeypatch.setattr(checks, "grading", lambda: True)
    with pytest.raises(ExerciseError, match="not written in a cell of this notebook"):
        checks._refuse_package_code("MyInceptionBlock", solution["MyInceptionBlock"])
    with pytest.raises(ExerciseError, match="replaced after the checks were imported: .*checks.grading"):
        ex.check_inception_block(solution["MyInceptionBlock"])


def fake_source_of_solution() -> str:
    nb = nbformat.read(ROOT / "notebooks" / "exercises" / "solutions" / "01_inception_block.ipynb", 4)
    return "import torch\nfrom torch import nn\n" + next(c.source for c in nb.cells if "class MyInceptionBlock"
                                                         in c.source)


def test_arithmetic_accepts_numpy_integers_and_arrays(capsys):
    nb = nbformat.read(ROOT / "notebooks" / "exercises" / "solutions" / "02_block_arithmetic.ipynb", 4)
    scope: dict = {}
    exec(next(c.source for c in nb.cells if c.source.startswith("answers = {")), scope)
    answers = {k: np.array(v) if isinstance(v, (list, tuple)) else np.int64(v) for k, v in scope["answers"].items()}
    ex.check_block_arithmetic(answers)
    assert capsys.readouterr().out.startswith("✓ all 9 answers")


def test_static_flags_name_what_a_human_should_read():
    assert splice.code_flags("import torch as t\nt.nn.functional.relu = abs") == ["assigns t.nn.functional.relu"]
    assert splice.code_flags("setattr(math, 'isclose', f)") == ["assigns setattr(math, ...)"]
    assert splice.code_flags("x = torch.load('runs/quick/model.pt')") == \
        ["loads other code or weights (solutions/, runs/, a checkpoint)"]
    assert splice.code_flags("import sys\nsys._getframe(1).f_globals['x'] = 1")[0] == \
        "reaches into frames or code objects"
    assert splice.code_flags("def f(x):\n    return torch.relu(x)  # get_ipython in a comment") == []


def test_a_notebook_whose_metadata_and_file_name_disagree_is_flagged(tmp_path):
    nb = nbformat.read(ROOT / "notebooks" / "exercises" / "student" / "02_block_arithmetic.ipynb", 4)
    name, flags = ex.grading.identify(nb, tmp_path / "01_inception_block.ipynb")
    assert name == "01_inception_block" and "metadata says 02_block_arithmetic" in flags[0]


def test_splice_keeps_the_handout_and_flags_other_edits():
    nb = nbformat.read(ROOT / "notebooks" / "exercises" / "solutions" / "01_inception_block.ipynb", 4)
    nb.cells[2].source += "\nimport torch\ntorch.manual_seed = print"  # the teacher's import cell, edited
    teacher = splice.handout("01_inception_block")
    cells, flags = splice.splice(nb, teacher)
    assert [c.source for c in cells if "exercise" not in c.metadata.get("tags", [])] == \
        [c.source for c in teacher.cells if not {"exercise", "check"} & set(c.metadata.get("tags", []))]
    assert any("differ from the handout" in f for f in flags)
    assert any("assigns torch.manual_seed" in f for f in flags)
    assert not any("unimplemented" in f for f in flags)

