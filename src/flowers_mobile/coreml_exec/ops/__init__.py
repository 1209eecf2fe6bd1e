"""The executor's ops, one module per family (as coremltools' MIL op definitions are split).

Importing this package registers every op in `flowers_mobile.coreml_exec.registry`; `OPS`
maps each op name to the function of its newest registration (for tests and quick use).
"""

from flowers_mobile.coreml_exec.ops import (  # noqa: F401 - imported to register their ops
    activation,
    classify,
    constexpr,
    conv,
    elementwise,
    linalg,
    normalization,
    pooling,
    reduce,
    shape,
)
from flowers_mobile.coreml_exec.ops.common import CAST_DTYPES
from flowers_mobile.coreml_exec.ops.conv import conv_pads
from flowers_mobile.coreml_exec.registry import newest_functions

OPS = newest_functions()

__all__ = ["CAST_DTYPES", "OPS", "conv_pads"]
