"""GoogLeNet / Inception V1 (Szegedy et al., 2015, "Going Deeper with Convolutions") in three presets.

- ``"seed"``: the network of the course post this package follows, layer for layer (its torchsummary
  table has 190 rows and 7,012,472 parameters): conv + bias + BatchNorm + ReLU inside the blocks, a
  plain conv stem, padded floor-mode pools, and average pooling + dropout packed into ``inception5b``.
- ``"torchvision"``: what ``torchvision.models.googlenet`` builds, so weights convert both ways with
  :func:`from_torchvision` / :func:`to_torchvision`.
- ``"paper"``: the network as the paper describes it: no BatchNorm, local response normalisation in
  the stem, and auxiliary heads with a 5x5/3 average pool.

``aux_logits=True`` adds the two auxiliary heads after 4a and 4d in any preset: the paper's head for
``"paper"``, torchvision's (adaptive 4x4 pool) built from the preset's own conv + BatchNorm + ReLU for the
other two. In training mode the model then returns ``InceptionOutputs(logits, aux2, aux1)``, torchvision's
order; in eval mode only the logits. Every preset calls its last layer ``classifier``; the seed has no
top-level ``avgpool``/``dropout`` (they are ``None``) because the post keeps them inside ``inception5b``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "PRESETS", "InceptionBlock", "InceptionAux", "InceptionOutputs", "InceptionV1",
    "aux_loss", "min_input_size", "from_torchvision", "to_torchvision",
]


@dataclass(frozen=True)
class Preset:
    """Everything in which the three presets differ."""

    batchnorm: bool        # BatchNorm after every conv in the blocks and auxiliary heads
    stem_batchnorm: bool   # ... and after the three stem convs
    conv_bias: bool
    bn_eps: float
    five_kernel: int       # torchvision's "5x5" branch really uses 3x3 (pytorch/vision#906)
    ceil_mode: bool        # torchvision rounds pool outputs up instead of padding the input
    maxpool4_kernel: int
    dropout: float
    lrn: bool
    paper_aux_pool: bool   # 5x5/3 average pool (paper) instead of an adaptive 4x4 one
    head_in_5b: bool       # the post packs avgpool + dropout into inception5b
    min_size: int          # smallest H = W the main path runs on (measured, see tests)
    min_size_aux: int      # the same with the auxiliary heads running (training mode)


PRESETS: dict[str, Preset] = {
    "seed": Preset(batchnorm=True, stem_batchnorm=False, conv_bias=True, bn_eps=1e-5, five_kernel=5,
                   ceil_mode=False, maxpool4_kernel=3, dropout=0.4, lrn=False, paper_aux_pool=False,
                   head_in_5b=True, min_size=1, min_size_aux=1),
    "torchvision": Preset(batchnorm=True, stem_batchnorm=True, conv_bias=False, bn_eps=1e-3, five_kernel=3,
                          ceil_mode=True, maxpool4_kernel=2, dropout=0.2, lrn=False, paper_aux_pool=False,
                          head_in_5b=False, min_size=15, min_size_aux=15),
    "paper": Preset(batchnorm=False, stem_batchnorm=False, conv_bias=True, bn_eps=1e-5, five_kernel=5,
                    ceil_mode=False, maxpool4_kernel=3, dropout=0.4, lrn=True, paper_aux_pool=True,
                    head_in_5b=False, min_size=1, min_size_aux=65),
}

# Table 1 of the paper: in_channels, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION_TABLE: dict[str, tuple[int, ...]] = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


def _preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; use one of {sorted(PRESETS)}")
    return PRESETS[name]


def min_input_size(preset: str = "seed", aux_logits: bool | None = None) -> int:
    """Return the smallest image side (H = W) a model of this preset accepts.

    ``aux_logits=None`` answers for either setting (the larger of the two minimums).
    """
    spec = _preset(preset)
    if aux_logits is None:
        return max(spec.min_size, spec.min_size_aux)
    return spec.min_size_aux if aux_logits else spec.min_size


def _conv_relu(in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, *,
               batchnorm: bool, conv_bias: bool, bn_eps: float) -> list[nn.Module]:
    # A flat list rather than a module, so each branch is one Sequential with the same rows as the post's.
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=conv_bias)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(out_channels, eps=bn_eps))
    layers.append(nn.ReLU(inplace=True))
    return layers


class InceptionBlock(nn.Module):
    """Four parallel branches (1x1, 1x1->3x3, 1x1->5x5, 3x3 pool->1x1), concatenated along channels."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int, *, batchnorm: bool = True, conv_bias: bool = True, bn_eps: float = 1e-5,
                 five_kernel: int = 5, reductions: bool = True) -> None:
        super().__init__()
        if five_kernel < 1 or five_kernel % 2 == 0:
            raise ValueError(f"five_kernel must be a positive odd number so 'same' padding keeps H x W, "
                             f"got {five_kernel}; use 5 (paper) or 3 (torchvision)")
        unit = partial(_conv_relu, batchnorm=batchnorm, conv_bias=conv_bias, bn_eps=bn_eps)
        self.branch1 = nn.Sequential(*unit(in_channels, ch1x1, 1))
        # The 1x1 reductions keep the costly 3x3 and 5x5 convolutions narrow; reductions=False
        # (the paper's "naive" block, Figure 2a) runs them on all input channels to show the cost.
        if reductions:
            self.branch2 = nn.Sequential(*unit(in_channels, ch3x3red, 1), *unit(ch3x3red, ch3x3, 3, 1))
            self.branch3 = nn.Sequential(*unit(in_channels, ch5x5red, 1),
                                         *unit(ch5x5red, ch5x5, five_kernel, five_kernel // 2))
        else:
            self.branch2 = nn.Sequential(*unit(in_channels, ch3x3, 3, 1))
            self.branch3 = nn.Sequential(*unit(in_channels, ch5x5, five_kernel, five_kernel // 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *unit(in_channels, pool_proj, 1))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: Tensor) -> Tensor:
        """Return the branches' outputs stacked along channels: N x out_channels x H x W."""
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on an intermediate stage (after 4a and 4d); returns N x num_classes logits."""

    def __init__(self, in_channels: int, num_classes: int, *, paper_pool: bool = False, batchnorm: bool = True,
                 conv_bias: bool = True, bn_eps: float = 1e-5, dropout: float = 0.7) -> None:
        super().__init__()
        if paper_pool:
            # 5x5/3 turns 14x14 into the paper's 4x4; the adaptive pool is then a no-op, and at other
            # input sizes it keeps fc1's 128 * 4 * 4 inputs valid.
            self.pool: nn.Module = nn.Sequential(nn.AvgPool2d(5, stride=3), nn.AdaptiveAvgPool2d(4))
        else:
            self.pool = nn.AdaptiveAvgPool2d(4)
        self.conv = nn.Sequential(*_conv_relu(in_channels, 128, 1, batchnorm=batchnorm, conv_bias=conv_bias,
                                              bn_eps=bn_eps))
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Return auxiliary logits, N x num_classes."""
        x = self.pool(x)                 # N x 512 (or 528) x 4 x 4
        x = self.conv(x)                 # N x 128 x 4 x 4
        x = torch.flatten(x, 1)          # N x 2048
        x = F.relu(self.fc1(x), inplace=True)
        return self.fc2(self.dropout(x))


class InceptionOutputs(NamedTuple):
    """Training-mode outputs with auxiliary heads, in torchvision's order: logits, aux2 (4d), aux1 (4a)."""

    logits: Tensor
    aux2: Tensor
    aux1: Tensor


class InceptionV1(nn.Module):
    """GoogLeNet: a conv stem, nine Inception blocks, global average pooling and a linear classifier."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, preset: str = "seed",
                 aux_logits: bool = False, stem_batchnorm: bool = False, dropout: float | None = None) -> None:
        super().__init__()
        spec = _preset(preset)
        for name, value in (("num_classes", num_classes), ("in_channels", in_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if stem_batchnorm and preset != "seed":
            raise ValueError(f"stem_batchnorm=True only applies to preset='seed' (preset {preset!r} "
                             f"{'already has' if spec.stem_batchnorm else 'has no'} BatchNorm in its stem); "
                             "drop stem_batchnorm or use preset='seed'")
        p = spec.dropout if dropout is None else float(dropout)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}; None takes the preset's {spec.dropout}")
        self.preset, self.num_classes, self.in_channels = preset, num_classes, in_channels
        self.aux_logits, self.stem_batchnorm, self.dropout_p = bool(aux_logits), bool(stem_batchnorm), p
        self.min_input_size = min_input_size(preset, self.aux_logits)

        stem_bn = spec.stem_batchnorm or stem_batchnorm
        block = partial(InceptionBlock, batchnorm=spec.batchnorm, conv_bias=spec.conv_bias, bn_eps=spec.bn_eps,
                        five_kernel=spec.five_kernel)
        # Padding 1 in floor mode and no padding in ceil mode give the same 112 -> 56 -> 28 -> 14 -> 7 at 224.
        pool = partial(nn.MaxPool2d, stride=2, padding=0 if spec.ceil_mode else 1, ceil_mode=spec.ceil_mode)
        lrn = partial(nn.LocalResponseNorm, 5, alpha=1e-4, beta=0.75, k=2.0)

        self.conv1 = self._stem_conv(in_channels, 64, 7, stride=2, padding=3, batchnorm=stem_bn, spec=spec)
        self.maxpool1 = pool(3)
        self.lrn1: nn.Module | None = lrn() if spec.lrn else None
        self.conv2 = self._stem_conv(64, 64, 1, batchnorm=stem_bn, spec=spec)
        self.conv3 = self._stem_conv(64, 192, 3, padding=1, batchnorm=stem_bn, spec=spec)
        self.lrn2: nn.Module | None = lrn() if spec.lrn else None
        self.maxpool2 = pool(3)
        self.inception3a = block(*INCEPTION_TABLE["inception3a"])
        self.inception3b = block(*INCEPTION_TABLE["inception3b"])
        self.maxpool3 = pool(3)
        self.inception4a = block(*INCEPTION_TABLE["inception4a"])
        self.inception4b = block(*INCEPTION_TABLE["inception4b"])
        self.inception4c = block(*INCEPTION_TABLE["inception4c"])
        self.inception4d = block(*INCEPTION_TABLE["inception4d"])
        self.inception4e = block(*INCEPTION_TABLE["inception4e"])
        self.maxpool4 = pool(spec.maxpool4_kernel)
        self.inception5a = block(*INCEPTION_TABLE["inception5a"])
        self.avgpool: nn.Module | None
        self.dropout: nn.Module | None
        if spec.head_in_5b:
            # The post's layout: its torchsummary table lists the pool and dropout as part of inception5b.
            self.inception5b: nn.Module = nn.Sequential(block(*INCEPTION_TABLE["inception5b"]),
                                                        nn.AdaptiveAvgPool2d(1), nn.Dropout(p))
            self.avgpool = self.dropout = None
        else:
            self.inception5b = block(*INCEPTION_TABLE["inception5b"])
        aux = partial(InceptionAux, num_classes=num_classes, paper_pool=spec.paper_aux_pool,
                      batchnorm=spec.batchnorm, conv_bias=spec.conv_bias, bn_eps=spec.bn_eps)
        self.aux1: InceptionAux | None = aux(512) if aux_logits else None
        self.aux2: InceptionAux | None = aux(528) if aux_logits else None
        if not spec.head_in_5b:
            self.avgpool = nn.AdaptiveAvgPool2d(1)  # the paper's 7x7 average pool, for any input size
            self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(1024, num_classes)
        if preset == "torchvision":
            self._torchvision_init()

    @staticmethod
    def _stem_conv(in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
                   batchnorm: bool, spec: Preset) -> nn.Module:
        # ReLU stays in forward (as in the post), so without BatchNorm the stem is a bare Conv2d.
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         bias=spec.conv_bias)
        if not batchnorm:
            return conv
        return nn.Sequential(OrderedDict(conv=conv, bn=nn.BatchNorm2d(out_channels, eps=spec.bn_eps)))

    def _torchvision_init(self) -> None:
        # torchvision's scheme, so a model trained from scratch starts where torchvision's would.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def config(self) -> dict[str, Any]:
        """Return the constructor arguments: ``InceptionV1(**model.config)`` rebuilds this architecture."""
        return {"num_classes": self.num_classes, "in_channels": self.in_channels, "preset": self.preset,
                "aux_logits": self.aux_logits, "stem_batchnorm": self.stem_batchnorm, "dropout": self.dropout_p}

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"InceptionV1 expects a batch shaped N x C x H x W, got shape {tuple(x.shape)}; "
                             "for a single image use x.unsqueeze(0)")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"input has {x.shape[1]} channels but the model was built with "
                             f"in_channels={self.in_channels}; build InceptionV1(in_channels={x.shape[1]}, ...) "
                             "or convert the images")
        h, w = x.shape[-2:]
        if min(h, w) < self.min_input_size:
            m = self.min_input_size
            raise ValueError(f"input is {h}x{w}, smaller than the minimum input size {m}x{m} of preset "
                             f"{self.preset!r}{' with aux_logits' if self.aux_logits else ''}; "
                             f"resize images to at least {m} (e.g. transforms.Resize({m}))")

    def forward(self, x: Tensor) -> Tensor | InceptionOutputs:
        """Return logits N x num_classes; with aux heads in training mode, InceptionOutputs(logits, aux2, aux1)."""
        self._check_input(x)
        logits, aux2, aux1 = self._forward(x)
        if self.training and aux1 is not None and aux2 is not None:
            return InceptionOutputs(logits, aux2, aux1)
        return logits

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        # Shapes are for a 224 x 224 input.
        x = F.relu(self.conv1(x))        # N x 64 x 112 x 112
        x = self.maxpool1(x)             # N x 64 x 56 x 56
        if self.lrn1 is not None:        # the paper normalises here; BatchNorm made it obsolete later
            x = self.lrn1(x)
        x = F.relu(self.conv2(x))        # N x 64 x 56 x 56
        x = F.relu(self.conv3(x))        # N x 192 x 56 x 56
        if self.lrn2 is not None:
            x = self.lrn2(x)
        x = self.maxpool2(x)             # N x 192 x 28 x 28
        x = self.inception3a(x)          # N x 256 x 28 x 28
        x = self.inception3b(x)          # N x 480 x 28 x 28
        x = self.maxpool3(x)             # N x 480 x 14 x 14
        x = self.inception4a(x)          # N x 512 x 14 x 14
        # Auxiliary heads only add gradient to the middle of the network while training.
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4b(x)          # N x 512 x 14 x 14
        x = self.inception4c(x)          # N x 512 x 14 x 14
        x = self.inception4d(x)          # N x 528 x 14 x 14
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.inception4e(x)          # N x 832 x 14 x 14
        x = self.maxpool4(x)             # N x 832 x 7 x 7
        x = self.inception5a(x)          # N x 832 x 7 x 7
        x = self.inception5b(x)          # N x 1024 x 7 x 7 (seed: already pooled to N x 1024 x 1 x 1)
        if self.avgpool is not None and self.dropout is not None:
            x = self.dropout(self.avgpool(x))  # N x 1024 x 1 x 1
        x = torch.flatten(x, 1)          # N x 1024
        return self.classifier(x), aux2, aux1  # N x num_classes


def aux_loss(outputs: Tensor | tuple, target: Tensor, loss_fn: Callable[[Tensor, Tensor], Tensor],
             aux_weight: float = 0.3) -> Tensor:
    """Return loss(logits) + aux_weight * (loss(aux1) + loss(aux2)), or loss(logits) without aux outputs.

    Accepts :class:`InceptionOutputs` and torchvision's ``GoogLeNetOutputs`` (same order); the paper
    weights the auxiliary losses by 0.3.
    """
    if isinstance(outputs, Tensor):
        return loss_fn(outputs, target)
    if not isinstance(outputs, tuple) or len(outputs) != 3:
        raise ValueError(f"outputs must be a logits tensor or (logits, aux2, aux1), got {type(outputs).__name__}; "
                         "pass the model's output unchanged")
    logits, aux2, aux1 = outputs
    loss = loss_fn(logits, target)
    for aux in (aux1, aux2):
        if aux is not None:
            loss = loss + aux_weight * loss_fn(aux, target)
    return loss


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
    from torchvision.models import GoogLeNet

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
    from torchvision.models import GoogLeNet

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
