"""Generated "flowers": the offline dataset for the demo and the tests.

Each class is a kind of flower defined by petal count, petal shape, colour palette and centre;
every image draws one on a random background at a random position, scale and rotation, then
blurs and adds noise. Some classes share a palette and differ only in shape or count, and some
share a shape and differ only in colour, so neither colour nor outline alone separates them:
learnable from scratch, but not trivial. Images are deterministic per (seed, class, index).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from flowers_mobile.errors import UserError
from flowers_mobile.fsutil import atomic_dir

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class FlowerKind:
    name: str
    petals: int
    shape: str  # "ellipse" | "round" | "pointed" | "thin"
    palette: tuple[RGB, ...]
    centre: RGB
    petal_length: float  # petal length as a fraction of the flower radius


_WARM = ((235, 200, 40), (245, 170, 30), (250, 215, 80))
_PINK = ((230, 90, 150), (240, 130, 180), (210, 60, 120))
_WHITE = ((245, 245, 240), (235, 235, 225), (250, 250, 250))
_PURPLE = ((140, 70, 190), (110, 60, 170), (165, 100, 210))
_RED = ((210, 40, 40), (190, 30, 50), (230, 70, 60))
_BLUE = ((70, 110, 220), (90, 140, 235), (60, 90, 200))

KINDS: tuple[FlowerKind, ...] = (
    FlowerKind("daisy", 12, "thin", _WHITE, (240, 190, 40), 0.95),
    FlowerKind("buttercup", 5, "round", _WARM, (200, 150, 30), 0.75),
    FlowerKind("pink_star", 5, "pointed", _PINK, (250, 230, 120), 1.0),
    FlowerKind("violet", 5, "round", _PURPLE, (250, 220, 60), 0.75),
    FlowerKind("sunflower", 16, "pointed", _WARM, (90, 55, 25), 0.9),
    FlowerKind("poppy", 4, "round", _RED, (30, 25, 25), 0.8),
    FlowerKind("cornflower", 8, "pointed", _BLUE, (70, 40, 110), 0.9),
    FlowerKind("pink_daisy", 12, "thin", _PINK, (240, 190, 40), 0.95),
    FlowerKind("white_star", 6, "pointed", _WHITE, (230, 200, 60), 1.0),
    FlowerKind("lilac", 8, "ellipse", _PURPLE, (240, 240, 200), 0.85),
    FlowerKind("tulip_top", 6, "ellipse", _RED, (250, 210, 60), 0.85),
    FlowerKind("bluebell", 4, "pointed", _BLUE, (240, 240, 240), 0.95),
)


def _jitter(rng: np.random.Generator, colour: RGB, amount: int) -> RGB:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)  # type: ignore[return-value]


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    """Green-brown foliage: a vertical gradient with soft leaf-like blobs."""
    top = np.array(_jitter(rng, (60, 120, 50), 40), dtype=np.float32)
    bottom = np.array(_jitter(rng, (90, 80, 50), 40), dtype=np.float32)
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    arr = (top * (1 - t) + bottom * t) * np.ones((size, size, 3), np.float32)
    img = Image.fromarray(arr.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(4, 10))):
        cx, cy = rng.uniform(0, size, 2)
        rx, ry = rng.uniform(size * 0.05, size * 0.25, 2)
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=_jitter(rng, (70, 130, 60), 50))
    return img.filter(ImageFilter.GaussianBlur(radius=size / 40))


def _petal_polygon(shape: str, length: float, width: float, angle: float, cx: float, cy: float,
                   inner: float) -> list[tuple[float, float]]:
    """Points of one petal pointing along `angle` from the centre (cx, cy)."""
    # Profile: half-width along the petal for t in 0..1.
    profiles: dict[str, Callable[[float], float]] = {
        "ellipse": lambda t: math.sin(math.pi * t),
        "round": lambda t: math.sin(math.pi * t) ** 0.5,
        "pointed": lambda t: (math.sin(math.pi * min(t * 1.6, 1.0) / 2) * (1.0 - t) * 1.6),
        "thin": lambda t: math.sin(math.pi * t) * 0.45,
    }
    prof = profiles[shape]
    steps = 14
    ca, sa = math.cos(angle), math.sin(angle)
    left, right = [], []
    for i in range(steps + 1):
        t = i / steps
        r = inner + t * length
        w = prof(t) * width
        px, py = cx + r * ca, cy + r * sa
        left.append((px - w * sa, py + w * ca))
        right.append((px + w * sa, py - w * ca))
    return left + right[::-1]


def draw_flower(kind: FlowerKind, rng: np.random.Generator, size: int) -> Image.Image:
    """One image of `kind` at size x size pixels."""
    scale = 2  # draw at 2x and downsample: anti-aliased edges
    big = size * scale
    img = _background(rng, big)
    draw = ImageDraw.Draw(img)
    radius = big * rng.uniform(0.22, 0.38)
    cx = rng.uniform(radius * 0.9, big - radius * 0.9)
    cy = rng.uniform(radius * 0.9, big - radius * 0.9)
    rotation = rng.uniform(0, 2 * math.pi)
    centre_r = radius * rng.uniform(0.18, 0.26)
    length = radius * kind.petal_length
    width = radius * (0.9 * math.pi / max(kind.petals, 1)) * rng.uniform(0.85, 1.15)
    # A stem now and then: clutter that no class owns.
    if rng.random() < 0.5:
        draw.line([(cx, cy), (cx + rng.uniform(-big * 0.1, big * 0.1), big)], fill=_jitter(rng, (40, 100, 40), 20),
                  width=max(2, int(big / 40)))
    base = kind.palette[int(rng.integers(len(kind.palette)))]
    for p in range(kind.petals):
        angle = rotation + 2 * math.pi * p / kind.petals + rng.normal(0, 0.05)
        colour = _jitter(rng, base, 18)
        draw.polygon(_petal_polygon(kind.shape, length * rng.uniform(0.9, 1.1), width, angle, cx, cy,
                                    centre_r * 0.6), fill=colour, outline=_jitter(rng, colour, 30))
    draw.ellipse([cx - centre_r, cy - centre_r, cx + centre_r, cy + centre_r], fill=_jitter(rng, kind.centre, 20))
    img = img.resize((size, size), Image.LANCZOS)
    blur = rng.uniform(0, 1.2)
    if blur > 0.3:
        img = img.filter(ImageFilter.GaussianBlur(radius=blur))
    arr = np.asarray(img, dtype=np.float32)
    arr = arr * rng.uniform(0.75, 1.2) + rng.uniform(-20, 20)  # lighting
    arr += rng.normal(0, rng.uniform(2, 9), arr.shape)  # sensor noise
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def class_names(num_classes: int) -> list[str]:
    if not 2 <= num_classes <= len(KINDS):
        raise UserError(f"synthetic data has 2..{len(KINDS)} classes, asked for {num_classes}")
    return [k.name for k in KINDS[:num_classes]]


#: Seed-stream tag of the synthetic test images: (seed, class, index, TEST_STREAM) never meets the
#: (seed, class, index) stream of the train and validation images.
TEST_STREAM = 1


def generate_dataset(out: str | os.PathLike[str], num_classes: int = 5, per_class: int = 120,
                     image_size: int = 128, seed: int = 42,
                     on_image: Callable[[], None] | None = None, *, test_per_class: int = 0,
                     val_share: float = 0.15 / 0.85) -> list[str]:
    """Write `num_classes` kinds of flower as class folders, or as train/val/test folders.

    With ``test_per_class == 0``: ``out/<class>/<class>_NNNN.png`` (split later by the data
    fractions). Otherwise ``out/{train,val}/<class>/`` hold the `per_class` images (a `val_share`
    of each class in val) and ``out/test/<class>/`` another `test_per_class` images drawn from a
    seed stream of their own, so the held-out split can be made as large as parity needs
    without changing the training images' generator. The folder is built aside and renamed into
    place, so an interrupted run leaves nothing.

    Args:
        out: destination folder (replaced as a whole if it exists).
        num_classes: 2..12 kinds of flower.
        per_class: train + val images per class (all of them, as class folders, without a test split).
        image_size: side of the square images, in pixels.
        seed: the same seed gives the same bytes.
        on_image: called after each image (progress bars).
        test_per_class: test images per class (0: class folders, no test split of its own).
        val_share: the fraction of `per_class` that goes to val (at least one image).
    Returns:
        The class names, sorted (the order labels take).
    """
    names = class_names(num_classes)
    if per_class < 2:
        raise UserError(f"synthetic data needs at least 2 images per class, asked for {per_class}")
    if image_size < 32:
        raise UserError(f"synthetic images must be at least 32 px, asked for {image_size}")
    if test_per_class < 0:
        raise UserError(f"synthetic test images per class must be 0 or more, asked for {test_per_class}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder", hint="choose another output path")
    n_val = min(per_class - 1, max(1, round(per_class * val_share)))
    with atomic_dir(out) as tmp:
        for ci, kind in enumerate(KINDS[:num_classes]):
            if not test_per_class:
                jobs = [(tmp / kind.name, i, (seed, ci, i)) for i in range(per_class)]
            else:
                jobs = [(tmp / ("val" if i < n_val else "train") / kind.name, i, (seed, ci, i))
                        for i in range(per_class)]
                jobs += [(tmp / "test" / kind.name, i, (seed, ci, i, TEST_STREAM)) for i in range(test_per_class)]
            for folder, i, stream in jobs:
                folder.mkdir(parents=True, exist_ok=True)
                rng = np.random.default_rng(list(stream))
                draw_flower(kind, rng, image_size).save(folder / f"{kind.name}_{i:04d}.png", optimize=False)
                if on_image:
                    on_image()
    return sorted(names)
