"""Checks for exercises 3 (the training loop) and 4 (the auxiliary classifiers: head, loss, training step)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..loops import test as evaluate
from ..loops import train as reference_train
from ..model import InceptionAux, InceptionOutputs, aux_loss
from .checks import _close, _copy_state, _count, _fail, _number, _ok, _run, _seeded, _training_steps
from .messages import say

# ----------------------------------------------------------------------------- exercise 3: the loop

def _tiny_task(aux: bool = False) -> tuple:
    # Batches of 4, 4 and 2: the last one is smaller, so per-batch and per-image averages differ.
    torch.manual_seed(3)
    model = _TinyAuxNet() if aux else nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    x, y = torch.randn(10, 6), torch.randint(0, 3, (10,))
    return model, DataLoader(TensorDataset(x, y), batch_size=4)


def _plain_loop(loader: DataLoader, model: nn.Module, optimizer, zero_grad: bool) -> tuple:
    """Return (correct, batch losses, batch sizes) of one pass, optionally without zero_grad."""
    model.train()
    correct, losses, sizes = 0, [], []
    for x, y in loader:
        pred = model(x)
        loss = F.cross_entropy(pred, y)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        correct += int((pred.argmax(1) == y).sum())
        losses.append(loss.item()), sizes.append(len(y))
    return correct, losses, sizes


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a.parameters(), b.parameters()))


def check_train_loop(fn: Callable) -> None:
    """Check train(dataloader, model, loss_fn, optimizer) -> (accuracy, mean batch loss) against loops.train."""
    with _seeded():
        model, loader = _tiny_task()
        start, ref, slip, diag = (copy.deepcopy(model) for _ in range(4))
        model.eval()  # as after a test pass: the loop itself must switch to training mode
        result = _run("train(dataloader, model, loss_fn, optimizer)", fn, loader, model, nn.CrossEntropyLoss(),
                      torch.optim.SGD(model.parameters(), lr=0.5))
        want_acc, want_loss = reference_train(loader, ref, nn.CrossEntropyLoss(),
                                              torch.optim.SGD(ref.parameters(), lr=0.5))
        correct, losses, sizes = _plain_loop(loader, diag, torch.optim.SGD(diag.parameters(), lr=0.5), zero_grad=True)
        _plain_loop(loader, slip, torch.optim.SGD(slip.parameters(), lr=0.5), zero_grad=False)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        _fail(say("train.not_pair", result=result), say("train.not_pair.hint"))
    acc, loss = (_number(v, say(name)) for v, name in zip(result, ("train.accuracy", "train.mean_loss")))
    if not model.training:
        _fail(say("train.eval_mode"), say("train.eval_mode.hint"))
    if _same_weights(model, start):
        _fail(say("train.unchanged"), say("train.unchanged.hint"))
    if not _same_weights(model, ref):
        if _same_weights(model, slip):
            _fail(say("train.piled"), say("train.piled.hint"))
        _fail(say("train.weights"), say("train.weights.hint"))
    if _close(acc, want_loss) and _close(loss, want_acc):
        _fail(say("train.swapped"), say("train.swapped.hint"))
    if not _close(acc, want_acc):
        hint = {correct / len(sizes): "train.acc_batches", correct: "train.acc_fraction"}.get(acc, "train.acc_count")
        _fail(say("train.acc_wrong", accuracy=acc, correct=correct, images=sum(sizes)), say(hint))
    if not _close(loss, want_loss):
        weighted = sum(batch_loss * n for batch_loss, n in zip(losses, sizes)) / sum(sizes)
        hint = next((h for v, h in ((sum(losses), "train.loss_sum"), (weighted, "train.loss_weighted"),
                                    (losses[-1], "train.loss_last")) if _close(loss, v)), "train.loss_default")
        _fail(say("train.loss_wrong", loss=loss), say(hint))
    _ok(say("train.ok"))


def check_training_run(model: nn.Module, data, history: Sequence) -> None:
    """Check a network trained with the student's loop: every batch seen, the loss fell, twice chance on test."""
    if not isinstance(history, (list, tuple)) or len(history) < 2 or \
            not all(isinstance(h, (list, tuple)) and len(h) == 2 for h in history):
        _fail(say("run.history_shape", history=history), say("run.history_shape.hint"))
    passes = [(_number(a, say("run.history_accuracy", index=i)), _number(mean, say("run.history_loss", index=i)))
              for i, (a, mean) in enumerate(history)]
    if any(not 0 <= a <= 1 for a, _ in passes):
        _fail(say("run.accuracy_range", passes=passes), say("run.accuracy_range.hint"))
    steps, batches = _training_steps(model), len(history) * len(data.train)
    if steps is not None and steps < batches:
        _fail(say("run.steps", steps=steps, passes=len(history), batches=len(data.train), total=batches),
              say("run.steps.hint"))
    first, last = passes[0][1], passes[-1][1]
    if not last < 0.9 * first:  # frozen weights move it by batch noise only, a learning loop by far more
        _fail(say("run.no_fall", first=first, last=last, passes=len(passes)), say("run.no_fall.hint"))
    accuracy, _ = evaluate(data.test, model, nn.CrossEntropyLoss())
    chance = 1 / len(data.classes)
    if accuracy < 2 * chance:
        _fail(say("run.chance", accuracy=accuracy, images=len(data.test.dataset), chance=chance),
              say("run.chance.hint"))
    _ok(say("run.ok", first=first, last=last, passes=len(passes), accuracy=accuracy, chance=chance))


# ----------------------------------------------------------------------------- exercise 4: auxiliary heads

def _aux_forward(head: InceptionAux, x: torch.Tensor, pool: Callable = F.avg_pool2d, relu_conv: bool = True,
                 relu_fc: bool = True) -> torch.Tensor:
    """The paper's head written out (eval mode), with switches for the usual slips."""
    conv = head.conv[0]
    h = conv(pool(x, 5, 3))
    h = torch.flatten(F.relu(h) if relu_conv else h, 1)
    h = head.fc1(h)
    return head.fc2(F.relu(h) if relu_fc else h)


def check_aux_head(cls: Callable[..., nn.Module]) -> None:
    """Check AuxHead(in_channels, num_classes) against the paper's head: sizes, outputs and dropout 0.7."""
    with _seeded():
        head = _run("AuxHead(24, 7)", cls, 24, 7)
        ref = InceptionAux(24, 7, paper_pool=True, batchnorm=False).eval()
        if not isinstance(head, nn.Module):
            _fail(say("head.not_module", type_name=type(head).__name__), say("hint.subclass"))
        if _count(head) != _count(ref):
            shapes = [tuple(p.shape) for p in head.parameters()]
            hint = ("head.fc1_input" if not any(s == (1024, 2048) for s in shapes) else
                    "head.no_batchnorm" if any(isinstance(m, nn.BatchNorm2d) for m in head.modules())
                    else "head.layers")
            _fail(say("head.shapes", shapes=shapes, want=[tuple(p.shape) for p in ref.parameters()]), say(hint))
        _copy_state(ref, head, "AuxHead")
        x = torch.randn(3, 24, 14, 14)
        with torch.no_grad():
            out = _run(say("head.forward"), head.eval(), x)
            again = head(x)
            want = ref(x)
            if not isinstance(out, torch.Tensor) or out.shape != want.shape:
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                _fail(say("head.out_shape", got=got), say("head.out_shape.hint"))
            if not torch.equal(out, again):
                _fail(say("head.eval_random"), say("head.eval_random.hint"))
            if not torch.allclose(out, want, atol=1e-5):
                slips = {"head.slip_maxpool": _aux_forward(ref, x, pool=F.max_pool2d),
                         "head.slip_relu_conv": _aux_forward(ref, x, relu_conv=False),
                         "head.slip_relu_fc": _aux_forward(ref, x, relu_fc=False)}
                what = next((k for k, v in slips.items() if torch.allclose(out, v, atol=1e-5)), None)
                _fail(say("join.colon", first=say("head.differs"), second=say(what)) if what else say("head.differs"),
                      say("head.differs.hint"))
            fc2 = next((m for m in head.modules() if isinstance(m, nn.Linear) and m.in_features == 1024), None)
            if fc2 is None:
                _fail(say("head.no_fc2"), say("head.no_fc2.hint"))
            seen: list = []
            hook = fc2.register_forward_hook(lambda _m, args, _o: seen.append(args[0]))
            head(x), head.train()(x)
            hook.remove()
        calm, dropped = seen
        if torch.equal(calm, dropped):
            _fail(say("head.no_dropout"), say("head.no_dropout.hint"))
        kept = dropped != 0
        ratio = dropped[kept] / calm[kept]
        if not torch.allclose(ratio, ratio.mean().expand_as(ratio), rtol=1e-4):
            _fail(say("head.dropout_place"), say("head.dropout_place.hint"))
        p = 1 - 1 / ratio.mean().item()
        if abs(p - 0.7) > 1e-3:
            _fail(say("head.dropout_rate", rate=p), say("head.dropout_rate.hint"))
    _ok(say("head.ok", params=_count(head)))


def check_aux_loss(fn: Callable) -> None:
    """Check total_loss(outputs, target, loss_fn): main loss + 0.3 x each auxiliary loss; plain logits alone."""
    with _seeded():
        logits, aux2, aux1 = (torch.randn(4, 5, requires_grad=True) * s for s in (1.0, 2.0, 3.0))
        target, loss_fn = torch.tensor([0, 3, 1, 4]), nn.CrossEntropyLoss()
        out = _run("total_loss(outputs, target, loss_fn)", fn, InceptionOutputs(logits, aux2, aux1), target, loss_fn)
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        _fail(say("loss.not_tensor", type_name=type(out).__name__), say("loss.not_tensor.hint"))
    if not out.requires_grad:
        _fail(say("loss.detached"), say("loss.detached.hint"))
    main, l2, l1 = (loss_fn(t, target).item() for t in (logits, aux2, aux1))
    got, want = out.item(), aux_loss(InceptionOutputs(logits, aux2, aux1), target, loss_fn).item()
    if not _close(got, want):
        slips = [(main, "loss.no_aux"), (main + 0.3 * l1, "loss.only_aux1"), (main + 0.3 * l2, "loss.only_aux2"),
                 (0.3 * main + l1 + l2, "loss.weight_main"), (l2 + 0.3 * (main + l1), "loss.order"),
                 (l1 + 0.3 * (main + l2), "loss.order")]
        what = next((say(h) for v, h in slips if _close(got, v)), None)
        weight = (got - main) / (l1 + l2)
        if what is None and abs(weight - round(weight, 2)) < 1e-4:
            what = say("loss.weight", weight=weight)
        wrong = say("loss.wrong", got=got, want=want)
        _fail(say("join.colon", first=wrong, second=what) if what else wrong, say("loss.wrong.hint"))
    try:
        plain = fn(logits, target, loss_fn)
    except Exception as e:  # typically unpacking a 4-row tensor into (logits, aux2, aux1)
        plain = e
    if not isinstance(plain, torch.Tensor) or not _close(plain.item(), main):
        _fail(say("loss.plain"), say("loss.plain.hint"))
    _ok(say("loss.ok"))


class _TinyAuxNet(nn.Module):
    """A stand-in for GoogLeNet with aux heads: InceptionOutputs in training mode, logits in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self.body, self.classifier = nn.Linear(6, 8), nn.Linear(8, 3)
        self.aux1, self.aux2 = nn.Linear(8, 3), nn.Linear(8, 3)

    def forward(self, x: torch.Tensor):
        h = F.relu(self.body(x))
        logits = self.classifier(h)
        return InceptionOutputs(logits, self.aux2(h), self.aux1(h)) if self.training else logits


def check_aux_step(fn: Callable) -> None:
    """Check train_step(model, images, labels, loss_fn, optimizer) -> float: two steps with the aux losses."""
    with _seeded():
        model, loader = _tiny_task(aux=True)
        start, ref = copy.deepcopy(model), copy.deepcopy(model)
        opt, ref_opt = (torch.optim.SGD(m.parameters(), lr=0.5) for m in (model, ref))
        model.eval()  # as after evaluation: the aux heads only run in training mode
        for x, y in itertools.islice(loader, 2):
            got = _number(_run("train_step(model, images, labels, loss_fn, optimizer)", fn, model, x, y,
                               nn.CrossEntropyLoss(), opt), say("step.return"))
            ref.train()
            loss = aux_loss(ref(x), y, nn.CrossEntropyLoss())
            ref_opt.zero_grad(), loss.backward(), ref_opt.step()
    if _same_weights(model.aux1, start.aux1):
        _fail(say("step.heads_frozen"), say("step.heads_frozen.hint"))
    if not _same_weights(model, ref):
        _fail(say("step.weights"), say("step.weights.hint"))
    if not _close(got, loss.item()):
        _fail(say("step.returned", got=got, want=loss.item()), say("step.returned.hint"))
    _ok(say("step.ok"))

