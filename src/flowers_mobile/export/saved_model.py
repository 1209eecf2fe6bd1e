"""SavedModel export for servers (TF Serving): one `serving_default` signature over raw pixels.

    signature serving_default
      inputs:  image          float32 (None, H, W, 3), raw RGB 0..255
      outputs: probabilities  float32 (None, classes)

The module tracks the model's variables and one traced function; it is about twice as fast to
write as Keras' `model.export` (which traces and tracks the whole layer tree) and serves the same.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SIGNATURE_KEY = "serving_default"
INPUT_KEY = "image"
OUTPUT_KEY = "probabilities"


def export_saved_model(model: Any, out_dir: str | os.PathLike[str], input_size: tuple[int, int]) -> Path:
    """Write `model` (raw pixels in, probabilities out) as a SavedModel folder at `out_dir`.

    Args:
        model: a keras.Model taking float32 (N, H, W, 3) raw pixels.
        out_dir: the folder to create (must not exist yet; the caller writes into a temp folder).
        input_size: (height, width).
    Returns:
        `out_dir`.
    """
    import tensorflow as tf

    from flowers_mobile.export.tflite import quiet_tf

    h, w = input_size

    @tf.function(input_signature=[tf.TensorSpec((None, h, w, 3), tf.float32, name=INPUT_KEY)])
    def serve(image):
        return {OUTPUT_KEY: model(image, training=False)}

    module = tf.Module()
    # Keras 3 variables wrap tf.Variables; the SavedModel must own the tf.Variables themselves.
    module.model_variables = [getattr(v, "value", v) for v in model.variables]
    module.serve = serve
    out_dir = Path(out_dir)
    with quiet_tf():
        tf.saved_model.save(module, os.fspath(out_dir), signatures={SIGNATURE_KEY: serve.get_concrete_function()})
    return out_dir


def signature_facts(saved_model: str | os.PathLike[str] | Any) -> dict[str, Any]:
    """The serving signature's input/output names, shapes and dtypes.

    Args:
        saved_model: a SavedModel folder, or an object `tf.saved_model.load` returned.
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(os.fspath(saved_model)) if isinstance(saved_model, (str, os.PathLike)) \
        else saved_model
    fn = loaded.signatures[SIGNATURE_KEY]
    (_, inputs) = fn.structured_input_signature
    outputs = fn.structured_outputs

    def spec(s: Any) -> dict[str, Any]:
        return {"shape": [-1 if d is None else int(d) for d in s.shape], "dtype": s.dtype.name}

    return {"inputs": {k: spec(v) for k, v in inputs.items()}, "outputs": {k: spec(v) for k, v in outputs.items()}}
