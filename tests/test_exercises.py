"""Exercise checks: each fails on the unfilled student notebook, on typical wrong answers and on typed-in or
non-learning results, and passes on the solution; the generated notebooks are up to date and the builder runs
from the package; grading runs the package's checks, not the notebook's, and reports pass/fail."""

import copy
import csv
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from inception_nb import exercises as ex
from inception_nb.loops import test as evaluate
from inception_nb.loops import train as package_train
from inception_nb.exercises import ExerciseError, build, grading
from inception_nb.exercises.checks_ablation import _ablation_costs
from inception_nb.exercises.cli import main
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


@functools.cache
def namespace(kind: str, name: str) -> dict:
    """Run a notebook's set-up cells (all before the first exercise) and exercise cells (not checks, not heavy
    training); return its globals."""
    nb = nbformat.read(NOTEBOOKS / kind / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    first = next(i for i, c in enumerate(code) if "exercise" in c.metadata.get("tags", []))
    scope: dict = {}
    for i, cell in enumerate(code):
        tags = cell.metadata.get("tags", [])
        if i < first or ("exercise" in tags and "heavy" not in tags):
            try:
                exec(compile(cell.source, f"{name}[{i}]", "exec"), scope)
            except NotImplementedError:  # an unfilled student cell stops where the student's code goes
                pass
    return scope


def solution(name: str, obj: str):
    return namespace("solutions", name)[obj]


def fails(check, arg, match: str) -> None:
    """Assert that check(arg) (check(*arg) for a tuple) fails with a message matching `match` and a hint."""
    with pytest.raises(ExerciseError, match=match) as info:
        check(*arg) if isinstance(arg, tuple) else check(arg)
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
                prefix="branch", bias=True):
    """An Inception block with one deliberate mistake, selected by the arguments."""

    def unit(a, b, k, last=True):
        layers = [nn.Conv2d(a, b, k, padding=k // 2 if pad else 0, bias=bias)] + ([nn.BatchNorm2d(b)] if bn else [])
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
    assert ex.check_inception_block(block_class(bias=False)) is None


@pytest.mark.parametrize("check,reference", [
    ("check_inception_block", InceptionBlock), ("check_inception_block", lambda *row: InceptionBlock(*row)),
    ("check_train_loop", package_train),
], ids=["block-class", "block-from-lambda", "package-train"])
def test_checks_refuse_the_packages_own_code(check, reference):
    fails(getattr(ex, check), reference, "the package's own code")


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
                "image-mean": sum(value * n for value, n in zip(losses, sizes)) / sum(sizes)}[loss]
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


def test_training_run_check_passes_when_the_loop_learns(capsys):
    ex.check_training_run(train_fn())
    assert "your loop trained the grader's network" in capsys.readouterr().out


def counting_loop(reported=lambda calls: (0.9, 1.0 / calls), zero_output=False, forward=True):
    """A loop that runs the batches forward in training mode but never learns, and reports what it likes."""

    def train(dataloader, model, loss_fn, optimizer):
        model.train()
        for X, _ in dataloader:
            if forward:
                model(X)
        if zero_output:  # a network whose output ignores its input: one class for every example
            with torch.no_grad():
                model[-1].weight.zero_(), model[-1].bias.zero_()
        train.calls = getattr(train, "calls", 0) + 1
        return reported(train.calls)

    return train


def test_training_run_check_fails_for_a_loop_that_does_not_learn():
    fails(ex.check_training_run, train_fn(step=False), "did not fall by a tenth")
    # A history that claims the loss fell: the grader's own test split (one class for all: 25 %) says no.
    fails(ex.check_training_run, counting_loop(zero_output=True), r"gets 2\d\.\d% .* at least twice")


def test_training_run_check_fails_for_typed_in_results():
    fails(ex.check_training_run, counting_loop(forward=False), "ran 0 batches in training mode")
    fails(ex.check_training_run, counting_loop(reported=lambda calls: (90.0, 1.0 / calls)), r"outside \[0, 1\]")
    fails(ex.check_training_run, counting_loop(reported=lambda calls: 0.5), "one .accuracy, mean_loss. pair")


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
def ablation_run():
    """(result, models, data) of a real but tiny ablation run: two steps of 4 images each, 40 test images."""
    torch.manual_seed(0)
    images = torch.randn(48, 1, 32, 32)
    labels = torch.arange(48) % 10
    data = SimpleNamespace(train=DataLoader(TensorDataset(images[:8], labels[:8]), batch_size=4),
                           test=DataLoader(TensorDataset(images[8:], labels[8:]), batch_size=20), image_size=32,
                           channels=1)
    models = {"with_reductions": InceptionV1(num_classes=10, in_channels=1, stem_batchnorm=True),
              "naive": naive_fn()(10, 1)}
    for model in models.values():
        package_train(data.train, model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.01))
    costs = _ablation_costs()
    result = {"params": {n: c["params"] for n, c in costs.items()}, "macs": {n: c["macs"] for n, c in costs.items()},
              "accuracy": {n: evaluate(data.test, m, nn.CrossEntropyLoss())[0] for n, m in models.items()},
              "images_seen": {n: 8 for n in models}}
    return result, models, data


def test_ablation_check_passes_on_real_measurements(ablation_run, capsys):
    ex.check_ablation(*ablation_run)
    out = capsys.readouterr().out
    assert "4.1x the parameters" in out and "2.9x the multiply-adds" in out


def test_ablation_costs_match_the_solution_notebooks_models():
    models = namespace("solutions", "05_ablation")["models"]
    from inception_nb.lesson.report import module_cost

    assert {n: module_cost(m, (1, 1, 32, 32)) for n, m in models.items()} == _ablation_costs()


@pytest.mark.parametrize("change,match", [
    (lambda r: r["params"].update(with_reductions=r["params"]["naive"], naive=r["params"]["with_reductions"]),
     "swapped"),
    (lambda r: r["accuracy"].update(naive=41.0), "fraction"),
    (lambda r: r["macs"].update(naive=r["macs"]["naive"] * 49), r"\(1, 1, 32, 32\)"),
    (lambda r: r.update(params={}, macs={}, accuracy={}), "run the cells above"),  # the unfilled student notebook
    (lambda r: r["params"].update(naive=...), r"still `\.\.\.`"),
    (lambda r: r["accuracy"].update(with_reductions=(r["accuracy"]["with_reductions"] + 0.5) % 1),
     "not a number typed in"),
    (lambda r: r["images_seen"].update(naive=2880), r"took 2 training steps of 4 images"),
    (lambda r: r["images_seen"].update(naive=6), r"took 2 training steps of 4 images"),
], ids=["swapped", "percent", "other-size", "unfilled", "ellipsis", "typed-accuracy", "typed-images", "odd-images"])
def test_ablation_check_catches(ablation_run, change, match):
    result, models, data = ablation_run
    result = copy.deepcopy(result)
    change(result)
    fails(ex.check_ablation, (result, models, data), match)


def test_ablation_check_fails_for_a_model_that_memorised_the_test_images(ablation_run):
    result, models, data = ablation_run
    table = {float(x.sum()): int(y) for x, y in data.test.dataset}

    def lookup(X):  # every image of data.test right, by heart
        return 10 * F.one_hot(torch.tensor([table.get(float(x.sum()), 0) for x in X]), 10).float()

    memorised = {name: copy.deepcopy(model) for name, model in models.items()}
    memorised["naive"].forward = lookup
    claimed = copy.deepcopy(result)
    claimed["accuracy"]["naive"] = 1.0
    fails(ex.check_ablation, (claimed, memorised, data), "not the InceptionV1")
    hooked = {name: copy.deepcopy(model) for name, model in models.items()}
    hooked["naive"].register_forward_hook(lambda module, args, out: lookup(args[0]))
    fails(ex.check_ablation, (claimed, hooked, data), "test images the grader picked itself")


def test_ablation_check_fails_for_untrained_or_mixed_up_models(ablation_run):
    result, models, data = ablation_run
    fresh = {"with_reductions": InceptionV1(num_classes=10, in_channels=1, stem_batchnorm=True),
             "naive": models["naive"]}
    fails(ex.check_ablation, (result, fresh, data), r"models\['with_reductions'\] has not been trained")
    swapped = {"with_reductions": models["naive"], "naive": models["with_reductions"]}
    fails(ex.check_ablation, (result, swapped, data), "is not the with_reductions network")


# ----------------------------------------------------------------------------- builder

def test_generated_notebooks_are_up_to_date():
    stale = build.stale(ROOT / "exercises", NOTEBOOKS)
    assert not stale, f"run `python -m inception_nb.exercises make`: out of date: {[str(p) for p in stale]}"


def test_student_notebooks_hide_solutions_and_solutions_are_executed():
    sources = sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    assert len(sources) >= 5
    for name in sources:
        student = nbformat.read(NOTEBOOKS / "student" / name, as_version=4)
        solved = nbformat.read(NOTEBOOKS / "solutions" / name, as_version=4)
        for nb in (student, solved):
            assert not any("### BEGIN SOLUTION" in c.source or "### END SOLUTION" in c.source for c in nb.cells)
            assert not any("NBVAL_IGNORE_OUTPUT" in c.source for c in nb.cells), "use the nbval-ignore-output tag"
        assert all(not c.outputs for c in student.cells if c.cell_type == "code"), name
        assert all(c.execution_count for c in solved.cells if c.cell_type == "code"), f"{name} must be executed"
        checks = [c for c in solved.cells if "check" in c.metadata.get("tags", [])]
        assert checks and all("✓" in "".join(o.get("text", "") for o in c.outputs) for c in checks), name


def test_render_replaces_regions_for_students_and_drops_markers_for_solutions():
    render = build.render
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


def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `python -m inception_nb.exercises ARGS` in a fresh interpreter, from `cwd`, with this checkout's package."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "inception_nb.exercises", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.process
@pytest.mark.slow
def test_builder_runs_from_the_package_in_another_folder(tmp_path):
    shutil.copytree(ROOT / "exercises", tmp_path / "course" / "exercises")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    made = run_module("make", "--sources", str(tmp_path / "course" / "exercises"), "--no-execute", cwd=elsewhere)
    assert made.returncode == 0, made.stderr
    out = tmp_path / "course" / "notebooks" / "exercises"
    assert sorted(p.name for p in (out / "student").glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    assert build.stale(tmp_path / "course" / "exercises", out) == []
    checked = run_module("make", "--check", cwd=tmp_path / "course")  # finds ./exercises by itself
    assert checked.returncode == 0 and "up to date" in checked.stdout, checked.stdout + checked.stderr
    missing = run_module("make", "--sources", str(elsewhere), cwd=elsewhere)
    assert missing.returncode == 2 and "no exercise source notebooks" in missing.stderr and "--sources DIR" in \
        missing.stderr


@pytest.mark.process
def test_importing_the_checks_does_not_import_the_cli(tmp_path):
    code = "import sys, inception_nb.exercises; print(sorted(m for m in sys.modules if m.startswith('inception_nb')))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    loaded = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert "inception_nb.exercises.cli" not in loaded.stdout and "inception_nb.exercises.build" not in loaded.stdout


# ----------------------------------------------------------------------------- grading

def test_grading_checks_match_the_source_notebooks_check_cells():
    for name, checks in grading.CHECKS.items():
        source = nbformat.read(ROOT / "exercises" / f"{name}.ipynb", as_version=4)
        calls = [re.fullmatch(r"(check_\w+)\((.*)\)", c.source.strip()) for c in source.cells
                 if "check" in c.metadata.get("tags", [])]
        assert all(calls), f"{name}: a check cell is one call check_x(name, ...)"
        assert [(m[1], tuple(a.strip() for a in m[2].split(","))) for m in calls] == list(checks), name


def shadowing_submission() -> nbformat.NotebookNode:
    """Student notebook 01 with every NotImplementedError in place and the check faked three ways."""
    nb = nbformat.read(NOTEBOOKS / "student" / "01_inception_block.ipynb", as_version=4)
    fake = ('import inception_nb.exercises as ex\nimport inception_nb.exercises.checks_block as cb\n\n'
            'def check_inception_block(cls):\n    print("✓ MyInceptionBlock matches the reference block")\n\n'
            'ex.check_inception_block = cb.check_inception_block = check_inception_block')
    nb.cells.insert(2, nbformat.v4.new_code_cell(fake))  # right after the imports: shadows them all
    for cell in nb.cells:
        if "check" in cell.metadata.get("tags", []):
            cell.metadata["tags"] = []  # an untagged copy of the check cell, so it survives grading
    return nb


@pytest.mark.process
@pytest.mark.slow
def test_grade_folder_runs_the_packages_checks_on_submissions(tmp_path):
    for student in ("alice", "bob", "carol"):
        (tmp_path / student).mkdir()
    # Alice renamed her file: grading finds the exercise from the notebook's metadata.
    shutil.copy(NOTEBOOKS / "solutions" / "02_block_arithmetic.ipynb", tmp_path / "alice" / "homework.ipynb")
    nb = nbformat.read(NOTEBOOKS / "student" / "01_inception_block.ipynb", as_version=4)
    for cell in nb.cells:  # Bob "fixed" his check cell
        if "check" in cell.metadata.get("tags", []):
            cell.source = 'print("✓ trust me")'
    nbformat.write(nb, tmp_path / "bob" / "01_inception_block.ipynb")
    nbformat.write(shadowing_submission(), tmp_path / "carol" / "01_inception_block.ipynb")

    rows = grading.grade_folder(tmp_path, timeout=120)

    by_notebook = {r["notebook"]: r for r in rows}
    assert len(rows) == 3
    alice = by_notebook[str(Path("alice/homework.ipynb"))]
    assert (alice["check"], alice["passed"]) == ("check_block_arithmetic", True)
    assert alice["message"].startswith("✓ all 9 answers")
    for cheat in ("bob", "carol"):
        row = by_notebook[str(Path(f"{cheat}/01_inception_block.ipynb"))]
        assert (row["check"], row["passed"]) == ("check_inception_block", False), row
        assert "ExerciseError" in row["message"] and "not written yet" in row["message"], row
    table = grading.format_grades(rows)
    assert "alice/homework.ipynb: 1/1 checks passed" in table and "carol/01_inception_block.ipynb: 0/1" in table
    assert "differ from the handout" in by_notebook[str(Path("carol/01_inception_block.ipynb"))]["flags"]

    grading.write_csv(rows, tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv", newline="", encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    assert [(r["notebook"], r["check"], r["passed"], r["message"]) for r in exported] == \
        [(r["notebook"], r["check"], str(r["passed"]), r["message"]) for r in rows]


@pytest.mark.process
def test_grade_reports_a_notebook_that_is_no_exercise(tmp_path):
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), tmp_path / "notes.ipynb")
    [row] = grading.grade_folder(tmp_path)
    assert not row["passed"] and "not one of the exercises" in row["message"]


def test_grade_command_prints_json_writes_csv_and_fails_when_a_check_fails(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.ipynb").write_text("{}")
    rows = [{"notebook": "a.ipynb", "exercise": "01_inception_block", "check": "check_inception_block",
             "passed": False, "message": "ExerciseError: no\nHINT: yes", "flags": ""}]
    monkeypatch.setattr(grading, "grade_folder", lambda folder, timeout, sources=None: rows)
    assert main(["grade", str(tmp_path), "--json", "--csv", str(tmp_path / "grades.csv")]) == 1
    printed = capsys.readouterr().out
    assert json.loads(printed[:printed.rindex("]") + 1]) == rows
    with open(tmp_path / "grades.csv", newline="", encoding="utf-8") as f:
        assert list(csv.DictReader(f)) == [{**rows[0], "passed": "False"}]
    with pytest.raises(SystemExit):
        main(["grade", str(tmp_path / "missing")])
    with pytest.raises(SystemExit):
        main(["grade", str(tmp_path), "--csv", str(tmp_path / "no" / "such" / "grades.csv")])
