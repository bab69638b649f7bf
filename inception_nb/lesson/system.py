"""What the notebooks run on: versions, device and threads, in one small table."""

from __future__ import annotations

import os
import platform

import torch
import torchvision

from .. import __version__


def environment_report() -> dict:
    """Return the versions, device and CPU threads this session will train with."""
    from ..config import DEFAULT_PROFILE
    from ..training.runtime import pick_device

    device = pick_device()
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "inception_nb": __version__,
        "device": str(device),
        "gpu": gpu,
        "cpu threads used by torch": torch.get_num_threads(),
        "cpu cores": os.cpu_count(),
        "profile": os.environ.get("INCEPTION_NB_PROFILE", DEFAULT_PROFILE),
    }


def format_report(report: dict) -> str:
    """Return a report dict as aligned `key: value` lines."""
    width = max(len(k) for k in report)
    return "\n".join(f"{k:>{width}}: {v}" for k, v in report.items())
