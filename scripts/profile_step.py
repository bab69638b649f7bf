"""Profile training steps of the default CPU recipe and print where the time goes, by operator.

Backs the analysis in docs/performance.md of why a train step reaches only part of the matmul peak:
    python scripts/profile_step.py [--steps 5] [--plain] [--no-amp]
    python scripts/profile_step.py --compare     # img/s without and with fastconv's rewrites, per precision

`--plain` profiles the model as oneDNN runs it, without fit's rewrites (matrix-product convolutions, shared-input
blocks, one-pixel pools: fastconv.py). The precision is the one
`fit` chooses here (bfloat16 on a CPU with AMX or AVX512_BF16) unless `--no-amp` asks for float32.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from torch.profiler import ProfilerActivity, profile

from inception_nb.config import get_profile
from inception_nb.loops import train_step
from inception_nb.training.bench import matmul_peak_gflops, time_train_steps, train_step_flops
from inception_nb.training.fastconv import fast_training, matmul_convs
from inception_nb.training.runtime import dtype_name, precision
from inception_nb.training.schedule import make_optimizer


# What --compare times: no rewrite, the matrix-product convolutions, then all of fastconv's rewrites (fit's step).
REWRITES = {
    "every convolution through oneDNN": partial(fast_training, enabled=False),
    "matrix-product convolutions": matmul_convs,
    "and shared-input blocks, 1-pixel pools": fast_training,
}


def compare(rounds: int = 3, steps: int = 8) -> None:
    """Time the step without and with fastconv's rewrites in each precision, alternated in one run."""
    recipe = get_profile("cpu")
    size, channels, batch = recipe.data.image_size, recipe.data.channels, recipe.data.batch_size
    native = precision(torch.device("cpu"))[0]
    dtypes = [None] + ([native] if native is not None else [])
    torch.manual_seed(0)
    images, labels = torch.randn(batch, channels, size, size), torch.randint(0, 10, (batch,))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=recipe.train.label_smoothing)
    rates: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for dtype in dtypes:
            for rewrites, swap in REWRITES.items():
                model = recipe.model.build(num_classes=10, in_channels=channels)
                with swap(model):
                    seconds = time_train_steps(model, make_optimizer(model, recipe.train), loss_fn, images, labels,
                                               steps, channels_last=True, amp_dtype=dtype)
                rates.setdefault((dtype_name(dtype), rewrites), []).append(batch / seconds)
    for (name, rewrites), values in rates.items():
        print(f"{name:>9}, {rewrites:<40}: " + ", ".join(f"{v:.0f}" for v in values) + " img/s")


def main() -> None:
    """Run warm-up steps, profile a few more, print the operator table and the conv share."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--plain", action="store_true",
                        help="without fastconv's rewrites: every convolution through oneDNN")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                        help="the precision fit chooses (--no-amp: float32)")
    parser.add_argument("--compare", action="store_true",
                        help="time the step without fastconv's rewrites, with its convolutions, and with all of them")
    args = parser.parse_args()
    if args.compare:
        return compare()
    recipe = get_profile("cpu")
    size, channels, batch = recipe.data.image_size, recipe.data.channels, recipe.data.batch_size
    dtype, why = precision(torch.device("cpu"), args.amp)
    print(f"precision: {why}")
    torch.manual_seed(0)
    model = recipe.model.build(num_classes=10, in_channels=channels).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, recipe.train)
    images = torch.randn(batch, channels, size, size).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch,))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=recipe.train.label_smoothing)

    def step() -> None:
        train_step(model, images, labels, loss_fn, optimizer, autocast_dtype=dtype)

    with fast_training(model, enabled=not args.plain):
        for _ in range(3):
            step()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.steps):
                step()
        flops = train_step_flops(model, images, labels)
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=20))
    total = sum(e.self_cpu_time_total for e in events)
    kinds = {"oneDNN convolution": ("convolution", "mkldnn"), "matrix products": ("aten::mm", "aten::addmm", "bmm"),
             "BatchNorm": ("batch_norm",), "AdamW": ("adamw",), "copies and casts": ("aten::to", "_to_copy", "copy_")}
    shares = {kind: sum(e.self_cpu_time_total for e in events if any(k in e.key.lower() for k in keys)) / total
              for kind, keys in kinds.items()}
    for kind, share in shares.items():
        print(f"{kind:>20}: {share:5.1%} of self CPU time")
    seconds = total / 1e6 / args.steps
    peak = matmul_peak_gflops(dtype=dtype)
    print(f"{seconds * 1e3:.0f} ms per step of {batch} images ({batch / seconds:.0f} img/s under the profiler); "
          f"{flops / 1e9:.2f} GFLOP per step, {flops / seconds / 1e9:.1f} GFLOP/s = {flops / seconds / 1e9 / peak:.2f} "
          f"of the {dtype_name(dtype)} matmul peak ({peak:.0f} GFLOP/s)")
    # The ceiling of fusing or removing every memory-bound operator: the convolutions and products alone.
    products = seconds * (shares["oneDNN convolution"] + shares["matrix products"])
    print(f"if every other operator took no time: {flops / products / 1e9:.1f} GFLOP/s = "
          f"{flops / products / 1e9 / peak:.2f} of that peak")


if __name__ == "__main__":
    main()
