"""What the hardware decides: the device (chosen once), mixed precision, memory format, matmul convolutions,
and the torchrun process group."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from ..checks import check_device

__all__ = ["pick_device", "cpu_has_native_bf16", "precision", "dtype_name", "uses_channels_last", "uses_matmul_convs",
           "prepare_model", "init_distributed", "close_distributed", "world_size", "is_main_process", "sync_buffers",
           "wrap_distributed", "say"]


def pick_device(name: str | torch.device | None = None) -> torch.device:
    """Return the requested device, or the best available: cuda, then mps, then cpu."""
    if name:
        return check_device(str(name))
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AMX or AVX512_BF16 among /proc/cpuinfo's flags)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:  # not Linux: nothing to read the flags from, so assume it emulates bfloat16 (slowly)
        return False
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def precision(device: torch.device, enabled: bool = True) -> tuple[torch.dtype | None, str]:
    """Return the autocast dtype for `device` (None: full precision) and the reason, in words."""
    if not enabled:
        return None, "float32 (mixed precision switched off: amp=False)"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16, "bfloat16 autocast (this GPU computes it natively)"
        return torch.float16, "float16 autocast with loss scaling (this GPU has no bfloat16)"
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16, "bfloat16 autocast (this CPU has AMX or AVX512_BF16)"
    return None, f"float32 (no native bfloat16 on this {device.type.upper()})"


def dtype_name(autocast: torch.dtype | None) -> str:
    """Return the name of the precision an autocast dtype from `precision` runs in ("float32" for None)."""
    return str(autocast or torch.float32).removeprefix("torch.")


def uses_channels_last(device: torch.device, requested: bool | None = None) -> bool:
    """Whether to train in channels-last memory format (`requested` None: decide by device)."""
    # Measured faster for this network on CUDA and on x86 CPUs (docs/performance.md); MPS stays NCHW.
    return device.type in ("cuda", "cpu") if requested is None else requested


def uses_matmul_convs(device: torch.device, requested: bool | None = None) -> bool:
    """Whether training runs the 1x1 and tiny-map convolutions as matrix products (fastconv.py)."""
    # Exact rewrites measured 1.3-1.7x faster per step on CPU (docs/performance.md); unmeasured elsewhere: off there.
    return device.type == "cpu" if requested is None else requested


def init_distributed() -> bool:
    """Join the torchrun process group when launched by torchrun; return whether we did."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend)
    return True


def close_distributed() -> None:
    """Leave the torchrun process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def world_size() -> int:
    """Return the number of training processes (1 outside torchrun)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main_process() -> bool:
    """Whether this process prints and writes files: always outside torchrun, rank 0 under it."""
    return not dist.is_initialized() or dist.get_rank() == 0


def prepare_model(model: nn.Module, device: torch.device, channels_last: bool = False) -> nn.Module:
    """Move `model` to `device` (in channels-last memory format if asked) and return it."""
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model


def sync_buffers(model: nn.Module) -> None:
    """Give every rank rank 0's BatchNorm statistics, so evaluation and checkpoints agree."""
    if dist.is_initialized():
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


def wrap_distributed(model: nn.Module, device: torch.device) -> nn.Module:
    """Return `model` wrapped in DistributedDataParallel under torchrun, else `model` itself."""
    if not dist.is_initialized():
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def say(message: str) -> None:
    """Print from the main process only."""
    if is_main_process():
        print(message, flush=True)
