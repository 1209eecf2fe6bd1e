"""One Keras loader for every reader (evaluate, convert, the keras runtime): the same suffix rule,
the same one-line errors; and the one first-line-of-an-exception helper."""

from __future__ import annotations

import numpy as np
import pytest

from flowers_mobile import evaluation
from flowers_mobile.errors import UserError, first_line
from flowers_mobile.export import keras_io
from flowers_mobile.keras_file import check_keras_file, load_keras_model
from flowers_mobile.runtimes import keras_runtime


def test_every_reader_uses_the_one_loader():
    assert evaluation.load_keras_model is keras_io.load_keras_model is keras_runtime.load_keras_model \
        is load_keras_model


def test_keras_and_h5_load_to_the_same_model_and_other_files_are_refused(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    x = np.ones((1, 3), np.float32)
    for name in ("m.keras", "m.h5"):
        model.save(tmp_path / name)
        loaded = load_keras_model(tmp_path / name)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    (tmp_path / "labels.txt").write_text("a\nb\n")
    (tmp_path / "garbage.keras").write_bytes(b"not a zip")
    (tmp_path / "garbage.h5").write_bytes(b"not hdf5")
    model.save_weights(tmp_path / "weights.weights.h5")
    (tmp_path / "weights.h5").write_bytes((tmp_path / "weights.weights.h5").read_bytes())
    cases = {"nope.keras": "model not found", "labels.txt": "unsupported model file",
             "garbage.keras": "not a valid .keras file", "garbage.h5": "not a valid HDF5 file",
             "weights.h5": "cannot load the Keras model"}
    for name, message in cases.items():
        with pytest.raises(UserError, match=message) as err:
            load_keras_model(tmp_path / name)
        assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="is not a file"):
        (tmp_path / "dir.keras").mkdir()
        check_keras_file(tmp_path / "dir.keras")


def test_first_line_of_an_exception():
    assert first_line(ValueError("bad shape\n  at layer 3")) == "bad shape"
    assert first_line(ValueError("\n  padded\nmore")) == "padded"
    assert first_line(OSError()) == "OSError"
    assert first_line(OSError(), "") == ""
