"""`training.distribute=mirrored` on two logical CPU devices (the devices must be configured before
TensorFlow initializes, so the run happens in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from flowers_mobile.data.synth import generate_dataset

SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import numpy as np
    from flowers_mobile.config import Config
    from flowers_mobile.evaluation import load_keras_model
    from flowers_mobile.training import train

    cfg = Config().with_overrides([
        "model.input_size=32", "model.alpha=0.35", "model.weights=none", "training.batch_size=8",
        "training.head_epochs=0", "training.finetune_epochs=2", "training.finetune_fraction=0.0",
        "training.distribute=mirrored"])
    result = train(Path(sys.argv[1]), Path(sys.argv[2]), cfg, progress=False)
    model = load_keras_model(result.model_path)
    probs = model.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    print("RESULT " + json.dumps({"run": result.metrics["run"], "sums": probs.sum(axis=1).tolist(),
                                  "epochs": [p["epochs"] for p in result.history["phases"]],
                                  "logical_cpus": len(tf.config.list_logical_devices("CPU"))}))
""")


@pytest.mark.slow
def test_mirrored_strategy_trains_on_two_logical_cpus(tmp_path):
    data = tmp_path / "flowers"
    generate_dataset(data, num_classes=3, per_class=12, image_size=40, seed=4)
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(data), str(out)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["logical_cpus"] == 2
    assert result["run"]["distribute"] == "mirrored" and result["run"]["replicas"] == 2
    assert result["epochs"] == [2]
    assert result["sums"] == pytest.approx([1.0, 1.0], abs=1e-5)
    assert (out / "model.keras").is_file() and not (out / "backup").exists()
