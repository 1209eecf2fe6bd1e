"""Convert a frozen GraphDef to TFLite in a separate process (see `tflite.BackgroundConversion`).

int8 calibration runs the float model once per representative image on one core; on a
2-core machine a second process calibrates while the parent writes the other targets.

    python -m flowers_mobile.export._convert_worker GRAPH.pb INPUT OUTPUT PRECISION REPR.npy|- OUT.tflite

Exit 0 with OUT.tflite written, or exit 1 with the reason as the last line on stderr.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    graph_path, input_name, output_name, precision, repr_path, out_path = argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import numpy as np
        import tensorflow as tf

        from flowers_mobile.export.tflite import OUTPUT_NAME, convert_tflite

        graph_def = tf.compat.v1.GraphDef()
        with open(graph_path, "rb") as fh:
            graph_def.ParseFromString(fh.read())
        wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
        function = wrapped.prune(wrapped.graph.get_tensor_by_name(input_name),
                                 {OUTPUT_NAME: wrapped.graph.get_tensor_by_name(output_name)})
        representative = None if repr_path == "-" else np.load(repr_path)
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
    sys.exit(main(sys.argv[1:]))
