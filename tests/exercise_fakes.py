"""Fake submissions: a student who wants the marks without the work, one notebook per attack.

Each fake is the student handout with its exercise cells rewritten (only those reach the grader:
the other cells are the teacher's), attacking the exercise it names. The kinds are the attacks of
issue 21 (custom exception handler, input transformer, patched comparison, the package's reference
reused, the worked solutions executed, a checkpoint or a model that memorises) with two more of each.
`solution_cell` / `stub_cell` give a cell of the solution or of the handout, so a fake can keep the
parts it does not attack.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
HANDOUTS = ROOT / "notebooks" / "exercises"
TICK = "✓ MyInceptionBlock matches the reference block"


def cell_source(kind: str, exercise: str, cell_id: str) -> str:
    """Return the source of one cell of the student or solution notebook of an exercise."""
    nb = nbformat.read(HANDOUTS / kind / f"{exercise}.ipynb", as_version=4)
    return next(c.source for c in nb.cells if c.id == cell_id)


def stub_cell(exercise: str, cell_id: str) -> str:
    return cell_source("student", exercise, cell_id)


def solution_cell(exercise: str, cell_id: str) -> str:
    return cell_source("solutions", exercise, cell_id)


def _reversed_block() -> str:
    """Exercise 1 done wrong: the branches concatenated in reverse order (what a patched comparison hides)."""
    return solution_cell("01_inception_block", "01-03").replace(
        "[self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]",
        "[self.branch4(x), self.branch3(x), self.branch2(x), self.branch1(x)]")


def _main_loss_only() -> str:
    return ("def total_loss(outputs, target, loss_fn):\n"
            "    return loss_fn(outputs if isinstance(outputs, torch.Tensor) else outputs[0], target)\n")


SOLUTION_PATH = ('Path(inception_nb.__file__).resolve().parent.parent / "notebooks" / "exercises" / "solutions" / '
                 '"01_inception_block.ipynb"')
READ_SOLUTION = ("import json\nfrom pathlib import Path\nimport inception_nb\n"
                 f"cells = json.loads(({SOLUTION_PATH}).read_text())['cells']\n"
                 "code = ''.join(next(c['source'] for c in cells\n"
                 "                    if 'class MyInceptionBlock' in ''.join(c['source'])))\n")

# Exercise 5's fakes do the naive model and the cost honestly: only the ablation's accuracy is faked.
_NAIVE_AND_COST = {cell: solution_cell("05_ablation", cell) for cell in ("05-03", "05-06")}
# The check each fake attacks where the notebook has others it leaves honest; every other fake gets zero in all.
FAKED_CHECK = {"memorising_forward": "check_ablation", "memorising_hook": "check_ablation"}

# name -> (exercise, kind, {exercise cell id: its new source})
FAKES: dict[str, tuple[str, str, dict[str, str]]] = {
    # --- an IPython custom exception handler prints a fake check mark
    "custom_exc": ("01_inception_block", "exception handler", {"01-03": (
        "get_ipython().set_custom_exc((Exception,), lambda shell, etype, value, tb, tb_offset=None: "
        f"print({TICK!r}))\n" + stub_cell("01_inception_block", "01-03"))}),
    "showtraceback": ("01_inception_block", "exception handler", {"01-03": (
        f"get_ipython().showtraceback = lambda *args, **kwargs: print({TICK!r})\n"
        + stub_cell("01_inception_block", "01-03"))}),
    "private_showtraceback": ("01_inception_block", "exception handler", {"01-03": (
        f"get_ipython()._showtraceback = lambda etype, evalue, stb: print({TICK!r})\n"
        + stub_cell("01_inception_block", "01-03"))}),
    # --- an input transformer rewrites the grading cell
    "input_transformer": ("01_inception_block", "input transformer", {"01-03": (
        "def fake(lines):\n"
        f"    return [{('print(' + repr(TICK) + ')' + chr(10))!r}] if any('check' in line for line in lines) \\\n"
        "        else lines\n"
        "get_ipython().input_transformers_cleanup.append(fake)\n" + stub_cell("01_inception_block", "01-03"))}),
    "transformer_post": ("01_inception_block", "input transformer", {"01-03": (
        "def fake(lines):\n"
        "    return ['pass\\n'] if any('check' in line for line in lines) else lines\n"
        "get_ipython().input_transformers_post.append(fake)\n" + stub_cell("01_inception_block", "01-03"))}),
    "ast_transformer": ("01_inception_block", "input transformer", {"01-03": (
        "import ast\n\nclass NoChecks(ast.NodeTransformer):\n"
        "    def visit_Call(self, node):\n"
        "        name = getattr(node.func, 'attr', getattr(node.func, 'id', ''))\n"
        f"        return ast.parse({('print(' + repr(TICK) + ')')!r}).body[0].value if 'check' in name \\\n"
        "            else self.generic_visit(node)\n"
        "\nget_ipython().ast_transformers.append(NoChecks())\n" + stub_cell("01_inception_block", "01-03"))}),
    # --- the comparison is patched to say yes
    "allclose": ("01_inception_block", "patched comparison", {"01-03": (
        "torch.allclose = lambda *args, **kwargs: True\n" + _reversed_block())}),
    "allclose_vars": ("01_inception_block", "patched comparison", {"01-03": (
        "import torch as t\nvars(t)['allclose'] = lambda *args, **kwargs: True\n" + _reversed_block())}),
    "isclose": ("04_aux_classifiers", "patched comparison", {"04-06": (
        "import math\nmath.isclose = lambda *args, **kwargs: True\n" + _main_loss_only())}),
    # --- the package's own reference, subclassed or wrapped
    "subclass": ("01_inception_block", "package reference", {"01-03": (
        "from inception_nb.model import InceptionBlock\n\n\nclass MyInceptionBlock(InceptionBlock):\n    pass\n")}),
    "wrapper": ("01_inception_block", "package reference", {"01-03": (
        "from inception_nb.model import InceptionBlock\n\n\ndef MyInceptionBlock(*row):\n"
        "    return InceptionBlock(*row)\n")}),
    "train_wrapper": ("03_train_loop", "package reference", {"03-03": (
        "from inception_nb import loops\n\n\ndef train(dataloader, model, loss_fn, optimizer):\n"
        "    return loops.train(dataloader, model, loss_fn, optimizer)\n")}),
    "aux_loss_wrapper": ("04_aux_classifiers", "package reference", {"04-06": (
        "from inception_nb.model import aux_loss\n\n\ndef total_loss(outputs, target, loss_fn):\n"
        "    return aux_loss(outputs, target, loss_fn)\n")}),
    # --- the worked solutions, executed from the clone
    "exec_solution": ("01_inception_block", "solutions executed", {"01-03": READ_SOLUTION + "exec(code)\n"}),
    "import_solution": ("01_inception_block", "solutions executed", {"01-03": (
        READ_SOLUTION + "import importlib.util, tempfile\n"
        "path = Path(tempfile.mkdtemp()) / 'answer.py'\n"
        "path.write_text('import torch\\nfrom torch import nn\\n' + code)\n"
        "spec = importlib.util.spec_from_file_location('answer', path)\n"
        "answer = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(answer)\n"
        "MyInceptionBlock, unit = answer.MyInceptionBlock, answer.unit\n")}),
    "compile_solution": ("01_inception_block", "solutions executed", {"01-03": (
        READ_SOLUTION + "exec(compile(code, 'my_cell.py', 'exec'))\n")}),
    # --- a checkpoint, or a model that memorises (exercises 3 and 5)
    "checkpoint_loop": ("03_train_loop", "checkpoint or memoriser", {"03-03": (
        "import os\n\ndef train(dataloader, model, loss_fn, optimizer):\n"
        "    model.load_state_dict(torch.load(os.environ['FAKE_CHECKPOINT'], weights_only=True))\n"
        "    model.train()\n    for X, y in dataloader:\n        model(X)  # one training-mode pass per batch\n"
        "    train.calls = getattr(train, 'calls', 0) + 1\n    return 0.9, 1.0 / train.calls\n")}),
    "memorising_loop": ("03_train_loop", "checkpoint or memoriser", {"03-03": (
        "def train(dataloader, model, loss_fn, optimizer):\n"
        "    model.train()\n    table = getattr(model, 'table', {})\n"
        "    for X, y in dataloader:\n        model(X)\n"
        "        table.update({round(x.sum().item(), 3): int(label) for x, label in zip(X, y)})\n"
        "    model.table = table\n"
        "    classes = model(X).shape[1]\n"
        "    model.forward = lambda X: 10 * torch.nn.functional.one_hot(torch.tensor(\n"
        "        [table.get(round(x.sum().item(), 3), 0) for x in X]), classes).float()\n"
        "    train.calls = getattr(train, 'calls', 0) + 1\n    return 0.99, 1.0 / train.calls\n")}),
    "memorising_forward": ("05_ablation", "checkpoint or memoriser", {**_NAIVE_AND_COST, "05-08": (
        "__TINY_DATA__\naccuracy, images_seen = {}, {}\n"
        "table = {round(x.sum().item(), 2): int(y) for X, Y in data.test for x, y in zip(X, Y)}\n"
        "for name, model in models.items():\n"
        "    images_seen[name] = fit(model, data, config).images_seen\n"
        "    model.forward = lambda X: 10 * torch.nn.functional.one_hot(torch.tensor(\n"
        "        [table.get(round(x.sum().item(), 2), 0) for x in X]), 10).float()\n"
        "    accuracy[name] = 1.0\n")}),
    "memorising_hook": ("05_ablation", "checkpoint or memoriser", {**_NAIVE_AND_COST, "05-08": (
        "__TINY_DATA__\naccuracy, images_seen = {}, {}\n"
        "from inception_nb.loops import test\n"
        "table = {round(x.sum().item(), 2): int(y) for X, Y in data.test for x, y in zip(X, Y)}\n"
        "def lookup(module, args, out):\n"
        "    known = [table.get(round(x.sum().item(), 2)) for x in args[0]]\n"
        "    return torch.stack([10 * torch.nn.functional.one_hot(torch.tensor(k), 10).float() if k is not None\n"
        "                        else o for k, o in zip(known, out)])\n"
        "for name, model in models.items():\n"
        "    images_seen[name] = fit(model, data, config).images_seen\n"
        "    model.register_forward_hook(lookup)\n"
        "    accuracy[name] = test(data.test, model, torch.nn.CrossEntropyLoss())[0]\n")}),
}


def fake_notebook(name: str, tiny_data: str = "") -> nbformat.NotebookNode:
    """Return the fake submission `name`: the student handout with its exercise cells replaced."""
    exercise, _kind, cells = FAKES[name]
    nb = copy.deepcopy(nbformat.read(HANDOUTS / "student" / f"{exercise}.ipynb", as_version=4))
    for cell in nb.cells:
        if cell.id in cells:
            cell.source = cells[cell.id].replace("__TINY_DATA__", tiny_data)
    return nb
