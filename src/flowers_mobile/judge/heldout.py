"""The held-out images, defined once: what `convert --data D` and `parity --data D` both judge.

A labelled dataset gives its validation and test splits together (never the training split
int8 calibrates on), stratified over classes down to `parity.max_images` with `data.seed`: the
same files, in the same order, for both commands.
"""

from __future__ import annotations

from typing import Any

#: Held-out splits, in the order their images are drawn.
HELD_OUT_SPLITS = ("val", "test")


def held_out_samples(dataset: Any, cap: int, seed: int) -> tuple[list[Any], list[str]]:
    """(samples, the splits they come from) of a `data.sources` dataset: its validation and test
    splits, stratified down to `cap`; ([], []) when both are empty."""
    from flowers_mobile.data.sources import stratified_sample

    splits = [name for name in HELD_OUT_SPLITS if dataset.split(name)]
    samples = [s for name in splits for s in dataset.split(name)]
    if len(samples) > cap:
        samples = stratified_sample(samples, cap, seed)
    return samples, splits
