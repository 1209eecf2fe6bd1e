"""The one way a Keras model file is opened: `.keras` or `.h5`, checked, loaded uncompiled.

`train` writes `.keras`; `.h5` is accepted wherever a model is read (evaluate, convert, predict,
parity, benchmark) because foreign classifiers are still often saved that way. The cheap checks
(`check_keras_file`) run before TensorFlow is imported, so a typo does not wait for it.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from flowers_mobile.errors import UserError, first_line

KERAS_SUFFIXES = (".keras", ".h5")
_EXPECTED = "expected a Keras model saved as .keras or .h5"


def check_keras_file(path: str | os.PathLike[str]) -> Path:
    """The path, if it is an existing `.keras` (zip with config.json) or `.h5` (HDF5) file.

    Raises:
        UserError: missing, another suffix, a folder, or not the container its suffix says.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"model not found: {path}", hint="pass the path of a .keras or .h5 model file")
    if path.suffix.lower() not in KERAS_SUFFIXES:
        raise UserError(f"{path}: unsupported model file", hint=_EXPECTED)
    if not path.is_file():
        raise UserError(f"{path} is not a file", hint=_EXPECTED)
    if path.suffix.lower() == ".keras":
        if not zipfile.is_zipfile(path):
            raise UserError(f"{path} is not a valid .keras file (not a zip archive; truncated or corrupt?)",
                            hint="re-save the model with model.save('model.keras')")
        with zipfile.ZipFile(path) as zf:
            if "config.json" not in zf.namelist():
                raise UserError(f"{path} is a zip archive without config.json, not a .keras model",
                                hint="re-save the model with model.save('model.keras')")
    else:
        import h5py

        if not h5py.is_hdf5(path):
            raise UserError(f"{path} is not a valid HDF5 file (truncated or corrupt?)",
                            hint="re-save the model with model.save('model.h5') or as .keras")
    return path


def load_keras_model(path: str | os.PathLike[str]) -> Any:
    """Load a `.keras` or `.h5` model without compiling it.

    Raises:
        UserError: see `check_keras_file`; also a corrupt file, weights only, or a model Keras
            cannot rebuild (custom layers).
    """
    path = check_keras_file(path)
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises ValueError, TypeError, OSError, KeyError... for bad files
        first = first_line(exc)
        hint = "re-save it with model.save(PATH); custom layers must be importable"
        if "No model config" in first:
            hint = "the file holds weights only; save the whole model with model.save('model.keras')"
        raise UserError(f"{path}: cannot load the Keras model ({type(exc).__name__}: {first[:300]})",
                        hint=hint) from exc
    if not isinstance(model, keras.Model):
        raise UserError(f"{path} holds a {type(model).__name__}, not a Keras model",
                        hint="save a keras.Model with model.save('model.keras')")
    return model
