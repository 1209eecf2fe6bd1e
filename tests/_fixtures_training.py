"""A tiny trained model for the whole test session: `train_tiny(data_dir, out_dir)`.

Trained from scratch (``weights=none``, offline) on the synthetic flowers with settings chosen to
be confidently right on them: input 64, every backbone layer trained with batch statistics,
batch 16, Adam 3e-3 with cosine decay, 40 epochs: trained to convergence, because an unconverged
from-scratch model is chaotic across machines (16 epochs on 5 x 60 images gave 98% validation
accuracy here and 87% on the CI machine). On conftest's 5 classes x 120 images it reaches 100%
validation and test accuracy in about 195 s on 2 cores (measured): a MobileNetV2 train-step trace
of tens of seconds, then about 2.5 s per epoch.
"""

from __future__ import annotations

from pathlib import Path

#: `--set` overrides of the tiny run (also usable on the command line).
TINY_OVERRIDES = [
    "model.input_size=64",
    "model.alpha=0.35",
    "model.weights=none",
    "model.dropout=0.1",
    "training.batch_size=16",
    "training.head_epochs=2",
    "training.head_learning_rate=0.003",
    "training.finetune_epochs=40",
    "training.finetune_fraction=1.0",
    "training.finetune_lr_factor=1.0",
    "training.early_stopping_patience=0",
    "training.lr_schedule=cosine",
    "training.distribute=none",
    "training.seed=42",
]


def tiny_config():
    """The Config of the tiny run (defaults, then TINY_OVERRIDES; no config file is read)."""
    from flowers_mobile.config import Config

    return Config().with_overrides(TINY_OVERRIDES)


def train_tiny(data_dir: Path, out_dir: Path) -> Path:
    """Train the tiny model on `data_dir` into `out_dir`; return the run folder.

    The run folder holds model.keras, labels.txt, config.json, metrics.json, history.json and the
    plots. conftest's session fixture `trained_run_dir` calls this once; tests use that fixture.
    """
    from flowers_mobile.training import train

    return train(Path(data_dir), Path(out_dir), tiny_config(), progress=False).out_dir


__all__ = ["TINY_OVERRIDES", "tiny_config", "train_tiny"]
