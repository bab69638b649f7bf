"""inception-nb: GoogLeNet / Inception V1 in PyTorch, taught one notebook at a time."""

__version__ = "0.1.0"
