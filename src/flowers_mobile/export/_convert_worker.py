"""Convert a frozen GraphDef to TFLite in a separate process (see `tflite.BackgroundConversion`).

int8 calibration runs the float model once per representative image on one core; on a
2-core machine a second process calibrates while the parent writes the other targets.

    python -m flowers_mobile.export._convert_worker

It imports TensorFlow first, then reads one JSON job from stdin:
    {"graph": GRAPH.pb, "input": "image:0", "output": "Identity:0", "precision": "int8",
     "representative": REPR.npy or null, "out": OUT.tflite}
Exit 0 with OUT.tflite written (or with no job: stdin closed empty), or exit 1 with the
reason as the last line on stderr.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        # Imports first: they overlap with the parent loading and freezing the model.
        import json

        import numpy as np
        import tensorflow as tf

        from flowers_mobile.export.tflite import OUTPUT_NAME, convert_tflite

        line = sys.stdin.readline()
        if not line.strip():
            return 0  # the parent closed without a job (it failed or needed none)
        job = json.loads(line)
        graph_path, input_name, output_name = job["graph"], job["input"], job["output"]
        precision, repr_path, out_path = job["precision"], job["representative"], job["out"]
        graph_def = tf.compat.v1.GraphDef()
        with open(graph_path, "rb") as fh:
            graph_def.ParseFromString(fh.read())
        wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
        function = wrapped.prune(wrapped.graph.get_tensor_by_name(input_name),
                                 {OUTPUT_NAME: wrapped.graph.get_tensor_by_name(output_name)})
        representative = None if repr_path is None else np.load(repr_path)
        flatbuffer = convert_tflite(function, precision, representative)
        tmp = out_path + ".part"
        with open(tmp, "wb") as fh:
            fh.write(flatbuffer)
        os.replace(tmp, out_path)
    except Exception as exc:  # the parent shows this line; any failure ends the worker
        print(f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
