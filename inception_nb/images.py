"""Single images: decode any file upright, convert any mode, resize and normalise like the training batches.

Used by data.py (image folders), predict.py (a student's photo) and plots.py (showing a file).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

__all__ = ["DataError", "IMAGE_EXTENSIONS", "open_image", "preprocess_image", "to_uint8", "normalise", "undecodable",
           "check_header"]

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


class DataError(ValueError):
    """A problem with the data the user pointed us at; the message says what, where and how to fix it."""

    def __init__(self, message: str = "", *args) -> None:
        # A DataLoader worker's error reaches the main process as DataError("Caught DataError in DataLoader
        # worker process 0. Original Traceback ...: <message>"); keep only the message the user needs.
        super().__init__(worker_message(message) if isinstance(message, str) else message, *args)


def worker_message(text: str) -> str:
    """Return the original error message inside a DataLoader worker's wrapped traceback, or `text` unchanged."""
    if not (text.startswith("Caught ") and "DataLoader worker" in text and "Original Traceback" in text):
        return text
    last = text.rstrip().splitlines()[-1]
    return re.sub(r"^[\w.]+: ", "", last, count=1)


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
            image = ImageOps.exif_transpose(img)
    except PermissionError:
        raise unreadable(path) from None
    except Exception as e:  # PIL signals a bad file with OSError, SyntaxError, ValueError, struct.error, ...
        raise undecodable(path, e) from None
    image.info["path"] = str(path)  # so a mode we cannot convert is reported with the file's name
    return image


def unreadable(path: Path) -> DataError:
    """Return the error for a file or folder the user may not read."""
    return DataError(f"permission denied: cannot read {path}. Fix: give yourself read access (chmod u+r, or "
                     "u+rx for a folder) or move it out of the dataset.")


def undecodable(path: Path, error: Exception) -> DataError:
    return DataError(f"cannot decode image {path} ({type(error).__name__}: {error}). Fix: the file is corrupt, "
                     "truncated or not really an image; delete it or re-export it as PNG/JPEG.")


def _to_mode(img: Image.Image, mode: str) -> Image.Image:
    where = img.info.get("path", "the image")
    if img.mode.startswith("I"):
        # PIL clips 16-bit values at 255 when converting to 8 bits, which turns a 16-bit scan white: scale instead
        values = np.asarray(img, dtype=np.float64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise DataError(f"image {where} has pixel mode {img.mode} with values {values.min():g} to "
                            f"{values.max():g}, beyond the 0-65535 of a 16-bit image. Fix: save it as an 8- or "
                            "16-bit PNG.")
        img = Image.fromarray(np.round(values / 257).astype(np.uint8))
    elif img.mode == "F":
        # Floats come in two scales: 0-1 (scientific exports; Pillow would clip them to black) and Pillow's
        # own 0-255 (what L.convert("F") makes). Anything else has no agreed brightness and is refused.
        values = np.asarray(img, dtype=np.float64)
        low, high = (values.min(), values.max()) if values.size else (0.0, 0.0)
        if not (np.isfinite(values).all() and low >= 0 and high <= 255):
            raise DataError(f"image {where} has pixel mode F (floating point) with values {low:g} to {high:g}; "
                            "only 0-1 or 0-255 have a defined brightness. Fix: scale it to 0-1 or save it as an "
                            "8-bit PNG.")
        img = Image.fromarray(np.round(values * (255 if high <= 1 else 1)).astype(np.uint8))
    elif img.mode == "LAB":
        img = _lab_to_rgb(img, where)
    elif img.mode == "La":
        img = img.convert("LA")  # premultiplied alpha: Pillow converts it to nothing else
    if img.mode in ("RGBA", "LA", "PA", "RGBa") or "transparency" in img.info:
        # transparent pixels hold arbitrary colours (often black); a cut-out object is meant to be seen on white
        img = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img.convert("RGBA"))
    try:
        return img.convert(mode)
    except ValueError as e:
        raise DataError(f"image {where} has pixel mode {img.mode}, which cannot be converted to {mode} ({e}). "
                        "Fix: re-export it as an RGB or grayscale PNG/JPEG.") from None


def _lab_to_rgb(img: Image.Image, where: str) -> Image.Image:
    try:
        from PIL import ImageCms

        lab_to_srgb = ImageCms.buildTransformFromOpenProfiles(
            ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB")
        return ImageCms.applyTransform(img, lab_to_srgb)
    except (ImportError, OSError, ValueError) as e:  # Pillow built without LittleCMS
        raise DataError(f"image {where} has pixel mode LAB, which this Pillow cannot convert ({e}). Fix: "
                        "re-export it as an RGB PNG/JPEG.") from None


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
    except PermissionError:
        raise unreadable(path) from None
    except Exception as e:
        raise undecodable(path, e) from None
