"""`data fetch`: the public flower datasets, downloaded, verified and laid out as class folders.

Downloads resume where they stopped (HTTP Range), are checked against known sizes and
checksums, and the dataset is laid out as OUT/{train,val,test}/<class>/ with the dataset's own
split, built aside and renamed into place. Offline, the first connection fails fast with a
message that says what to do.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flowers_mobile.data.matfile import read_mat
from flowers_mobile.errors import UserError
from flowers_mobile.fsutil import atomic_dir

VGG_BASE = "https://www.robots.ox.ac.uk/~vgg/data/flowers/"
CONNECT_TIMEOUT_S = 15.0
CHUNK = 1 << 16

# Class names of Oxford 102 in label order (1..102), as the community has deduced them from the
# dataset's web page; the dataset itself ships numbers only.
OXFORD102_CLASSES = [
    "pink primrose", "hard-leaved pocket orchid", "canterbury bells", "sweet pea", "english marigold",
    "tiger lily", "moon orchid", "bird of paradise", "monkshood", "globe thistle", "snapdragon",
    "colt's foot", "king protea", "spear thistle", "yellow iris", "globe-flower", "purple coneflower",
    "peruvian lily", "balloon flower", "giant white arum lily", "fire lily", "pincushion flower",
    "fritillary", "red ginger", "grape hyacinth", "corn poppy", "prince of wales feathers",
    "stemless gentian", "artichoke", "sweet william", "carnation", "garden phlox", "love in the mist",
    "mexican aster", "alpine sea holly", "ruby-lipped cattleya", "cape flower", "great masterwort",
    "siam tulip", "lenten rose", "barbeton daisy", "daffodil", "sword lily", "poinsettia",
    "bolero deep blue", "wallflower", "marigold", "buttercup", "oxeye daisy", "common dandelion",
    "petunia", "wild pansy", "primula", "sunflower", "pelargonium", "bishop of llandaff", "gaura",
    "geranium", "orange dahlia", "pink-yellow dahlia", "cautleya spicata", "japanese anemone",
    "black-eyed susan", "silverbush", "californian poppy", "osteospermum", "spring crocus",
    "bearded iris", "windflower", "tree poppy", "gazania", "azalea", "water lily", "rose",
    "thorn apple", "morning glory", "passion flower", "lotus", "toad lily", "anthurium", "frangipani",
    "clematis", "hibiscus", "columbine", "desert-rose", "tree mallow", "magnolia", "cyclamen",
    "watercress", "canna lily", "hippeastrum", "bee balm", "ball moss", "foxglove", "bougainvillea",
    "camellia", "mallow", "mexican petunia", "bromelia", "blanket flower", "trumpet creeper",
    "blackberry lily",
]

# Flowers-17: 80 images per class, numbered in class order (image_0001..0080 is the first class).
FLOWERS17_CLASSES = [
    "daffodil", "snowdrop", "lily valley", "bluebell", "crocus", "iris", "tigerlily", "tulip",
    "fritillary", "sunflower", "daisy", "colts foot", "dandelion", "cowslip", "buttercup",
    "windflower", "pansy",
]


@dataclass(frozen=True)
class RemoteFile:
    name: str
    #: Known checksum, "md5:<hex>" or "sha256:<hex>"; published figures for the real datasets.
    checksum: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    base_url: str
    files: tuple[RemoteFile, ...]
    #: Builds {split: [(class name, image path)]} from the downloaded files and the extracted folder.
    layout: Callable[[dict[str, Path], Path], dict[str, list[tuple[str, Path]]]] = field(compare=False)


def _oxford102_layout(files: dict[str, Path], extracted: Path) -> dict[str, list[tuple[str, Path]]]:
    labels = read_mat(files["imagelabels.mat"]).get("labels")
    setid = read_mat(files["setid.mat"])
    if labels is None or not {"trnid", "valid", "tstid"} <= set(setid):
        raise UserError("imagelabels.mat / setid.mat do not hold 'labels' and 'trnid', 'valid', 'tstid'")
    labels = np.asarray(labels).ravel().astype(int)
    out: dict[str, list[tuple[str, Path]]] = {}
    for split, key in (("train", "trnid"), ("val", "valid"), ("test", "tstid")):
        items = []
        for image_id in np.asarray(setid[key]).ravel().astype(int):
            label = labels[image_id - 1]
            if not 1 <= label <= len(OXFORD102_CLASSES):
                raise UserError(f"imagelabels.mat: label {label} for image {image_id} is outside 1..102")
            items.append((OXFORD102_CLASSES[label - 1], extracted / "jpg" / f"image_{image_id:05d}.jpg"))
        out[split] = items
    return out


def _flowers17_layout(files: dict[str, Path], extracted: Path) -> dict[str, list[tuple[str, Path]]]:
    splits = read_mat(files["datasplits.mat"])
    if not {"trn1", "val1", "tst1"} <= set(splits):
        raise UserError("datasplits.mat does not hold 'trn1', 'val1', 'tst1'")
    out: dict[str, list[tuple[str, Path]]] = {}
    for split, key in (("train", "trn1"), ("val", "val1"), ("test", "tst1")):
        out[split] = [(FLOWERS17_CLASSES[(i - 1) // 80], extracted / "jpg" / f"image_{i:04d}.jpg")
                      for i in np.asarray(splits[key]).ravel().astype(int)]
    return out


# Checksums: the md5 sums published with torchvision's loaders for the same files.
DATASETS: dict[str, DatasetSpec] = {
    "oxford102": DatasetSpec(
        "oxford102", VGG_BASE + "102/",
        (RemoteFile("102flowers.tgz", "md5:52808999861908f626f3c1f4e79d11fa"),
         RemoteFile("imagelabels.mat", "md5:e0620be6f572b9609742df49c70aed4d"),
         RemoteFile("setid.mat", "md5:a5357ecc9cb78c4bef273ce3793fc85c")),
        _oxford102_layout),
    "flowers17": DatasetSpec(
        "flowers17", VGG_BASE + "17/",
        (RemoteFile("17flowers.tgz", "md5:b59a65d8d1a99cd66944d474e1289eab"),
         RemoteFile("datasplits.mat", "md5:4828cddfd0d803c5abbdebcb1e148a1e")),
        _flowers17_layout),
}


def _hash_file(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, remote: RemoteFile) -> str | None:
    """None when `path` matches the known size and checksum, else what is wrong."""
    if remote.size is not None and path.stat().st_size != remote.size:
        return f"size {path.stat().st_size} bytes, expected {remote.size}"
    if remote.checksum:
        algo, _, expected = remote.checksum.partition(":")
        actual = _hash_file(path, algo)
        if actual != expected:
            return f"{algo} {actual}, expected {expected}"
    return None


ProgressHook = Callable[[str, int, int | None], None]  # (file name, bytes so far, total or None)


def download(url: str, dest: Path, remote: RemoteFile, progress: ProgressHook | None = None) -> Path:
    """Download `url` to `dest`, resuming a `dest.part` left by an interrupted run, then verify.

    Raises:
        UserError: unreachable host (offline), HTTP error, or a checksum/size mismatch.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and verify(dest, remote) is None:
        if progress:
            progress(remote.name, dest.stat().st_size, dest.stat().st_size)
        return dest
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "flowers-mobile"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # asked past the end: the part is already complete
            response = None
        else:
            raise UserError(f"downloading {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"cannot reach {url} ({reason}); this machine looks offline",
                        hint=f"download {remote.name} elsewhere into {dest.parent}, or pass --mirror URL") from exc
    if response is not None:
        with response:
            if offset and response.status != 206:  # server ignored the range: start over
                offset = 0
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length is not None else remote.size
            with open(part, "ab" if offset else "wb") as fh:
                done = offset
                try:
                    while block := response.read(CHUNK):
                        fh.write(block)
                        done += len(block)
                        if progress:
                            progress(remote.name, done, total)
                except (TimeoutError, ConnectionError, urllib.error.URLError, http.client.HTTPException) as exc:
                    raise UserError(f"download of {url} broke off at {done} bytes ({exc})",
                                    hint="run the same command again: it resumes") from exc
            if total is not None and done < total:
                raise UserError(f"download of {url} broke off at {done} of {total} bytes",
                                hint="run the same command again: it resumes")
    problem = verify(part, remote)
    if problem:
        part.unlink(missing_ok=True)
        raise UserError(f"{remote.name} from {url} does not match the known file: {problem}",
                        hint="the download was removed; run again, or check --mirror")
    os.replace(part, dest)
    return dest


def fetch_dataset(name: str, out: str | os.PathLike[str], *, mirror: str | None = None,
                  cache_dir: str | os.PathLike[str] | None = None, progress: ProgressHook | None = None,
                  spec: DatasetSpec | None = None) -> dict[str, int]:
    """Download `name` ("oxford102" or "flowers17") and lay it out under `out`.

    Args:
        name: dataset name.
        out: destination; becomes out/{train,val,test}/<class>/*.jpg (replaced whole on success).
        mirror: base URL to use instead of the dataset's home (a local copy, a test server).
        cache_dir: where the downloaded files stay for resuming and re-runs (default: out's
            parent / "downloads").
        spec: a DatasetSpec to use instead of the built-in one of `name`.
    Returns:
        Image counts per split.
    """
    if spec is None:
        if name not in DATASETS:
            raise UserError(f"unknown dataset {name!r}", hint=f"known: {', '.join(DATASETS)}")
        spec = DATASETS[name]
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder")
    cache = Path(cache_dir) if cache_dir else out.resolve().parent / "downloads" / spec.name
    base = (mirror.rstrip("/") + "/") if mirror else spec.base_url
    files = {f.name: download(base + f.name, cache / f.name, f, progress) for f in spec.files}
    counts: dict[str, int] = {}
    with atomic_dir(out) as tmp:
        extracted = tmp / ".extracted"
        for fname, path in files.items():
            if fname.endswith((".tgz", ".tar.gz", ".tar")):
                _extract(path, extracted)
        for split, items in spec.layout(files, extracted).items():
            for cls, src in items:
                if not src.is_file():
                    raise UserError(f"{src.name} is listed by the dataset's split files but not in the archive")
                target = tmp / split / cls
                target.mkdir(parents=True, exist_ok=True)
                os.replace(src, target / src.name)
            counts[split] = len(items)
        shutil.rmtree(extracted, ignore_errors=True)
    return counts


def _extract(archive: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")  # "data": no absolute paths, links out or devices
    except (tarfile.TarError, OSError, EOFError) as exc:
        archive.unlink(missing_ok=True)
        raise UserError(f"{archive} is not a readable archive ({exc}); it was removed",
                        hint="run the same command again to download it anew") from exc
