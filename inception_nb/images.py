"""Single images: decode any file upright, convert any mode, resize and normalise like the training batches.

Used by data.py (image folders), predict.py (a student's photo) and plots.py (showing a file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

__all__ = ["DataError", "IMAGE_EXTENSIONS", "open_image", "preprocess_image", "to_uint8", "normalise", "undecodable",
           "check_header"]

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


class DataError(ValueError):
    """A problem with the data the user pointed us at; the message says what, where and how to fix it."""


def open_image(path: str | Path, size: int | None = None) -> Image.Image:
    """Return the fully decoded image at path, upright per its EXIF tag (JPEGs decoded near `size` if given)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image not found: {path}. Fix: check the path (is it relative to the right folder?).")
    try:
        with Image.open(path) as img:
            if size:
                img.draft(None, (size, size))  # JPEG decodes at 1/2..1/8 scale: phone photos load ~10x faster
            # phones store photos sideways plus an EXIF rotation tag; honour it or students train on rotated images
            return ImageOps.exif_transpose(img)
    except Exception as e:  # PIL signals a bad file with OSError, SyntaxError, ValueError, struct.error, ...
        raise undecodable(path, e) from None


def undecodable(path: Path, error: Exception) -> DataError:
    return DataError(f"cannot decode image {path} ({type(error).__name__}: {error}). Fix: the file is corrupt, "
                     "truncated or not really an image; delete it or re-export it as PNG/JPEG.")


def _to_mode(img: Image.Image, mode: str) -> Image.Image:
    if img.mode.startswith("I"):
        # PIL clips 16-bit values at 255 when converting to 8 bits, which turns a 16-bit scan white: scale instead
        img = Image.fromarray((np.asarray(img, dtype=np.float32) / 257).clip(0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        # transparent pixels hold arbitrary colours (often black); a cut-out object is meant to be seen on white
        img = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img.convert("RGBA"))
    return img.convert(mode)


def to_uint8(img: Image.Image, image_size: int, channels: int) -> torch.Tensor:
    img = _to_mode(img, "L" if channels == 1 else "RGB")
    if img.size != (image_size, image_size):
        img = img.resize((image_size, image_size), Image.BILINEAR)  # PIL antialiases when shrinking
    x = torch.from_numpy(np.array(img))
    return x[None] if x.ndim == 2 else x.permute(2, 0, 1).contiguous()


def preprocess_image(image: Image.Image, image_size: int, channels: int,
                     mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Return any PIL image (any mode, any size) as a normalised float tensor [channels, size, size]."""
    x = to_uint8(image, image_size, channels)[None].float().div_(255)
    return normalise(x, mean, std)[0]


def normalise(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    m = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def check_header(path: Path) -> None:
    """Raise DataError unless `path` starts like an image PIL can read (truncation shows up when decoded)."""
    try:
        with Image.open(path):
            pass
    except Exception as e:
        raise undecodable(path, e) from None
