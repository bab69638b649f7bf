"""Checks for exercises 3 (the training loop) and 4 (the auxiliary classifiers: head, loss, training step)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..engine import test as evaluate
from ..engine import train as reference_train
from ..model import InceptionAux, InceptionOutputs, aux_loss
from .checks import _close, _copy_state, _count, _fail, _number, _ok, _run, _seeded, _training_steps

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
    """Check train(dataloader, model, loss_fn, optimizer) -> (accuracy, mean batch loss) against engine.train."""
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
        _fail(f"train returned {result!r}", "return a pair: (accuracy, mean_loss)")
    acc, loss = (_number(v, name) for v, name in zip(result, ("the accuracy", "the mean loss")))
    if not model.training:
        _fail("after train() the model is still in eval mode",
              "call model.train() first: a model arrives in eval mode after test(), and BatchNorm and dropout "
              "then behave as in evaluation")
    if _same_weights(model, start):
        _fail("the weights did not change", "call loss.backward() and optimizer.step() for every batch")
    if not _same_weights(model, ref):
        if _same_weights(model, slip):
            _fail("the weights differ from the reference loop's: gradients pile up from batch to batch",
                  "call optimizer.zero_grad() before loss.backward() in every step")
        _fail("the weights after one pass differ from the reference loop's",
              "per batch: pred = model(X); loss = loss_fn(pred, y); optimizer.zero_grad(); loss.backward(); "
              "optimizer.step() — once each, in this order")
    if _close(acc, want_loss) and _close(loss, want_acc):
        _fail("accuracy and loss are swapped", "the post returns the accuracy first: return correct, mean_loss")
    if not _close(acc, want_acc):
        hint = {correct / len(sizes): "you divided by the number of batches: divide the correct count by the number "
                "of images, len(dataloader.dataset)", correct: "return a fraction: divide the correct count by the "
                "number of images"}.get(acc, "count (pred.argmax(1) == y).sum() per batch, using the predictions "
                                        "of the forward pass, and divide by len(dataloader.dataset)")
        _fail(f"accuracy {acc:.4f} is wrong: the model got {correct} of {sum(sizes)} images right", hint)
    if not _close(loss, want_loss):
        weighted = sum(batch_loss * n for batch_loss, n in zip(losses, sizes)) / sum(sizes)
        hint = next((h for v, h in ((sum(losses), "that is the sum: divide by the number of batches, len(dataloader)"),
                                    (weighted, "the post averages per batch: sum of loss.item() / len(dataloader)"),
                                    (losses[-1], "that is the last batch's loss: add up every batch's loss.item()"))
                     if _close(loss, v)), "add loss.item() of each batch and divide by len(dataloader)")
        _fail(f"mean loss {loss:.4f} is wrong", hint)
    _ok("train() matches the reference loop: same weights, accuracy and mean batch loss")


def check_training_run(model: nn.Module, data, history: Sequence) -> None:
    """Check a network trained with the student's loop: every batch seen, the loss fell, twice chance on test."""
    if not isinstance(history, (list, tuple)) or len(history) < 2 or \
            not all(isinstance(h, (list, tuple)) and len(h) == 2 for h in history):
        _fail(f"history should hold one (accuracy, mean_loss) pair per pass, at least two; got {history!r}",
              "after each pass: history.append(train(data.train, model, loss_fn, optimizer))")
    passes = [(_number(a, f"history[{i}] accuracy"), _number(mean, f"history[{i}] loss")) for i, (a, mean) in
              enumerate(history)]
    if any(not 0 <= a <= 1 for a, _ in passes):
        _fail(f"history has an accuracy outside [0, 1]: {passes}", "train returns a fraction: correct / images")
    steps, batches = _training_steps(model), len(history) * len(data.train)
    if steps is not None and steps < batches:
        _fail(f"the network ran {steps} batches in training mode, but {len(history)} passes over the "
              f"{len(data.train)} batches of data.train make {batches}", "history must come from this model's "
              "own run: one forward pass in training mode per batch (model.train(), then model(X))")
    first, last = passes[0][1], passes[-1][1]
    if not last < 0.9 * first:  # frozen weights move it by batch noise only, a learning loop by far more
        _fail(f"the mean training loss did not fall by a tenth: {first:.3f} in pass 1, {last:.3f} in pass "
              f"{len(passes)}", "the weights must move against the gradient in every step: "
              "optimizer.zero_grad(), loss.backward(), optimizer.step()")
    accuracy, _ = evaluate(data.test, model, nn.CrossEntropyLoss())
    chance = 1 / len(data.classes)
    if accuracy < 2 * chance:
        _fail(f"the trained network gets {accuracy:.1%} of the {len(data.test.dataset):,} test images right; chance "
              f"is {chance:.0%}, and this run should reach at least twice that", "check_train_loop above must "
              "pass first; then run this notebook's cells from the top, so the model is trained by your loop")
    _ok(f"your loop trained the network: mean training loss {first:.3f} -> {last:.3f} over {len(passes)} passes, "
        f"test accuracy {accuracy:.1%} (chance {chance:.0%})")


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
            _fail(f"AuxHead(24, 7) returned {type(head).__name__}, not an nn.Module", "subclass nn.Module")
        if _count(head) != _count(ref):
            shapes = [tuple(p.shape) for p in head.parameters()]
            hint = ("fc1 reads the 128 x 4 x 4 = 2048 values left after the 5x5 average pool with stride 3 "
                    "(14 x 14 -> 4 x 4)" if not any(s == (1024, 2048) for s in shapes) else
                    "the paper's head has no BatchNorm" if any(isinstance(m, nn.BatchNorm2d) for m in head.modules())
                    else "1x1 conv in_channels -> 128 (with bias), Linear(2048, 1024), Linear(1024, num_classes)")
            _fail(f"AuxHead(24, 7) has parameters of shapes {shapes}; the paper's head has "
                  f"{[tuple(p.shape) for p in ref.parameters()]}", hint)
        _copy_state(ref, head, "AuxHead")
        x = torch.randn(3, 24, 14, 14)
        with torch.no_grad():
            out = _run("AuxHead's forward", head.eval(), x)
            again = head(x)
            want = ref(x)
            if not isinstance(out, torch.Tensor) or out.shape != want.shape:
                _fail(f"for a 3 x 24 x 14 x 14 input AuxHead returned "
                      f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}, expected (3, 7)",
                      "flatten after the conv (torch.flatten(x, 1)) and end with Linear(1024, num_classes)")
            if not torch.equal(out, again):
                _fail("the head gives different outputs for the same input in eval mode",
                      "use nn.Dropout (a module), so model.eval() switches dropout off")
            if not torch.allclose(out, want, atol=1e-5):
                slips = {"a max pool where the paper averages: use nn.AvgPool2d(5, stride=3)":
                         _aux_forward(ref, x, pool=F.max_pool2d),
                         "the ReLU after the 1x1 conv is missing": _aux_forward(ref, x, relu_conv=False),
                         "the ReLU after fc1 is missing": _aux_forward(ref, x, relu_fc=False)}
                what = next((k for k, v in slips.items() if torch.allclose(out, v, atol=1e-5)), None)
                _fail("the head's output differs from the paper's head with the same weights" +
                      (f": {what}" if what else ""), "pool 5x5/3 (average) -> 1x1 conv + ReLU -> flatten -> "
                      "fc1 + ReLU -> dropout -> fc2")
            fc2 = next((m for m in head.modules() if isinstance(m, nn.Linear) and m.in_features == 1024), None)
            if fc2 is None:
                _fail("the head has no nn.Linear(1024, num_classes)", "make fc2 an nn.Linear layer")
            seen: list = []
            hook = fc2.register_forward_hook(lambda _m, args, _o: seen.append(args[0]))
            head(x), head.train()(x)
            hook.remove()
        calm, dropped = seen
        if torch.equal(calm, dropped):
            _fail("no dropout acts on fc1's output in training mode", "add nn.Dropout(0.7) between fc1's ReLU and fc2")
        kept = dropped != 0
        ratio = dropped[kept] / calm[kept]
        if not torch.allclose(ratio, ratio.mean().expand_as(ratio), rtol=1e-4):
            _fail("in training mode fc2 sees different values than a dropout right before it would give",
                  "apply the dropout to fc1's output (after its ReLU), right before fc2")
        p = 1 - 1 / ratio.mean().item()
        if abs(p - 0.7) > 1e-3:
            _fail(f"the dropout drops {p:.0%} of fc1's outputs", "the paper uses a 70% ratio: nn.Dropout(0.7)")
    _ok(f"AuxHead matches the paper's head: {_count(head):,} parameters for 24 channels and 7 classes, dropout 0.7")


def check_aux_loss(fn: Callable) -> None:
    """Check total_loss(outputs, target, loss_fn): main loss + 0.3 x each auxiliary loss; plain logits alone."""
    with _seeded():
        logits, aux2, aux1 = (torch.randn(4, 5, requires_grad=True) * s for s in (1.0, 2.0, 3.0))
        target, loss_fn = torch.tensor([0, 3, 1, 4]), nn.CrossEntropyLoss()
        out = _run("total_loss(outputs, target, loss_fn)", fn, InceptionOutputs(logits, aux2, aux1), target, loss_fn)
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        _fail(f"total_loss returned {type(out).__name__}, not a one-number tensor",
              "return the loss tensor itself (no .item()), so that loss.backward() works")
    if not out.requires_grad:
        _fail("the returned loss is detached from the graph", "do not call .item(), .detach() or float() on it")
    main, l2, l1 = (loss_fn(t, target).item() for t in (logits, aux2, aux1))
    got, want = out.item(), aux_loss(InceptionOutputs(logits, aux2, aux1), target, loss_fn).item()
    if not _close(got, want):
        slips = [(main, "the auxiliary losses are missing"), (main + 0.3 * l1, "only aux1's loss is added"),
                 (main + 0.3 * l2, "only aux2's loss is added"), (0.3 * main + l1 + l2, "the 0.3 weights the "
                  "main loss instead of the auxiliary ones"), (l2 + 0.3 * (main + l1), "InceptionOutputs is "
                  "(logits, aux2, aux1): the main logits come first"), (l1 + 0.3 * (main + l2), "InceptionOutputs "
                  "is (logits, aux2, aux1): the main logits come first")]
        what = next((h for v, h in slips if _close(got, v)), None)
        weight = (got - main) / (l1 + l2)
        if what is None and abs(weight - round(weight, 2)) < 1e-4:
            what = f"the auxiliary losses are weighted by {weight:.2f}"
        _fail(f"total_loss gave {got:.4f}, expected {want:.4f}" + (f": {what}" if what else ""),
              "loss_fn(logits, target) + 0.3 * (loss_fn(aux1, target) + loss_fn(aux2, target)), as in the paper")
    try:
        plain = fn(logits, target, loss_fn)
    except Exception as e:  # typically unpacking a 4-row tensor into (logits, aux2, aux1)
        plain = e
    if not isinstance(plain, torch.Tensor) or not _close(plain.item(), main):
        _fail("for a plain logits tensor total_loss should return loss_fn(logits, target)",
              "in eval mode the model returns only the logits: check isinstance(outputs, torch.Tensor) first")
    _ok("total_loss = main + 0.3 x (aux1 + aux2), and a plain logits tensor gives the main loss")


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
                               nn.CrossEntropyLoss(), opt), "train_step's return value")
            ref.train()
            loss = aux_loss(ref(x), y, nn.CrossEntropyLoss())
            ref_opt.zero_grad(), loss.backward(), ref_opt.step()
    if _same_weights(model.aux1, start.aux1):
        _fail("the auxiliary heads did not learn", "in eval mode the model returns only the main logits, so the aux "
              "losses are never computed: call model.train() before the forward pass")
    if not _same_weights(model, ref):
        _fail("the weights after two steps differ from the reference", "per step: model.train(); loss = "
              "total_loss(model(images), labels, loss_fn); optimizer.zero_grad(); loss.backward(); optimizer.step()")
    if not _close(got, loss.item()):
        _fail(f"train_step returned {got:.4f}, the step's total loss is {loss.item():.4f}", "return loss.item()")
    _ok("train_step trains the main classifier and both auxiliary heads with the 0.3-weighted loss")

