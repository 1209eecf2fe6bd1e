"""A numpy executor for Core ML ML Programs: proves on Linux that a `.mlpackage` computes what
its Keras model computes (Core ML itself only runs on Apple platforms).

    from flowers_mobile.coreml_exec import CoreMLExecutor
    result = CoreMLExecutor("Flowers.mlpackage").predict(pixels)  # uint8 (N, H, W, 3)

Modules: `registry` (ops and their declared properties), `ops/` (one module per op family),
`program` (load and fold), `batching`, `runner`, `fp16`, `executor` (the classifier API), and
the fast path where TensorFlow is installed: `tf_ops` (TensorFlow forms of the ops) and
`tf_program` (runs of steps traced into graphs). numpy stays the reference.
"""

from flowers_mobile._coremltools import quiet_coremltools

quiet_coremltools()  # the executor reads coremltools' protobuf classes; keep its import quiet

from flowers_mobile.coreml_exec.executor import CoreMLExecutor, Prediction  # noqa: E402
from flowers_mobile.coreml_exec.ops import OPS  # noqa: E402

__all__ = ["OPS", "CoreMLExecutor", "Prediction"]
