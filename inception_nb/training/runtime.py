"""What the hardware decides: the device (chosen once), mixed precision, memory format, matmul convolutions,
and the torchrun process group."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

from .checks import check_device

__all__ = ["pick_device", "autocast_dtype", "uses_channels_last", "uses_matmul_convs", "init_distributed",
           "close_distributed", "world_size", "is_main_process", "sync_buffers", "wrap_distributed", "say"]


def pick_device(name: str | torch.device | None = None) -> torch.device:
    """Return the requested device, or the best available: cuda, then mps, then cpu."""
    if name:
        return check_device(str(name))
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype(device: torch.device, enabled: bool = True) -> torch.dtype | None:
    """Return the mixed-precision dtype for `device` (bf16, else fp16, on CUDA), or None for full precision."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def uses_channels_last(device: torch.device, requested: bool | None = None) -> bool:
    """Whether to train in channels-last memory format (`requested` None: decide by device)."""
    # Measured faster for this network on CUDA and on x86 CPUs (docs/performance.md); MPS stays NCHW.
    return device.type in ("cuda", "cpu") if requested is None else requested


def uses_matmul_convs(device: torch.device, requested: bool | None = None) -> bool:
    """Whether training runs the 1x1 and tiny-map convolutions as matrix products (fastconv.py)."""
    # Exact rewrites measured 1.3-1.5x faster per step on CPU; unmeasured elsewhere, so off there.
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
