"""Exercise checks: each fails on the unfilled student notebook and on typical wrong answers, and passes on the
solution; the generated notebooks are up to date; grading runs submitted notebooks and reports pass/fail."""

import copy
import functools
import importlib.util
import json
import shutil
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from inception_nb import exercises as ex
from inception_nb.exercises import ExerciseError
from inception_nb.model import INCEPTION_TABLE, InceptionBlock, InceptionV1

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks" / "exercises"

# (check, notebook, name the notebook defines and the check takes)
CASES = [("check_inception_block", "01_inception_block", "MyInceptionBlock"),
         ("check_block_arithmetic", "02_block_arithmetic", "answers"),
         ("check_train_loop", "03_train_loop", "train"),
         ("check_aux_head", "04_aux_classifiers", "AuxHead"),
         ("check_aux_loss", "04_aux_classifiers", "total_loss"),
         ("check_aux_step", "04_aux_classifiers", "train_step"),
         ("check_naive_model", "05_ablation", "naive_googlenet")]


@functools.lru_cache(maxsize=None)
def namespace(kind: str, name: str) -> dict:
    """Run a notebook's imports and exercise cells (not checks, not heavy training) and return its globals."""
    nb = nbformat.read(NOTEBOOKS / kind / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    scope: dict = {}
    for i, cell in enumerate(code):
        tags = cell.metadata.get("tags", [])
        if i == 0 or ("exercise" in tags and "heavy" not in tags):
            try:
                exec(compile(cell.source, f"{name}[{i}]", "exec"), scope)
            except NotImplementedError:  # an unfilled student cell stops where the student's code goes
                pass
    return scope


def solution(name: str, obj: str):
    return namespace("solutions", name)[obj]


def fails(check, arg, match: str) -> None:
    with pytest.raises(ExerciseError, match=match) as info:
        check(arg)
    assert "HINT:" in str(info.value), "every failure gives a hint"


@pytest.mark.parametrize("check,name,obj", CASES, ids=[c[0] for c in CASES])
def test_check_passes_on_solution(check, name, obj, capsys):
    solved = namespace("solutions", name)[obj]
    capsys.readouterr()
    getattr(ex, check)(solved)
    assert capsys.readouterr().out.startswith("✓ ")


@pytest.mark.parametrize("check,name,obj", CASES, ids=[c[0] for c in CASES])
def test_check_fails_on_unfilled_student_version(check, name, obj):
    fails(getattr(ex, check), namespace("student", name)[obj], r"not written yet|still `\.\.\.`")


# ----------------------------------------------------------------------------- exercise 1

def block_class(order=(1, 2, 3, 4), relu=True, mid_relu=True, bn=True, pool=nn.MaxPool2d, pad=True, dim=1,
                prefix="branch"):
    """An Inception block with one deliberate mistake, selected by the arguments."""

    def unit(a, b, k, last=True):
        layers = [nn.Conv2d(a, b, k, padding=k // 2 if pad else 0)] + ([nn.BatchNorm2d(b)] if bn else [])
        return layers + ([nn.ReLU()] if last else [])

    class Block(nn.Module):
        def __init__(self, i, c1, r3, c3, r5, c5, pp):
            super().__init__()
            branches = [nn.Sequential(*unit(i, c1, 1, relu)),
                        nn.Sequential(*unit(i, r3, 1, mid_relu), *unit(r3, c3, 3, relu)),
                        nn.Sequential(*unit(i, r5, 1, mid_relu), *unit(r5, c5, 5, relu)),
                        nn.Sequential(pool(3, stride=1, padding=1), *unit(i, pp, 1, relu))]
            for k, branch in enumerate(branches, 1):
                setattr(self, f"{prefix}{k}", branch)

        def forward(self, x):
            return torch.cat([getattr(self, f"{prefix}{k}")(x) for k in order], dim)

    return Block


def test_block_check_accepts_a_correct_block_in_another_style():
    assert ex.check_inception_block(block_class()) is None
    assert ex.check_inception_block(lambda *row: InceptionBlock(*row, conv_bias=False)) is None


@pytest.mark.parametrize("kwargs,match", [
    ({"order": (1, 3, 2, 4)}, "concatenated in the order branch1 .*branch3"),
    ({"relu": False}, "negative values"),
    ({"mid_relu": False}, r"branch2 \(1x1 -> 3x3\) computes something different"),
    ({"bn": False}, "BatchNorm2d is missing"),
    ({"pool": nn.AvgPool2d}, r"branch4 \(pool -> 1x1\) computes something different"),
    ({"pad": False}, r"branch2 .* turns a 6 x 6 input into 4 x 4"),
    ({"dim": 0}, "dim=1"),
    ({"prefix": "b"}, "no module attribute branch1, branch2, branch3, branch4"),
], ids=["order", "no-relu", "no-mid-relu", "no-bn", "avg-pool", "no-padding", "cat-dim0", "names"])
def test_block_check_catches(kwargs, match):
    fails(ex.check_inception_block, block_class(**kwargs), match)


# ----------------------------------------------------------------------------- exercise 2

@pytest.mark.parametrize("change,match", [
    ({"branch1_params": 192 * 64 + 64}, "BatchNorm's γ and β"),
    ({"branch1_params": 192 * 64 + 64 + 4 * 64}, "buffers, not parameters"),
    ({"branch2_params": 192 * 128 * 9 + 128 + 256}, "starts with its 1x1 reduction"),
    ({"branch_channels": [64, 96, 16, 32]}, "reductions"),
    ({"out_shape": (368, 28, 28)}, "reductions"),
    ({"out_shape": (256, 26, 26)}, "keeps 28 x 28"),
    ({"out_shape": (1, 256, 28, 28)}, "no batch dimension"),
    ({"total_macs": 128_049_152 // 784}, "28 x 28 positions"),
    ({"total_macs": 2 * 128_049_152}, "FLOPs"),
    ({"total_params": ...}, r"still `\.\.\.`"),
], ids=["no-bn", "bn-buffers", "no-reduction", "channels", "shape-reductions", "shape-hw", "shape-batch",
        "macs-per-pixel", "flops", "ellipsis"])
def test_arithmetic_check_catches(change, match):
    answers = {**solution("02_block_arithmetic", "answers"), **change}
    fails(ex.check_block_arithmetic, answers, match)


# ----------------------------------------------------------------------------- exercise 3

def train_fn(zero_grad=True, set_train=True, step=True, loss="batch-mean", acc="images", swap=False):
    """The post's train loop with one deliberate mistake, selected by the arguments."""

    def train(dataloader, model, loss_fn, optimizer):
        if set_train:
            model.train()
        correct, losses, sizes = 0, [], []
        for X, y in dataloader:
            pred = model(X)
            batch_loss = loss_fn(pred, y)
            if zero_grad:
                optimizer.zero_grad()
            batch_loss.backward()
            if step:
                optimizer.step()
            correct += (pred.argmax(1) == y).sum().item()
            losses.append(batch_loss.item()), sizes.append(len(y))
        mean = {"batch-mean": sum(losses) / len(losses), "sum": sum(losses),
                "image-mean": sum(l * n for l, n in zip(losses, sizes)) / sum(sizes)}[loss]
        accuracy = correct / (len(dataloader.dataset) if acc == "images" else len(dataloader))
        return (mean, accuracy) if swap else (accuracy, mean)

    return train


def test_train_check_passes_on_a_correct_loop():
    assert ex.check_train_loop(train_fn()) is None


@pytest.mark.parametrize("kwargs,match", [
    ({"zero_grad": False}, "zero_grad"),
    ({"set_train": False}, r"model\.train\(\)"),
    ({"step": False}, "did not change"),
    ({"loss": "sum"}, "that is the sum"),
    ({"loss": "image-mean"}, "averages per batch"),
    ({"acc": "batches"}, "divided by the number of batches"),
    ({"swap": True}, "swapped"),
], ids=["no-zero-grad", "no-train-mode", "no-step", "summed-loss", "image-mean", "acc-per-batch", "swapped"])
def test_train_check_catches(kwargs, match):
    fails(ex.check_train_loop, train_fn(**kwargs), match)


# ----------------------------------------------------------------------------- exercise 4

def head_class(pool=nn.AvgPool2d, relu_conv=True, relu_fc=True, p=0.7, bn=False, pooled=True, always_drop=False,
               drop_early=False):
    """The paper's auxiliary head with one deliberate mistake, selected by the arguments."""

    class Head(nn.Module):
        def __init__(self, in_channels, num_classes):
            super().__init__()
            self.pool = pool(5, stride=3) if pooled else nn.Identity()
            self.conv = nn.Conv2d(in_channels, 128, 1)
            self.bn = nn.BatchNorm2d(128) if bn else nn.Identity()
            self.fc1 = nn.Linear(128 * (16 if pooled else 196), 1024)
            self.dropout = nn.Dropout(p)
            self.fc2 = nn.Linear(1024, num_classes)

        def forward(self, x):
            x = self.bn(self.conv(self.pool(x)))
            x = torch.flatten(F.relu(x) if relu_conv else x, 1)
            if drop_early:
                x = self.dropout(x)
            x = self.fc1(x)
            x = F.relu(x) if relu_fc else x
            if always_drop:
                return self.fc2(F.dropout(x, p))
            return self.fc2(x if drop_early else self.dropout(x))

    return Head


def test_head_check_passes_on_a_correct_head():
    assert ex.check_aux_head(head_class()) is None


@pytest.mark.parametrize("kwargs,match", [
    ({"p": 0.5}, "drops 50%"),
    ({"pool": nn.MaxPool2d}, "max pool"),
    ({"relu_conv": False}, "ReLU after the 1x1 conv is missing"),
    ({"relu_fc": False}, "ReLU after fc1 is missing"),
    ({"bn": True}, "no BatchNorm"),
    ({"pooled": False}, "4 x 4"),
    ({"always_drop": True}, "nn.Dropout"),
    ({"drop_early": True}, "right before fc2"),
    ({"p": 0.0}, "no dropout"),
], ids=["p0.5", "max-pool", "no-conv-relu", "no-fc-relu", "batchnorm", "unpooled", "functional-dropout",
        "dropout-early", "no-dropout"])
def test_head_check_catches(kwargs, match):
    fails(ex.check_aux_head, head_class(**kwargs), match)


def loss_fn_variant(kind):
    """total_loss with one deliberate mistake."""

    def total_loss(outputs, target, loss_fn):
        if isinstance(outputs, torch.Tensor) and kind != "no-plain":
            return loss_fn(outputs, target)
        logits, aux2, aux1 = outputs
        main, a1, a2 = (loss_fn(t, target) for t in (logits, aux1, aux2))
        return {"weight-1": main + a1 + a2, "only-aux1": main + 0.3 * a1, "item": (main + 0.3 * (a1 + a2)).item(),
                "weights-main": 0.3 * main + a1 + a2, "no-plain": main + 0.3 * (a1 + a2),
                "order": loss_fn(aux1, target) + 0.3 * (loss_fn(aux2, target) + main)}[kind]

    return total_loss


@pytest.mark.parametrize("kind,match", [
    ("weight-1", "weighted by 1.00"), ("only-aux1", "only aux1"), ("item", "return the loss tensor"),
    ("weights-main", "weights the main loss"), ("no-plain", "eval mode"), ("order", "main logits come first"),
])
def test_aux_loss_check_catches(kind, match):
    fails(ex.check_aux_loss, loss_fn_variant(kind), match)


def step_fn(set_train=True, zero_grad=True, result=True):
    total_loss = solution("04_aux_classifiers", "total_loss")

    def train_step(model, images, labels, loss_fn, optimizer):
        if set_train:
            model.train()
        loss = total_loss(model(images), labels, loss_fn)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item() if result else None

    return train_step


@pytest.mark.parametrize("kwargs,match", [
    ({"set_train": False}, "auxiliary heads did not learn"), ({"zero_grad": False}, "differ from the reference"),
    ({"result": False}, "should be a number"),
], ids=["eval-mode", "no-zero-grad", "no-return"])
def test_aux_step_check_catches(kwargs, match):
    fails(ex.check_aux_step, step_fn(**kwargs), match)


# ----------------------------------------------------------------------------- exercise 5

def naive_fn(blocks=tuple(INCEPTION_TABLE), whole_5b=False, stem_bn=True, fixed_classes=None):
    def naive_googlenet(num_classes=10, in_channels=1):
        model = InceptionV1(num_classes=fixed_classes or num_classes, in_channels=in_channels, stem_batchnorm=stem_bn)
        for name in blocks:
            block = InceptionBlock(*INCEPTION_TABLE[name], reductions=False)
            if name == "inception5b" and not whole_5b:
                model.inception5b[0] = block
            else:
                setattr(model, name, block)
        return model

    return naive_googlenet


@pytest.mark.parametrize("kwargs,match", [
    ({"blocks": ("inception3a",)}, "inception3b has .*still has its 1x1 reductions"),
    ({"blocks": tuple(INCEPTION_TABLE)[:-1]}, r"model\.inception5b\[0\]"),
    ({"whole_5b": True}, "keep inception5b's average pool"),
    ({"stem_bn": False}, "stem_batchnorm=True"),
    ({"fixed_classes": 10}, "num_classes=num_classes"),
], ids=["only-3a", "skipped-5b", "replaced-5b-sequential", "no-stem-bn", "fixed-classes"])
def test_naive_model_check_catches(kwargs, match):
    fails(ex.check_naive_model, naive_fn(**kwargs), match)


@pytest.fixture(scope="module")
def ablation_result() -> dict:
    costs = ex._ablation_costs()
    return {"params": {n: c["params"] for n, c in costs.items()}, "macs": {n: c["macs"] for n, c in costs.items()},
            "accuracy": {"with_reductions": 0.62, "naive": 0.41}}


def test_ablation_check_passes_on_real_measurements(ablation_result, capsys):
    ex.check_ablation(ablation_result)
    assert "4.1x the parameters" in capsys.readouterr().out


def test_ablation_costs_match_the_solution_notebooks_models():
    models = namespace("solutions", "05_ablation")["models"]
    from inception_nb.report import module_cost

    assert {n: module_cost(m, (1, 1, 32, 32)) for n, m in models.items()} == ex._ablation_costs()


@pytest.mark.parametrize("change,match", [
    (lambda r: r["params"].update(with_reductions=r["params"]["naive"], naive=r["params"]["with_reductions"]),
     "swapped"),
    (lambda r: r["accuracy"].update(naive=41.0), "fraction"),
    (lambda r: r["macs"].update(naive=r["macs"]["naive"] * 49), r"\(1, 1, 32, 32\)"),
    (lambda r: r.update(params={}, macs={}, accuracy={}), "run the cells above"),  # the unfilled student notebook
    (lambda r: r["params"].update(naive=...), r"still `\.\.\.`"),
], ids=["swapped", "percent", "other-size", "unfilled", "ellipsis"])
def test_ablation_check_catches(ablation_result, change, match):
    result = copy.deepcopy(ablation_result)
    change(result)
    fails(ex.check_ablation, result, match)


# ----------------------------------------------------------------------------- generator

def make_exercises():
    spec = importlib.util.spec_from_file_location("make_exercises", ROOT / "scripts" / "make_exercises.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_notebooks_are_up_to_date():
    stale = make_exercises().stale()
    assert not stale, f"run `python scripts/make_exercises.py`: out of date: {[str(p) for p in stale]}"


def test_student_notebooks_hide_solutions_and_solutions_are_executed():
    sources = sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    assert len(sources) >= 5
    for name in sources:
        student = nbformat.read(NOTEBOOKS / "student" / name, as_version=4)
        solved = nbformat.read(NOTEBOOKS / "solutions" / name, as_version=4)
        for nb in (student, solved):
            assert not any("### BEGIN SOLUTION" in c.source or "### END SOLUTION" in c.source for c in nb.cells)
        assert all(not c.outputs for c in student.cells if c.cell_type == "code"), name
        assert all(c.execution_count for c in solved.cells if c.cell_type == "code"), f"{name} must be executed"
        checks = [c for c in solved.cells if "check" in c.metadata.get("tags", [])]
        assert checks and all("✓" in "".join(o.get("text", "") for o in c.outputs) for c in checks), name


def test_render_replaces_regions_for_students_and_drops_markers_for_solutions():
    render = make_exercises().render
    source = "def f(x):\n    ### BEGIN SOLUTION: double x\n    return 2 * x\n    ### END SOLUTION\n"
    assert render(source, student=False) == "def f(x):\n    return 2 * x"
    assert render(source, student=True) == ('def f(x):\n    # YOUR CODE HERE\n'
                                            '    raise NotImplementedError("your code here: double x")')
    answers = 'a = {\n    ### BEGIN SOLUTION (answers)\n    "n": 3 * 4,  # twelve\n    m = [1, 2]\n### END SOLUTION\n}'
    assert render(answers, student=True) == 'a = {\n    "n": ...,  # twelve\n    m = ...\n}'
    assert render("text\n### BEGIN SOLUTION\nsecret\n### END SOLUTION", True, markdown=True) == \
        "text\n*Your answer here.*"
    unclosed, unopened = "### BEGIN SOLUTION\nx = 1", "### END SOLUTION"
    for broken in (unclosed, unopened, "### BEGIN SOLUTION (answers)\nf(x)\n### END SOLUTION"):
        with pytest.raises(ValueError):
            render(broken, student=True)


# ----------------------------------------------------------------------------- grading

def test_grade_folder_runs_official_checks_on_submissions(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "bob").mkdir()
    # Alice renamed her file: grading finds the exercise from the notebook's metadata.
    shutil.copy(NOTEBOOKS / "solutions" / "02_block_arithmetic.ipynb", tmp_path / "alice" / "homework.ipynb")
    nb = nbformat.read(NOTEBOOKS / "student" / "01_inception_block.ipynb", as_version=4)
    for cell in nb.cells:  # Bob "fixed" his check cell; the official one still runs
        if "check" in cell.metadata.get("tags", []):
            cell.source = 'print("✓ trust me")'
    nbformat.write(nb, tmp_path / "bob" / "01_inception_block.ipynb")

    rows = ex.grade_folder(tmp_path, timeout=120)

    by_notebook = {r["notebook"]: r for r in rows}
    assert len(rows) == 2
    alice, bob = by_notebook[str(Path("alice/homework.ipynb"))], by_notebook[str(Path("bob/01_inception_block.ipynb"))]
    assert (alice["check"], alice["passed"]) == ("check_block_arithmetic", True)
    assert alice["message"].startswith("✓ all 9 answers")
    assert (bob["check"], bob["passed"]) == ("check_inception_block", False)
    assert "ExerciseError" in bob["message"] and "not written yet" in bob["message"]
    table = ex.format_grades(rows)
    assert "FAIL" in table and "alice/homework.ipynb: 1/1 checks passed" in table


def test_grade_command_prints_json_and_fails_when_a_check_fails(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.ipynb").write_text("{}")
    rows = [{"notebook": "a.ipynb", "exercise": "01_inception_block", "check": "check_inception_block",
             "passed": False, "message": "ExerciseError: no"}]
    monkeypatch.setattr(ex, "grade_folder", lambda folder, timeout: rows)
    assert ex.main(["grade", str(tmp_path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == rows
    with pytest.raises(SystemExit):
        ex.main(["grade", str(tmp_path / "missing")])
