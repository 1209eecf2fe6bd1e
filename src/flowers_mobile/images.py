"""Images as an app hands them to a model: decoded, EXIF-rotated, RGB, resized by one rule.

The rule everywhere (training pipeline, every runtime, the apps): stretch the whole image to
the model's input size with bilinear filtering, no crop. It is what the TFLite Task Library
does with no region of interest, and what the iOS app asks of Vision (`.scaleFill`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from flowers_mobile.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")

#: Pixel count above which an image is refused as a decompression bomb.
MAX_IMAGE_PIXELS = 89_478_485


class ImageLoadError(UserError):
    """An image that cannot be decoded, or that is refused (a decompression bomb)."""


def open_rgb(path: str | os.PathLike[str], max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode `path`, honour its EXIF orientation, convert to 8-bit RGB.

    Raises:
        ImageLoadError: unreadable, truncated, not an image, or more than `max_pixels` pixels.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            if img.width * img.height > max_pixels:
                raise ImageLoadError(f"{path}: {img.width}x{img.height} pixels is over the limit of "
                                     f"{max_pixels} (decompression bomb?)", hint="refusing to decode it")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                img.load()
            img = ImageOps.exif_transpose(img)
            return to_rgb(img)
    except ImageLoadError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"{path}: cannot decode image ({exc})") from exc


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode (palette, grayscale, 16-bit, CMYK, with alpha on black... white)."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        # Transparent pixels go on white, as a photo viewer shows them.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def resize_for_model(img: Image.Image, size: int | tuple[int, int]) -> Image.Image:
    """Stretch to (width, height) = size with bilinear filtering (the one resize rule)."""
    if isinstance(size, int):
        size = (size, size)
    if img.size == tuple(size):
        return img
    return img.resize(tuple(size), Image.BILINEAR)


def load_image(path: str | os.PathLike[str], size: int | tuple[int, int]) -> np.ndarray:
    """An image file as a uint8 array (H, W, 3), ready for any runtime's `predict`."""
    return np.asarray(resize_for_model(open_rgb(path), size), dtype=np.uint8)


def load_decodable(paths: list[Path], size: int | tuple[int, int]
                   ) -> tuple[np.ndarray | None, list[int], list[dict[str, str]]]:
    """Decode every path that decodes (`load_image`, size (width, height)): the images stacked
    uint8 (N, H, W, 3), or None when none decodes; the indices into `paths` of the ones kept;
    and {"path", "error"} for each one skipped, so one broken file does not stop a run."""
    images, kept, skipped = [], [], []
    for i, path in enumerate(paths):
        try:
            images.append(load_image(path, size))
        except ImageLoadError as exc:
            skipped.append({"path": str(path), "error": exc.message})
            continue
        kept.append(i)
    return (np.stack(images) if images else None), kept, skipped

