"""One `Predictor` interface over every runtime; `load_predictor` picks one from the file."""

from flowers_mobile.runtimes.base import Predictor, load_predictor, register_runtime, runtime_names

__all__ = ["Predictor", "load_predictor", "register_runtime", "runtime_names"]
