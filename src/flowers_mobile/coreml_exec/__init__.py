"""A numpy executor for Core ML ML Programs: proves on Linux that a `.mlpackage` computes what
its Keras model computes (Core ML itself only runs on Apple platforms).

    from flowers_mobile.coreml_exec import CoreMLExecutor
    result = CoreMLExecutor("Flowers.mlpackage").predict(pixels)  # uint8 (N, H, W, 3)
"""

from flowers_mobile.coreml_exec.executor import CoreMLExecutor, Prediction
from flowers_mobile.coreml_exec.ops import OPS

__all__ = ["OPS", "CoreMLExecutor", "Prediction"]
