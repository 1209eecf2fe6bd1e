"""Training: two-phase transfer learning (head on cached features, then fine-tuning), resumable.

Public API: `train`, `TrainResult`, `compute_class_weights`.
"""

from flowers_mobile.training.run import TrainResult, compute_class_weights, train

__all__ = ["TrainResult", "compute_class_weights", "train"]
