"""Run a saved ML Program (`.mlpackage`) with numpy, the way Core ML would, on any OS.

    executor = CoreMLExecutor("Flowers.mlpackage")
    result = executor.predict(pixels)            # uint8 (N, H, W, 3)
    result.labels[0], result.probabilities[0]    # classLabel, classLabel_probs
    result.array                                 # float32 (N, classes), label order

Loading reads the spec and the weight blobs from disk, folds `const` and `constexpr_*` ops
(decompressing quantized / palettized weights once), and checks every other op against the
registry in `ops.py`: an op it does not know is a `UserError` that names the op and the model.

Precision. A float16 program declares float16 tensors; Core ML on the GPU and Neural Engine
stores those in half precision. The executor computes each op in float32 and rounds every
float16-declared result to float16 before the next op reads it: half-precision storage with
wider accumulation inside an op. (Core ML's CPU path may run a float16 program in float32;
`fp16_rounding=False` gives that reading.) float32 programs run in float32 throughout.

Batching. Programs are converted for batch 1; when every op is batch-safe (it never mixes
images or reshapes the batch axis away) the executor runs N images through each op at once,
else one image at a time. Either way the answers are the same.
"""

from __future__ import annotations

import collections
import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.blas import blas_threads
from flowers_mobile.coreml_exec.image import (
    ImageInput,
    fit_image,
    image_input_from_spec,
    pixels_to_tensor,
)
from flowers_mobile.coreml_exec.ops import OPS
from flowers_mobile.coreml_exec.values import (
    BlobReader,
    decode_value,
    dtype_name,
    static_shape,
)
from flowers_mobile.errors import UserError
from flowers_mobile.formats.mlpackage import read_package

#: Inputs that take several arguments (MIL tuples); every other input takes one.
VARIADIC_INPUTS = {("concat", "values")}
#: Images run through the program at once (bounds memory on large batches).
DEFAULT_CHUNK = 32
# Ops whose result for an image never depends on another image, whatever their axis arguments.
_ROW_WISE = {"relu", "relu6", "clip", "sigmoid", "tanh", "add", "sub", "mul", "real_div", "maximum", "minimum",
             "sqrt", "rsqrt", "exp", "cast", "conv", "batch_norm", "linear", "classify"}
# Ops whose float16 result needs no rounding: it is one of their (float16) inputs' values, or was
# rounded inside the op (cast).
_EXACT_OPS = {"relu", "relu6", "clip", "maximum", "minimum", "transpose", "reshape", "squeeze", "expand_dims",
              "concat", "pad", "reduce_max", "cast"}


@dataclass(frozen=True)
class _Ref:
    """A runtime tensor an op reads (by MIL variable name)."""

    name: str


@dataclass
class _Step:
    op_type: str
    name: str
    args: dict[str, Any]
    outputs: list[tuple[str, str]]  # (variable, declared dtype)
    free_after: list[str] = field(default_factory=list)
    batched: bool = False  # reads images stacked on axis 0


@dataclass
class Prediction:
    """What Core ML returns for a classifier, per image, plus the array form for parity checks."""

    labels: list[str]  # classLabel
    probabilities: list[dict[str, float]]  # classLabel_probs
    array: np.ndarray  # float32 (N, classes) in label order
    notes: list[list[str]] = field(default_factory=list)  # per image: conversions, resizes


class CoreMLExecutor:
    """A loaded ML Program, ready to run batches.

    Args:
        path: the `.mlpackage` folder.
        fp16_rounding: round float16-declared tensors to float16 after each op (see module doc).
        chunk: images per pass through the program.
        threads: BLAS threads while running (1 is fastest for these small products; None: numpy's
            default).
    Raises:
        UserError: missing / corrupt package, not an ML Program, missing or damaged weights, an op
            the executor does not support, a classifier whose labels do not match its outputs.
    """

    def __init__(self, path: str | os.PathLike[str], *, fp16_rounding: bool = True,
                 chunk: int = DEFAULT_CHUNK, threads: int | None = 1) -> None:
        self.path = Path(path)
        self.threads = threads
        self.fp16_rounding = fp16_rounding
        self.chunk = max(1, int(chunk))
        self.package = read_package(self.path)
        spec = self.package.spec
        self.spec_version = int(spec.specificationVersion)
        self.image_input: ImageInput | None = image_input_from_spec(spec, str(self.path))
        self._blobs = BlobReader(self.package.resolve_blob_path, str(self.path))
        self._build(spec.mlProgram)
        self.metadata = _metadata(spec)

    # ------------------------------------------------------------------ loading

    def _build(self, program: Any) -> None:
        where = str(self.path)
        if "main" not in program.functions:
            raise UserError(f"{where}: the ML Program has no 'main' function")
        fn = program.functions["main"]
        self.opset = fn.opset
        if fn.opset not in fn.block_specializations:
            raise UserError(f"{where}: no block for the program's opset {fn.opset!r}")
        block = fn.block_specializations[fn.opset]
        if len(fn.inputs) != 1:
            raise UserError(f"{where}: the program takes {len(fn.inputs)} inputs; expected one image")
        inp = fn.inputs[0]
        self.input_name = inp.name
        self.input_dtype = dtype_name(inp.type)
        self.input_shape = static_shape(inp.type)
        if self.input_shape is None or len(self.input_shape) != 4:
            raise UserError(f"{where}: input {inp.name!r} needs a static (1, C, H, W) shape for the executor")

        self.constants: dict[str, Any] = {}
        self.op_counts: collections.Counter[str] = collections.Counter()
        declared: dict[str, tuple[str, tuple[int, ...] | None]] = {inp.name: (self.input_dtype, self.input_shape)}
        steps: list[_Step] = []
        for index, op in enumerate(block.operations):
            self.op_counts[op.type] += 1
            label = _op_label(op, index)
            outputs = [(o.name, dtype_name(o.type)) for o in op.outputs]
            for o in op.outputs:
                declared[o.name] = (dtype_name(o.type), static_shape(o.type))
            if op.type not in OPS:
                raise UserError(f"{where}: op {op.type!r} ({label}) is not supported by the Core ML executor",
                                hint=f"supported ops: {', '.join(sorted(OPS))}")
            args = self._op_args(op, label)
            _check_signature(op.type, args, where, label)
            if op.type == "const":
                self.constants[outputs[0][0]] = self._widen(args["val"], outputs[0][1])
            elif op.type.startswith("constexpr_"):
                if any(isinstance(v, _Ref) for v in args.values()):
                    raise UserError(f"{where}: {op.type} ({label}) reads a runtime tensor")
                value = self._call(op.type, label, args)
                self.constants[outputs[0][0]] = self._widen(value, outputs[0][1])
            else:
                steps.append(_Step(op.type, label, args, outputs))
        self.outputs = list(block.outputs)
        self._declared = declared
        self._steps = steps
        self._find_classifier()
        self._plan_memory()
        self.batchable = self._batch_safe()
        self.is_float16 = any(d == "FLOAT16" for _, (d, _) in declared.items())

    def _op_args(self, op: Any, label: str) -> dict[str, Any]:
        where = f"{self.path}: {op.type} ({label})"
        args: dict[str, Any] = {}
        for key, attr in op.attributes.items():
            if key != "name":  # iOS16 constexpr ops carry their data as attributes
                args[key] = decode_value(attr, self._blobs, where)
        for key, argument in op.inputs.items():
            values = []
            for binding in argument.arguments:
                if binding.WhichOneof("binding") == "name":
                    ref = binding.name
                    values.append(self.constants[ref] if ref in self.constants else _Ref(ref))
                else:
                    values.append(decode_value(binding.value, self._blobs, where))
            if (op.type, key) in VARIADIC_INPUTS:
                args[key] = values
            elif len(values) == 1:
                args[key] = values[0]
            else:
                raise UserError(f"{where}: input {key!r} has {len(values)} arguments; expected one")
        return args

    def _widen(self, value: Any, declared: str) -> Any:
        """Constants as the executor computes with them: floating types as float32."""
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            if declared == "FLOAT16" and value.dtype != np.float16:
                value = value.astype(np.float16)  # a decompressed float16 weight is float16
            return value.astype(np.float32)
        return value

    def _find_classifier(self) -> None:
        where = str(self.path)
        self.labels: list[str] | None = None
        self.probabilities_var: str | None = None
        for step in self._steps:
            if step.op_type != "classify":
                continue
            classes = step.args.get("classes")
            if isinstance(classes, np.ndarray):
                classes = classes.reshape(-1).tolist()
            if not isinstance(classes, list) or not classes:
                raise UserError(f"{where}: the classify op has no class labels")
            probs = step.args.get("probabilities")
            if not isinstance(probs, _Ref):
                raise UserError(f"{where}: the classify op's probabilities are not a runtime tensor")
            shape = self._declared.get(probs.name, (None, None))[1]
            labels = [str(c.item() if isinstance(c, np.ndarray) else c) for c in classes]
            if shape and shape[-1] != len(labels):
                raise UserError(f"{where}: the classifier config has {len(labels)} labels but the model "
                                f"computes {shape[-1]} probabilities", hint="re-export the package")
            self.labels = labels
            self.probabilities_var = probs.name
            self.class_label_name = step.outputs[0][0]
            self.probabilities_name = step.outputs[1][0] if len(step.outputs) > 1 else None
        if self.labels is None and len(self.outputs) != 1:
            raise UserError(f"{where}: neither a classifier nor a single-output model")

    def _plan_memory(self) -> None:
        """Drop each runtime tensor after the last op that reads it (keeps memory flat on big batches)."""
        keep = set(self.outputs) | {self.probabilities_var}
        last_use: dict[str, int] = {}
        for i, step in enumerate(self._steps):
            for ref in _refs(step.args):
                last_use[ref] = i
        for name, i in last_use.items():
            if name not in keep:
                self._steps[i].free_after.append(name)

    def _batch_safe(self) -> bool:
        """True when stacking images on axis 0 gives each image the answer it gets alone."""
        if self.input_shape[0] != 1:
            return False
        batched = {self.input_name}

        def rank(name: str) -> int:
            return len(self._declared.get(name, ("", ()))[1] or ())

        for step in self._steps:
            if not any(r in batched for r in _refs(step.args)):
                continue
            if not _row_wise(step, rank, batched):
                for s in self._steps:
                    s.batched = False
                return False
            step.batched = True
            batched.update(name for name, _ in step.outputs)
        return True

    # ------------------------------------------------------------------ running

    def run(self, x: np.ndarray) -> dict[str, Any]:
        """Run the program on the input tensor (N, C, H, W); returns every program output by name.

        Also returns the classifier's probabilities array under `probabilities_var` when the
        program is a classifier.
        """
        x = np.asarray(x, dtype=np.float32)
        expected = tuple(self.input_shape[1:])
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise UserError(f"{self.path}: input tensor shape {x.shape}; the program takes (N, {', '.join(map(str, expected))})")
        if self.input_dtype == "FLOAT16":
            x = _round16(x)
        step = self.chunk if self.batchable else 1
        with blas_threads(self.threads):
            parts = [self._run_once(x[i:i + step]) for i in range(0, len(x), step)]
        return _concat_outputs(parts)

    def _run_once(self, x: np.ndarray) -> dict[str, Any]:
        env: dict[str, Any] = {self.input_name: x}
        round16 = self.fp16_rounding
        with np.errstate(over="ignore", under="ignore"):
            for step in self._steps:
                args = {k: _resolve(v, env) for k, v in step.args.items()}
                result = self._call(step.op_type, step.name, args, batch=len(x) if step.batched else 1)
                results = result if len(step.outputs) > 1 else (result,)
                for (name, dtype), value in zip(step.outputs, results, strict=True):
                    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                        if round16 and dtype == "FLOAT16" and step.op_type not in _EXACT_OPS:
                            value = _round16(value)
                        else:
                            value = value.astype(np.float32, copy=False)
                    env[name] = value
                for name in step.free_after:
                    env.pop(name, None)
        out = {name: env[name] for name in self.outputs}
        if self.probabilities_var is not None:
            out[self.probabilities_var] = env[self.probabilities_var]
        return out

    def _call(self, op_type: str, label: str, args: dict[str, Any], batch: int = 1) -> Any:
        if op_type == "reshape" and batch != 1:
            args = dict(args, shape=_batched_shape(args["shape"], batch))
        try:
            return OPS[op_type](**args)
        except (ValueError, TypeError, IndexError) as exc:
            raise UserError(f"{self.path}: op {op_type} ({label}) failed: {exc}") from exc

    # ------------------------------------------------------------------ classifier API

    def predict(self, pixels: np.ndarray) -> Prediction:
        """Classify raw pixels (N, H, W, C) 0..255 at the model's size (uint8 or float)."""
        if self.labels is None:
            raise UserError(f"{self.path} is not a classifier (no classify op)")
        pixels = np.asarray(pixels)
        channels = self.image_input.channels if self.image_input else self.input_shape[1]
        size = (self.input_shape[2], self.input_shape[3])
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != (*size, channels):
            raise UserError(f"expected pixels of shape (N, {size[0]}, {size[1]}, {channels}), got {pixels.shape}",
                            hint="resize with flowers_mobile.images.load_image or use predict_images")
        outputs = self.run(pixels_to_tensor(pixels, self.image_input))
        array = np.asarray(outputs[self.probabilities_var], dtype=np.float32).reshape(len(pixels), -1)
        labels = [str(v) for v in np.asarray(outputs[self.class_label_name], dtype=object).reshape(-1)]
        probs = outputs.get(self.probabilities_name) or [dict(zip(self.labels, map(float, row), strict=True)) for row in array]
        return Prediction(labels=labels, probabilities=probs, array=array, notes=[[] for _ in labels])

    def predict_images(self, images: Any, resize: str = "stretch") -> Prediction:
        """Classify PIL images: converted to the model's color space and size as Core ML would.

        Args:
            images: one PIL image or a sequence of them.
            resize: "stretch" (the project's rule, the iOS app's `.scaleFill`) or "center_crop"
                (Vision's default) for images not at the model's size; each resize is noted.
        """
        from PIL import Image

        if isinstance(images, Image.Image):
            images = [images]
        if self.image_input is None:
            raise UserError(f"{self.path}: the model input is a plain tensor, not an image")
        fitted = [fit_image(img, self.image_input, resize) for img in images]
        if not fitted:
            raise UserError("no images given")
        result = self.predict(np.stack([pixels for pixels, _ in fitted]))
        result.notes = [notes for _, notes in fitted]
        return result

    def describe(self) -> dict[str, Any]:
        """Facts for reports: opset, spec version, precision, op counts, batching."""
        return {"opset": self.opset, "specification_version": self.spec_version,
                "float16": self.is_float16, "fp16_rounding": self.fp16_rounding,
                "batched": self.batchable, "ops": dict(sorted(self.op_counts.items()))}


# ---------------------------------------------------------------------- helpers


def _op_label(op: Any, index: int) -> str:
    name = op.attributes["name"].immediateValue.tensor.strings.values[0] if "name" in op.attributes else ""
    if not name and op.outputs:
        name = op.outputs[0].name
    return f"#{index} {name}" if name else f"#{index}"


def _check_signature(op_type: str, args: dict[str, Any], where: str, label: str) -> None:
    try:
        inspect.signature(OPS[op_type]).bind(**args)
    except TypeError as exc:
        raise UserError(f"{where}: op {op_type} ({label}) has inputs {sorted(args)} that the executor "
                        f"does not read that way ({exc})") from exc


def _refs(args: dict[str, Any]) -> list[str]:
    out = []
    for v in args.values():
        for item in (v if isinstance(v, list) else [v]):
            if isinstance(item, _Ref):
                out.append(item.name)
    return out


def _resolve(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, _Ref):
        return env[value.name]
    if isinstance(value, list):
        return [env[v.name] if isinstance(v, _Ref) else v for v in value]
    return value


def round_to_float16(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest float16 (ties to even), still as float32.

    The same result as x.astype(float16).astype(float32), about twice as fast: numpy's
    float16 casts take ~15 ns per value here, and this runs after most ops of a float16
    program. For float16's normal range it rounds the float32 mantissa to 10 bits with
    integer arithmetic; the rare values outside that range (subnormal in float16, or
    rounding up past 65504 to infinity) go through numpy's cast.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    bits = x.view(np.uint32)
    out = bits >> 13
    out &= 1
    out += 0xFFF  # 0x1000 - 1 + the lowest kept bit: round half to even
    out += bits
    out &= 0xFFFFE000
    special = (bits & 0x7F800000) < (113 << 23)  # |x| < 2**-14 (and zeros): float16 subnormals
    special |= (out & 0x7F800000) >= (143 << 23)  # rounded to >= 2**16 (float16 inf), inf, nan
    if special.any():
        result = out.view(np.float32)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is the point here
            result[special] = x[special].astype(np.float16).astype(np.float32)
        return result
    return out.view(np.float32)


_round16 = round_to_float16


def _axes(value: Any, rank: int) -> list[int] | None:
    if value is None:
        return None
    return [int(a) + rank if int(a) < 0 else int(a) for a in np.asarray(value).reshape(-1)]


def _row_wise(step: _Step, rank: Any, batched: set[str]) -> bool:
    """Whether `step`, reading batch-stacked tensors, treats each image on its own.

    `rank(name)` gives a variable's declared rank; axis arguments are checked against it.
    """
    a, t = step.args, step.op_type
    x = a.get("x")
    x_rank = rank(x.name) if isinstance(x, _Ref) else 0
    if t in _ROW_WISE:
        if t in ("linear", "conv"):
            return not isinstance(a.get("weight"), _Ref)
        return True
    if t == "softmax":
        return _axes(a.get("axis", -1), x_rank) != [0]
    if t in ("reduce_mean", "reduce_sum", "reduce_max"):
        axes = _axes(a.get("axes"), x_rank)
        return axes is not None and 0 not in axes
    if t == "transpose":
        return _axes(a["perm"], x_rank)[0] == 0
    if t == "reshape":
        shape = a["shape"]
        return not isinstance(shape, _Ref) and int(np.asarray(shape).reshape(-1)[0]) == 1 and x_rank > 0
    if t == "pad":
        amounts = np.asarray(a["pad"]).reshape(-1)
        return len(amounts) // 2 < x_rank or (amounts[0] == 0 and amounts[1] == 0)
    if t == "squeeze":
        axes = _axes(a.get("axes"), x_rank)
        return axes is not None and 0 not in axes
    if t == "expand_dims":
        count = len(np.asarray(a["axes"]).reshape(-1))
        return 0 not in (_axes(a["axes"], x_rank + count) or [0])
    if t == "concat":
        first = a["values"][0]
        return isinstance(first, _Ref) and _axes(a["axis"], rank(first.name)) != [0] and \
            all(isinstance(v, _Ref) and v.name in batched for v in a["values"])
    if t == "matmul":
        y = a.get("y")
        x_b = isinstance(x, _Ref) and x.name in batched
        y_b = isinstance(y, _Ref) and y.name in batched
        if x_b and not y_b:
            return x_rank >= 2 and not bool(a.get("transpose_x", False))
        return x_b and y_b and x_rank >= 3 and rank(y.name) >= 3
    return False


def _batched_shape(shape: Any, batch: int) -> np.ndarray:
    """A batch-1 reshape target for `batch` stacked images: the leading 1 becomes `batch`."""
    shape = np.array(np.asarray(shape).reshape(-1), dtype=np.int64)
    if shape.size and shape[0] == 1:
        shape[0] = batch
    return shape


def _concat_outputs(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if len(parts) == 1:
        return parts[0]
    out: dict[str, Any] = {}
    for key in parts[0]:
        values = [p[key] for p in parts]
        if isinstance(values[0], list):
            out[key] = [item for v in values for item in v]
        else:
            out[key] = np.concatenate([np.asarray(v).reshape(-1) if np.asarray(v).ndim == 0 else v for v in values])
    return out


def _metadata(spec: Any) -> dict[str, Any]:
    meta = spec.description.metadata
    return {"author": meta.author, "license": meta.license, "version": meta.versionString,
            "short_description": meta.shortDescription, "user_defined": dict(meta.userDefined)}
