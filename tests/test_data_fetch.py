"""`data fetch` against a loopback HTTP server serving small archives that the test builds.

The real code paths run: download with progress, resume after a connection that broke off,
checksum verification, extraction, the datasets' own splits laid out as class folders, and
fast failure when the host cannot be reached.
"""

from __future__ import annotations

import hashlib
import io
import socket
import struct
import tarfile
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from flowers_mobile.cli import main
from flowers_mobile.data import fetch as fetch_mod
from flowers_mobile.data.fetch import DATASETS, DatasetSpec, RemoteFile, fetch_dataset
from flowers_mobile.data.matfile import read_mat
from flowers_mobile.errors import UserError


# --- an independent MAT level-5 writer (double matrices), the format Oxford ships its labels in ---
def _element(mtype: int, data: bytes) -> bytes:
    return struct.pack("<II", mtype, len(data)) + data + b"\0" * ((-len(data)) % 8)


def _mat_bytes(variables: dict[str, np.ndarray], compress: bool) -> bytes:
    header = b"MATLAB 5.0 MAT-file, written by the flowers-mobile tests".ljust(116, b" ")
    out = header + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    for name, value in variables.items():
        arr = np.atleast_2d(np.asarray(value, dtype="<f8"))
        body = (_element(6, struct.pack("<II", 6, 0))  # array flags: class double
                + _element(5, struct.pack(f"<{arr.ndim}i", *arr.shape))
                + _element(1, name.encode())
                + _element(9, arr.tobytes(order="F")))
        matrix = _element(14, body)
        out += struct.pack("<II", 15, len(z := zlib.compress(matrix))) + z if compress else matrix
    return out


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def _tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class _Server:
    """Serves `files` on 127.0.0.1 with HTTP Range support; can cut the first response short."""

    def __init__(self, files: dict[str, bytes], cut_first: set[str] | None = None):
        self.files, self.cut_first, self.requests = files, set(cut_first or ()), []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                rng = self.headers.get("Range")
                server.requests.append((name, rng))
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if name in server.cut_first:
                    server.cut_first.discard(name)
                    self.wfile.write(data[start:start + len(data) // 3])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)  # connection drops mid-file
                    return
                self.wfile.write(data[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


@pytest.fixture()
def oxford_files():
    """A miniature Oxford 102: 6 images, labels 1, 1, 2, 2, 102, 102, one per split per class."""
    images = {f"jpg/image_{i:05d}.jpg": _jpeg(i) for i in range(1, 7)}
    labels = np.array([[1, 1, 2, 2, 102, 102]])
    setid = {"trnid": np.array([[1, 3, 5]]), "valid": np.array([[2, 4]]), "tstid": np.array([[6]])}
    return {"102flowers.tgz": _tgz(images),
            "imagelabels.mat": _mat_bytes({"labels": labels}, compress=True),
            "setid.mat": _mat_bytes(setid, compress=False)}


def _spec(files: dict[str, bytes]) -> DatasetSpec:
    real = DATASETS["oxford102"]
    return DatasetSpec(real.name, real.base_url, tuple(RemoteFile(n, _md5(d), len(d)) for n, d in files.items()),
                       real.layout)


def test_mat_reader_reads_compressed_and_plain_files(tmp_path):
    for compress in (True, False):
        p = tmp_path / f"m{compress}.mat"
        p.write_bytes(_mat_bytes({"labels": np.array([[3, 1, 2]]), "x": np.arange(6).reshape(2, 3)}, compress))
        got = read_mat(p)
        assert got["labels"].ravel().tolist() == [3, 1, 2]
        assert got["x"].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_fetch_resumes_verifies_and_lays_out_the_splits(tmp_path, oxford_files):
    server = _Server(oxford_files, cut_first={"102flowers.tgz"})
    try:
        out, cache = tmp_path / "oxford", tmp_path / "cache"
        with pytest.raises(UserError, match="resumes|broke off|does not match"):
            fetch_dataset("oxford102", out, mirror=server.url, cache_dir=cache, spec=_spec(oxford_files))
        assert not out.exists()  # nothing half-written
        part = cache / "102flowers.tgz.part"
        assert part.is_file() and 0 < part.stat().st_size < len(oxford_files["102flowers.tgz"])
        resumed_from = part.stat().st_size
        seen = []
        counts = fetch_dataset("oxford102", out, mirror=server.url, cache_dir=cache, spec=_spec(oxford_files),
                               progress=lambda name, done, total: seen.append((name, done, total)))
    finally:
        server.close()
    ranged = [r for name, r in server.requests if name == "102flowers.tgz" and r]
    assert ranged == [f"bytes={resumed_from}-"], "the second run must resume where the first stopped"
    assert counts == {"train": 3, "val": 2, "test": 1}
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg")) == [
        "test/blackberry lily/image_00006.jpg",
        "train/blackberry lily/image_00005.jpg",
        "train/hard-leaved pocket orchid/image_00003.jpg",
        "train/pink primrose/image_00001.jpg",
        "val/hard-leaved pocket orchid/image_00004.jpg",
        "val/pink primrose/image_00002.jpg",
    ]
    assert (out / "train" / "pink primrose" / "image_00001.jpg").read_bytes() == _jpeg(1)
    assert not part.exists() and (cache / "102flowers.tgz").is_file()
    assert seen and seen[-1][1] == seen[-1][2]


def test_checksum_mismatch_removes_the_download(tmp_path, oxford_files):
    spec = _spec(oxford_files)
    bad = DatasetSpec(spec.name, spec.base_url,
                      (RemoteFile("102flowers.tgz", "md5:" + "0" * 32),) + spec.files[1:], spec.layout)
    server = _Server(oxford_files)
    try:
        with pytest.raises(UserError, match="does not match the known file"):
            fetch_dataset("oxford102", tmp_path / "o", mirror=server.url, cache_dir=tmp_path / "c", spec=bad)
    finally:
        server.close()
    assert not (tmp_path / "c" / "102flowers.tgz").exists()
    assert not (tmp_path / "c" / "102flowers.tgz.part").exists()
    assert not (tmp_path / "o").exists()


def test_offline_fails_fast_with_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    with socket.socket() as s:  # a port with nothing listening: connection refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(fetch_mod, "CONNECT_TIMEOUT_S", 3.0)
    with pytest.raises(SystemExit) as exc:
        main(["data", "fetch", "flowers17", str(tmp_path / "f17"), "--mirror", f"http://127.0.0.1:{port}/"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "offline" in err[0] and "17flowers.tgz" in err[0]
    assert not (tmp_path / "f17").exists()


def test_flowers17_layout_uses_its_class_order(tmp_path):
    images = {f"jpg/image_{i:04d}.jpg": _jpeg(i) for i in (1, 80, 81, 1360)}
    files = {"17flowers.tgz": _tgz(images),
             "datasplits.mat": _mat_bytes({"trn1": np.array([[1, 81]]), "val1": np.array([[80]]),
                                           "tst1": np.array([[1360]])}, compress=True)}
    real = DATASETS["flowers17"]
    spec = DatasetSpec(real.name, real.base_url, tuple(RemoteFile(n, _md5(d)) for n, d in files.items()), real.layout)
    server = _Server(files)
    try:
        counts = fetch_dataset("flowers17", tmp_path / "f", mirror=server.url, cache_dir=tmp_path / "c", spec=spec)
    finally:
        server.close()
    assert counts == {"train": 2, "val": 1, "test": 1}
    got = sorted(p.relative_to(tmp_path / "f").as_posix() for p in (tmp_path / "f").rglob("*.jpg"))
    assert got == ["test/pansy/image_1360.jpg", "train/daffodil/image_0001.jpg",
                   "train/snowdrop/image_0081.jpg", "val/daffodil/image_0080.jpg"]


def test_unknown_dataset_is_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["data", "fetch", "imagenet", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "unknown dataset" in capsys.readouterr().err
