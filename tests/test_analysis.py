"""Hooking a model for a look inside leaves it as it was: hooks removed, training mode restored."""

import pytest
import torch
from torch import nn

from inception_nb.lesson.analysis import collect_predictions, inspecting
from inception_nb.model import InceptionBlock
from inception_nb.lesson.report import module_cost


def test_inspecting_runs_in_eval_mode_without_gradients_and_restores_everything():
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5)).train()
    seen = []
    with inspecting(model, [(model[0], lambda _m, _i, out: seen.append((model.training, out.requires_grad)))]):
        model(torch.randn(2, 3))
    assert seen == [(False, False)], "the forward pass must run in eval mode without gradients"
    assert model.training and model[1].training
    assert not model[0]._forward_hooks, "the hook must be removed"


def test_inspecting_restores_the_model_when_the_forward_pass_fails():
    model = nn.Linear(3, 4).train()
    with pytest.raises(RuntimeError):
        with inspecting(model, [(model, lambda *_: None)]):
            model(torch.randn(2, 5))  # wrong width
    assert model.training and not model._forward_hooks


@pytest.mark.parametrize("training", [True, False])
def test_module_cost_leaves_the_module_in_the_mode_it_found(training):
    block = InceptionBlock(16, 8, 8, 8, 4, 4, 4).train(training)
    cost = module_cost(block, (1, 16, 6, 6))
    assert block.training is training
    assert cost["params"] == sum(p.numel() for p in block.parameters()) and cost["macs"] > 0


def test_collect_predictions_concatenates_a_loader_in_order():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    batches = [(torch.randn(2, 1, 2, 2), torch.tensor([0, 1])), (torch.randn(1, 1, 2, 2), torch.tensor([2]))]
    images, labels, preds, probs = collect_predictions(model, batches)
    assert images.shape == (3, 1, 2, 2) and labels.tolist() == [0, 1, 2]
    assert torch.equal(preds, probs.argmax(1)) and torch.allclose(probs.sum(1), torch.ones(3))
