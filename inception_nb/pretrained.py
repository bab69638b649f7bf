"""Pretrained weights: torchvision's ImageNet GoogLeNet to and from an InceptionV1 of the 'torchvision' preset."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn
from torchvision.models import GoogLeNet

from .model import INCEPTION_TABLE, InceptionV1

__all__ = ["from_torchvision", "to_torchvision"]


# Modules that hold weights, as (torchvision GoogLeNet attribute, InceptionV1 attribute).
_TORCHVISION_NAMES = [(n, n) for n in ("conv1", "conv2", "conv3", *INCEPTION_TABLE, "aux1", "aux2")]
_TORCHVISION_NAMES.append(("fc", "classifier"))


def _copy_weights(src: nn.Module, dst: nn.Module, pairs: list[tuple[str, str]]) -> None:
    # Within one module both sides register their tensors in the same order, so zipping them with a
    # shape and kind check maps e.g. torchvision's branch2.1.conv.weight onto our branch2.3.weight.
    copied = 0
    for src_name, dst_name in pairs:
        s, d = getattr(src, src_name), getattr(dst, dst_name)
        if s is None or d is None:
            if s is not d:
                raise ValueError(f"{src_name} exists on one model only; build both with the same aux_logits")
            continue
        s_state, d_state = s.state_dict(), d.state_dict()
        if len(s_state) != len(d_state):
            raise ValueError(f"{src_name} holds {len(s_state)} tensors but {dst_name} holds {len(d_state)}")
        new_state = OrderedDict()
        for (sk, sv), (dk, dv) in zip(s_state.items(), d_state.items()):
            if sk.rsplit(".", 1)[-1] != dk.rsplit(".", 1)[-1] or sv.shape != dv.shape:
                raise ValueError(f"cannot map {src_name}.{sk} {tuple(sv.shape)} onto {dst_name}.{dk} "
                                 f"{tuple(dv.shape)}")
            new_state[dk] = sv.detach().clone()
            copied += sv.numel()
        d.load_state_dict(new_state)
    total = sum(v.numel() for v in dst.state_dict().values())
    if copied != total:
        raise ValueError(f"copied {copied} of {total} values; the two architectures differ")


def from_torchvision(tv_model: nn.Module) -> InceptionV1:
    """Return an InceptionV1(preset='torchvision') holding the weights of a torchvision GoogLeNet."""
    if not isinstance(tv_model, GoogLeNet):
        raise ValueError(f"from_torchvision needs a torchvision.models.GoogLeNet, got {type(tv_model).__name__}")
    if tv_model.transform_input:
        raise ValueError("tv_model.transform_input is True, which re-normalises inputs inside the model and "
                         "InceptionV1 does not; set tv_model.transform_input = False and normalise images with "
                         "mean=std=(0.5, 0.5, 0.5) instead, then convert")
    model = InceptionV1(num_classes=tv_model.fc.out_features, in_channels=3, preset="torchvision",
                        aux_logits=tv_model.aux1 is not None, dropout=tv_model.dropout.p)
    _copy_weights(tv_model, model, _TORCHVISION_NAMES)
    return model.train(tv_model.training)


def to_torchvision(model: InceptionV1) -> nn.Module:
    """Return a torchvision GoogLeNet (transform_input=False) holding the weights of a 'torchvision' preset model."""
    if not isinstance(model, InceptionV1) or model.preset != "torchvision":
        got = model.preset if isinstance(model, InceptionV1) else type(model).__name__
        raise ValueError(f"to_torchvision needs an InceptionV1 with preset='torchvision', got {got!r}; only that "
                         "preset has torchvision's layers (BatchNorm eps 1e-3, 3x3 '5x5' branch, ceil-mode pools)")
    if model.in_channels != 3:
        raise ValueError(f"torchvision's GoogLeNet takes 3-channel input, the model has in_channels="
                         f"{model.in_channels}; build it with in_channels=3")
    tv_model = GoogLeNet(num_classes=model.num_classes, aux_logits=model.aux_logits, transform_input=False,
                         init_weights=False, dropout=model.dropout_p)
    _copy_weights(model, tv_model, [(ours, theirs) for theirs, ours in _TORCHVISION_NAMES])
    return tv_model.train(model.training)
