"""What Core ML does with a picture before an ML Program sees it (an `ImageType` input).

The program's image input is a float tensor (1, C, H, W) of raw pixel values: Core ML converts
the pixel buffer to numbers and nothing else. ImageType scale and bias are not here: for ML
Programs coremltools writes them into the program as `mul`/`add` ops, which the executor runs.
So preprocessing is: mode -> the color space the model declares, size -> the model's size,
HWC -> CHW, RGB -> BGR when declared.

A picture of another size is resized and the result says so. The default rule is the
project's (`flowers_mobile.images.resize_for_model`: bilinear stretch, what the iOS app asks
of Vision with `.scaleFill`); `center_crop` is Vision's own default (`.centerCrop`: scale the
short side to fit, cut the middle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from flowers_mobile.errors import UserError
from flowers_mobile.images import resize_for_model, to_rgb

#: PIL modes that are photos in some color encoding: converted to RGB and reported.
CONVERTIBLE_MODES = ("L", "LA", "P", "PA", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV",
                     "I", "I;16", "I;16B", "I;16L")
RESIZE_RULES = ("stretch", "center_crop")


@dataclass(frozen=True)
class ImageInput:
    """The model's image input as its spec declares it."""

    name: str
    width: int
    height: int
    color_space: str  # RGB | BGR | GRAYSCALE | GRAYSCALE_FLOAT16

    @property
    def channels(self) -> int:
        return 1 if self.color_space.startswith("GRAYSCALE") else 3


def image_input_from_spec(spec: Any, where: str) -> ImageInput | None:
    """The single image input of a model description, None when its one input is a plain tensor."""
    from coremltools.proto import FeatureTypes_pb2

    inputs = list(spec.description.input)
    if len(inputs) != 1:
        raise UserError(f"{where}: the model has {len(inputs)} inputs; the executor runs one-image classifiers")
    feature = inputs[0]
    if feature.type.WhichOneof("Type") != "imageType":
        return None
    image = feature.type.imageType
    if image.WhichOneof("SizeFlexibility") is not None:
        raise UserError(f"{where}: input {feature.name!r} has flexible image sizes",
                        hint="export with a fixed input size")
    color = FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(image.colorSpace)
    if color not in ("RGB", "BGR", "GRAYSCALE", "GRAYSCALE_FLOAT16"):
        raise UserError(f"{where}: input {feature.name!r} has color space {color}, which the executor does not know")
    return ImageInput(feature.name, int(image.width), int(image.height), color)


def fit_image(img: Any, spec_input: ImageInput, resize: str = "stretch") -> tuple[np.ndarray, list[str]]:
    """A PIL image as the (H, W, C) uint8 pixels the model takes, and notes on what was changed.

    Raises:
        UserError: not a PIL image, a mode that is no photo (e.g. "F", "1"), an unknown rule.
    """
    if not isinstance(img, Image.Image):
        raise UserError(f"expected a PIL image, got {type(img).__name__}",
                        hint="open files with flowers_mobile.images.open_rgb")
    if resize not in RESIZE_RULES:
        raise UserError(f"unknown resize rule {resize!r}", hint=f"use one of {', '.join(RESIZE_RULES)}")
    notes: list[str] = []
    gray = spec_input.channels == 1
    wanted_mode = "L" if gray else "RGB"
    if img.mode != wanted_mode:
        if img.mode not in CONVERTIBLE_MODES and img.mode not in ("RGB", "L"):
            raise UserError(f"image mode {img.mode!r} is not a photo the model can take",
                            hint="give an 8-bit RGB (or grayscale / RGBA / palette) image")
        notes.append(f"converted mode {img.mode} to {wanted_mode}")
        img = to_rgb(img)
        if gray:
            img = img.convert("L")
    size = (spec_input.width, spec_input.height)
    if img.size != size:
        notes.append(f"resized {img.width}x{img.height} to {size[0]}x{size[1]} ({resize}, bilinear)")
        img = _center_crop(img, size) if resize == "center_crop" else resize_for_model(img, size)
    pixels = np.asarray(img, dtype=np.uint8)
    return (pixels[..., None] if gray else pixels), notes


def _center_crop(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale so the image covers `size`, keeping its aspect ratio, and cut out the middle."""
    target_w, target_h = size
    scale = max(target_w / img.width, target_h / img.height)
    crop_w, crop_h = target_w / scale, target_h / scale
    left, top = (img.width - crop_w) / 2, (img.height - crop_h) / 2
    return img.resize(size, Image.BILINEAR, box=(left, top, left + crop_w, top + crop_h))


def pixels_to_tensor(pixels: np.ndarray, spec_input: ImageInput | None) -> np.ndarray:
    """(N, H, W, C) pixels 0..255 -> the program's float32 (N, C, H, W) input."""
    x = np.asarray(pixels, dtype=np.float32)
    if spec_input is not None and spec_input.color_space == "BGR":
        x = x[..., ::-1]
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
