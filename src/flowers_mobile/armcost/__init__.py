"""ARM cost: guest instructions per image of a .tflite on an emulated phone CPU (docs/arm_cost.md).

x86 latency says little about a phone: there int8 and float32 LiteRT run at about the same speed,
on a phone's ARM core int8 costs about 0.4x. This runs LiteRT's own aarch64 wheel, on one thread,
in an arm64 Debian root under QEMU user mode (`qemu-aarch64 -L ROOT`), with a plugin that counts
the guest instructions between marks the guest makes around `invoke()` (after one warm-up invoke).
The count is deterministic, so it can be compared across exports, commits and machines.

The root is made once by `tools/fetch_arm_root.py` (cached in .cache/arm64/, or FLOWERS_ARM_ROOT),
with Debian 12's QEMU inside it where the host's cannot load plugins (Debian 13's is static);
without the root or a usable QEMU, `ArmCostUnavailable` says what is missing in one line.
"""

from flowers_mobile.armcost.runner import (
    DEFAULT_PROFILES,
    PROFILES,
    ArmCostReport,
    ArmCostUnavailable,
    ArmRoot,
    CpuProfile,
    ModelCost,
    find_root,
    measure,
    measure_files,
)

__all__ = [
    "DEFAULT_PROFILES",
    "PROFILES",
    "ArmCostReport",
    "ArmCostUnavailable",
    "ArmRoot",
    "CpuProfile",
    "ModelCost",
    "find_root",
    "measure",
    "measure_files",
]
