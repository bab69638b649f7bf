"""Benchmark: our training step against torchvision's GoogLeNet and the machine's matmul peak."""

from __future__ import annotations

import time
from dataclasses import replace

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..config import DataConfig, get_profile
from ..data import load_data
from ..loops import model_device, to_device, train_step
from .schedule import make_optimizer
from .fastconv import fast_training
from ..predict import predict_probabilities
from .runtime import dtype_name, pick_device, precision, prepare_model, uses_channels_last, uses_matmul_convs


def matmul_peak_gflops(size: int = 2048, repeats: int = 10, device=None, dtype: torch.dtype | None = None) -> float:
    """Return the best GFLOP/s of a square matrix multiply in `dtype` (None: float32) on this machine (or device)."""
    device = torch.device(device or "cpu")
    size = size * 4 if device.type == "cuda" else size
    dtype = dtype or torch.float32
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    a @ b  # warm-up: the first call pays for thread start-up
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def train_step_flops(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> int:
    """Return the floating-point operations of one forward+backward pass."""
    loss_fn = nn.CrossEntropyLoss()
    with FlopCounterMode(display=False) as counter:
        loss_fn(model(images), labels).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def time_train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: nn.Module, images: torch.Tensor,
                     labels: torch.Tensor, steps: int, channels_last: bool = False,
                     amp_dtype: torch.dtype | None = None) -> float:
    """Return the median seconds of one training step (after two warm-up steps) on the model's device."""
    device = model_device(model)
    images, labels = to_device(images, labels, device, channels_last)
    prepare_model(model, device, channels_last).train()
    times = []
    for step in range(steps + 2):
        _sync(device)
        start = time.perf_counter()
        train_step(model, images, labels, loss_fn, optimizer, autocast_dtype=amp_dtype)
        _sync(device)
        if step >= 2:
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def data_images_per_second(config: DataConfig, batches: int = 40) -> float:
    """Return how many training images per second the data pipeline alone delivers."""
    loader = load_data(config).train
    count, start = 0, time.perf_counter()
    for i, (images, _) in enumerate(loader):
        count += images.shape[0]
        if i + 1 >= batches:
            break
    return count / (time.perf_counter() - start)


def predict_latency_ms(model: nn.Module, image: torch.Tensor, repeats: int = 20) -> float:
    """Return the median milliseconds to predict one preprocessed image."""
    predict_probabilities(model, image[None])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_probabilities(model, image[None])
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def run_bench(image_size: int | None = None, batch_size: int | None = None, steps: int = 8,
              verbose: bool = True, device: str | None = None, compile: bool = False, amp: bool = True) -> dict:
    """Measure everything in one run on the same threads; return the figures as a dict."""
    import torchvision

    device = pick_device(device)
    autocast, why = precision(device, amp)  # as fit trains: bfloat16 where the hardware computes it natively

    profile = get_profile("cpu")
    image_size = image_size or profile.data.image_size
    batch_size = batch_size or profile.data.batch_size
    say = print if verbose else (lambda *a, **k: None)
    torch.manual_seed(0)
    peak = matmul_peak_gflops(device=device, dtype=autocast)  # the peak of the precision that runs
    say(f"precision: {why}")
    say(f"matmul peak: {peak:.1f} GFLOP/s ({dtype_name(autocast)}) "
        f"on {torch.get_num_threads()} threads")

    channels = profile.data.channels
    loss_fn = nn.CrossEntropyLoss(label_smoothing=profile.train.label_smoothing)
    ours = profile.model.build(num_classes=10, in_channels=channels).to(device)
    images = torch.randn(batch_size, channels, image_size, image_size)
    labels = torch.randint(0, 10, (batch_size,))
    # As fit trains it: on CPU with fastconv.py's exact rewrites (matrix-product convs, shared-input blocks, pools).
    with fast_training(ours, enabled=uses_matmul_convs(device, profile.train.matmul_convs)):
        ours_flops = train_step_flops(ours, images.to(device), labels.to(device))
        runner = torch.compile(ours) if compile else ours
        ours_s = time_train_steps(runner, make_optimizer(ours, profile.train), loss_fn, images, labels, steps,
                                  channels_last=uses_channels_last(device, profile.train.channels_last),
                                  amp_dtype=autocast)
    say(f"ours: {batch_size / ours_s:.0f} img/s, {ours_flops / ours_s / 1e9:.1f} GFLOP/s")

    # torchvision's model as its users run it: 3-channel input, default settings, plain SGD.
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True, num_classes=10).to(device)
    tv_images = torch.randn(batch_size, 3, image_size, image_size)
    tv_s = time_train_steps(tv, torch.optim.SGD(tv.parameters(), lr=0.01, momentum=0.9), loss_fn, tv_images, labels,
                            steps, amp_dtype=autocast)  # the same precision as ours
    say(f"torchvision googlenet: {batch_size / tv_s:.0f} img/s")

    # The heavier pipeline with crop+flip augmentation, so the ratio to training is a lower bound.
    data_config = replace(profile.data, image_size=image_size, batch_size=batch_size, augment=True)
    data_rate = data_images_per_second(data_config)
    latency = predict_latency_ms(ours, images[0].to(device))
    result = {
        "device": str(device), "image_size": image_size, "batch_size": batch_size,
        "threads": torch.get_num_threads(),
        "precision": dtype_name(autocast),
        "peak_gflops": round(peak, 2),
        "ours_img_s": round(batch_size / ours_s, 1),
        "torchvision_img_s": round(batch_size / tv_s, 1),
        "speedup_vs_torchvision": round(tv_s / ours_s, 3),
        "ours_gflops": round(ours_flops / ours_s / 1e9, 2),
        "ours_gflop_per_step": round(ours_flops / 1e9, 3),
        "fraction_of_peak": round(ours_flops / ours_s / 1e9 / peak, 3),
        "data_img_s": round(data_rate, 1),
        "data_vs_train": round(data_rate / (batch_size / ours_s), 1),
        "predict_ms": round(latency, 2),
    }
    say(f"data pipeline: {data_rate:.0f} img/s ({result['data_vs_train']}x training); "
        f"predict one image: {latency:.1f} ms")
    return result
