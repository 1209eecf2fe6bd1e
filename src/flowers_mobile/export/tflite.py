"""Keras classifier -> TFLite flatbuffers: float32, float16, dynamic range and full int8.

The conversion goes through one frozen `tf.function` of the model (input "image", float32
(1, H, W, 3) raw pixels). With TF 2.19 and Keras 3 that path is both the one that works
(`from_keras_model` exports a SavedModel first) and about six times faster than converting a
SavedModel, because freezing a concrete function skips the SavedModel save/load round trip.

Full int8 has uint8 input and output. The input is pinned to scale 1, zero point 0: the model
takes raw 0..255 pixels, so an app hands it camera bytes as they are. Calibration uses real
images, never random noise: the training split (stratified over the classes) of a labelled
dataset, or any folder of unlabelled images.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile import variants
from flowers_mobile.errors import UserError
from flowers_mobile.tf_quiet import quiet_tf

DEFAULT_TFLITE = "flowers.tflite"
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"

#: flowers_int8.tflite, flowers_float16.tflite, ...: the variant catalogue names the files.
tflite_file_name = variants.tflite_file


def frozen_function(model: Any, input_size: tuple[int, int]) -> Any:
    """The model as a frozen concrete function: input "image" (1, H, W, 3) float32, output "probabilities".

    Freeze once, convert many times: every precision starts from the same graph.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    h, w = input_size

    @tf.function(input_signature=[tf.TensorSpec((1, h, w, 3), tf.float32, name=INPUT_NAME)])
    def serve(image):
        return {OUTPUT_NAME: model(image, training=False)}

    with quiet_tf():
        return convert_variables_to_constants_v2(serve.get_concrete_function())


def convert_tflite(function: Any, precision: str, representative: np.ndarray | None = None) -> bytes:
    """Convert a frozen function (see `frozen_function`) to a TFLite flatbuffer.

    Args:
        function: frozen concrete function of the classifier.
        precision: int8 | float16 | dynamic | float32 (aliases accepted).
        representative: uint8 or float32 images (N, H, W, 3), raw 0..255, for int8 calibration.
    Returns:
        The flatbuffer bytes, without metadata.
    """
    import tensorflow as tf

    precision = variants.tflite_precision(precision)
    if precision == "int8_fallback":
        from flowers_mobile.export.int8_fallback import convert_with_fallback

        if representative is None or len(representative) == 0:
            raise UserError("int8_fallback needs representative images", hint="pass --data DIR")
        return convert_with_fallback(function, representative).flatbuffer
    with quiet_tf():
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision == "int8":
        if representative is None or len(representative) == 0:
            raise UserError("int8 needs representative images to calibrate on",
                            hint="pass --data DIR (the training images), or choose --quantize fp16|dynamic|none")
        samples = np.asarray(representative, dtype=np.float32)

        def calibration_data() -> Iterator[list[np.ndarray]]:
            for image in samples:
                yield [image[None]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = calibration_data
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    with quiet_tf():
        flatbuffer = converter.convert()
    if precision == "int8":
        flatbuffer = pin_raw_pixel_input(flatbuffer)
    return bytes(flatbuffer)


def pin_raw_pixel_input(flatbuffer: bytes) -> bytes:
    """Set the uint8 input tensor's quantization to scale 1, zero point 0 (raw pixels).

    Calibration picks the input's scale from the pixel range it saw: 255/255 = 1 when the
    images reach 0 and 255, slightly less otherwise. The converter puts a QUANTIZE op after
    the uint8 input that requantizes into the int8 graph's calibrated scale; pinning the input
    to (1, 0) keeps that op exact, so every model takes camera bytes unchanged. The floats are
    edited in place in the flatbuffer: nothing else moves.
    """
    from flowers_mobile.formats.tflite import model_schema

    schema = model_schema()

    buf = bytearray(flatbuffer)
    model = schema.Model.GetRootAsModel(buf, 0)
    graph = model.Subgraphs(0)
    for k in range(graph.InputsLength()):
        tensor = graph.Tensors(graph.Inputs(k))
        quant = tensor.Quantization()
        if tensor.Type() != schema.TensorType.UINT8 or quant is None or quant.ScaleLength() != 1:
            raise RuntimeError("int8 conversion did not give a per-tensor quantized uint8 input")
        scale = quant.ScaleAsNumpy()  # views into `buf`: writing them edits the model
        zero_point = quant.ZeroPointAsNumpy()
        scale[0] = 1.0
        zero_point[0] = 0
    return bytes(buf)


def tensor_facts(flatbuffer: bytes) -> dict[str, Any]:
    """Input/output shape, dtype and quantization of a TFLite model, read from the flatbuffer
    (`formats.tflite.tensor_info`: the facts LiteRT reports, without loading an interpreter)."""
    from flowers_mobile.formats.tflite import tensor_info

    facts: dict[str, Any] = {}
    for prefix, output in (("input", False), ("output", True)):
        info = tensor_info(flatbuffer, "the converted model", output=output)
        facts.update({f"{prefix}_shape": list(info.shape), f"{prefix}_dtype": info.dtype,
                      f"{prefix}_quantization": info.quantization})
    return facts


def calibration_paths(data_dir: Path, labels: list[str], data_cfg: Any, count: int) -> list[Path]:
    """The images int8 calibrates on: up to `count`, never random noise.

    A labelled dataset (class folders named after `labels`, or pre-split) gives its training
    split, stratified over the classes; its classes must be the labels. A folder of unlabelled
    images (images directly inside it, or no sub-folder named after a label: see
    `data.sources.unlabelled_images`) gives its images at any depth, spread over its folders.
    """
    from flowers_mobile.data.sources import load_dataset, spread_sample, unlabelled_images

    flat = unlabelled_images(data_dir, labels)
    if flat is not None:
        return spread_sample(flat, count, data_cfg.seed)
    dataset = load_dataset(data_dir, data_cfg)
    check_data_classes(dataset.classes, labels, str(data_dir))
    return _training_sample(dataset, count, data_cfg.seed)


def _training_sample(dataset: Any, count: int, seed: int) -> list[Path]:
    from flowers_mobile.data.sources import stratified_sample

    picked = stratified_sample(dataset.train, count, seed)
    if not picked:
        raise UserError(f"{dataset.root}: no training images to calibrate int8 on")
    return [s.path for s in picked]


def load_calibration(paths: list[Path], input_size: tuple[int, int]) -> np.ndarray:
    """`paths` decoded and stretched to (height, width) = input_size (the one resize rule), uint8 (N, H, W, 3)."""
    from flowers_mobile.images import load_image

    h, w = input_size
    return np.stack([load_image(p, (w, h)) for p in paths])


def representative_images(dataset: Any, count: int, seed: int, input_size: tuple[int, int]) -> np.ndarray:
    """Up to `count` images of the dataset's training split, stratified over the classes, uint8 (N, H, W, 3).

    Args:
        dataset: a `flowers_mobile.data.sources.Dataset` (the same split training used).
        count: how many images (all training images when there are fewer).
        seed: sampling seed.
        input_size: (height, width) of the model; images are stretched to it (the one resize rule).
    """
    return load_calibration(_training_sample(dataset, count, seed), input_size)


def check_data_classes(data_classes: list[str], labels: list[str], where: str) -> None:
    """The data folder's classes must be the model's labels (as sets: folders are sorted by name)."""
    missing = [c for c in labels if c not in set(data_classes)]
    extra = [c for c in data_classes if c not in set(labels)]
    if missing or extra:
        parts = []
        if extra:
            parts.append(f"classes not in the labels: {', '.join(extra[:5])}")
        if missing:
            parts.append(f"labels without a class folder: {', '.join(missing[:5])}")
        raise UserError(f"--data {where} does not match the labels ({'; '.join(parts)})",
                        hint="pass the data folder the model was trained on")


class BackgroundConversion:
    """One `convert_tflite` call in a child process, for work that overlaps with this one's.

    The child starts at once and imports TensorFlow while this process loads and freezes the
    model; `submit` then hands it the frozen GraphDef and the images as files. It rebuilds the
    function from the GraphDef (the same graph: the same bytes as converting in-process) and
    writes the flatbuffer. The child dies with this process (Linux), and `cancel()` ends it, so
    a failed or interrupted convert leaves no converter running.

        job = BackgroundConversion()          # early: the import overlaps with other work
        ...
        job.submit(function, "int8", images, workdir)
        ...                                    # other conversions
        flatbuffer = job.result()
    """

    def __init__(self) -> None:
        import subprocess
        import sys
        import tempfile

        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        self.precision: str | None = None
        self._out: Path | None = None
        # Anonymous file, closed in result()/cancel(): nothing is left on disk even after a kill.
        self._stderr = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "flowers_mobile.export._convert_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr, env=env,
            preexec_fn=_die_with_parent)

    def submit(self, function: Any, precision: str, representative: np.ndarray | None,
               workdir: str | os.PathLike[str]) -> None:
        """Give the waiting child its job: files in `workdir`, the job on its stdin."""
        import json

        self.precision = variants.tflite_precision(precision)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        graph_path = workdir / f"{self.precision}.graph.pb"
        graph_path.write_bytes(function.graph.as_graph_def().SerializeToString())
        repr_path = None
        if representative is not None:
            repr_path = workdir / f"{self.precision}.representative.npy"
            np.save(repr_path, np.asarray(representative))
        self._out = workdir / f"{self.precision}.tflite"
        job = {"graph": str(graph_path), "input": function.inputs[0].name, "output": function.outputs[0].name,
               "precision": self.precision, "representative": None if repr_path is None else str(repr_path),
               "out": str(self._out)}
        assert self._proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # the child already failed: result() reports why
            self._proc.stdin.write((json.dumps(job) + "\n").encode("utf-8"))
            self._proc.stdin.close()

    def result(self) -> bytes:
        """Wait for the child; its flatbuffer, or RuntimeError with the child's last stderr line."""
        code = self._proc.wait()
        if code != 0 or self._out is None or not self._out.is_file():
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            self._stderr.close()
            raise RuntimeError(f"{self.precision} conversion failed in its worker process (exit {code}): "
                               f"{lines[-1] if lines else 'no message'}")
        self._stderr.close()
        return self._out.read_bytes()

    def cancel(self) -> None:
        """End the child if it still runs (no-op after `result`)."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdin and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
        self._stderr.close()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGKILL it when the parent dies (best effort)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass
