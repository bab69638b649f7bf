"""What the hardware decides: the device (chosen once), autocast, memory format, matmul convolutions,
DataLoader settings, and the torchrun process group."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["pick_device", "model_device", "autocast_dtype", "autocast", "uses_channels_last", "uses_matmul_convs",
           "loader_settings", "init_distributed", "close_distributed", "world_size", "is_main_process", "reduce_sum",
           "sync_buffers", "wrap_distributed", "say"]


def pick_device(name: str | torch.device | None = None) -> torch.device:
    """Return the requested device, or the best available: cuda, then mps, then cpu."""
    if name:
        from .checks import check_device

        return check_device(str(name))
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def model_device(model: nn.Module) -> torch.device:
    """Return the device the model's parameters are on."""
    return next(model.parameters()).device


def autocast_dtype(device: torch.device, enabled: bool = True) -> torch.dtype | None:
    """Return the mixed-precision dtype for `device` (bf16, else fp16, on CUDA), or None for full precision."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    """Return the autocast context for `dtype` on `device`; a no-op context when `dtype` is None."""
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def uses_channels_last(device: torch.device, requested: bool | None = None) -> bool:
    """Whether to train in channels-last memory format (`requested` None: decide by device)."""
    # Measured faster for this network on CUDA and on x86 CPUs (docs/performance.md); MPS stays NCHW.
    return device.type in ("cuda", "cpu") if requested is None else requested


def uses_matmul_convs(device: torch.device, requested: bool | None = None) -> bool:
    """Whether training runs the 1x1 and tiny-map convolutions as matrix products (fastconv.py)."""
    # Exact rewrites measured 1.3-1.5x faster per step on CPU; unmeasured elsewhere, so off there.
    return device.type == "cpu" if requested is None else requested


def loader_settings(device: str | torch.device = "cpu") -> dict:
    """Return DataLoader keyword arguments (num_workers, pin_memory, persistent_workers) suited to device."""
    if torch.device(device).type == "cuda":
        # a GPU outruns one CPU core at decoding photos; leave cores for the other ranks under torchrun
        cores = (os.cpu_count() or 2) // int(os.environ.get("LOCAL_WORLD_SIZE", 1))
        return {"num_workers": max(1, min(8, cores - 1)), "pin_memory": True, "persistent_workers": True}
    # on CPU a batch costs ~3 ms in-process against a training step of 0.5-5 s (scripts/bench_data.py --train
    # on 2 cores: 0 and 1 worker train equally fast), so a worker process buys nothing and costs a fork,
    # memory, and tracebacks wrapped in "Caught ... in DataLoader worker process 0"
    return {"num_workers": 0, "pin_memory": False, "persistent_workers": False}


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


def reduce_sum(*values: torch.Tensor) -> list:
    """Sum accumulators over all ranks under torchrun; a no-op in a single process."""
    if not dist.is_initialized():
        return list(values)
    stacked = torch.stack([v.double() for v in values])
    dist.all_reduce(stacked)
    return list(stacked.unbind())


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
