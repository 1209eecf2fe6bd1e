"""Phase 2: the top `finetune_fraction` of backbone layers unfreeze, the learning rate is
`finetune_lr_factor` times the head's, and the images go through the full augmentation."""

from __future__ import annotations

import time

from flowers_mobile.config import Config
from flowers_mobile.data.sources import Dataset
from flowers_mobile.model import (
    SCRATCH_BATCHNORM_MOMENTUM,
    build_classifier,
    set_batchnorm_momentum,
    unfreeze_top,
)
from flowers_mobile.training.context import RunContext, loss, metrics, optimizer, tensorboard
from flowers_mobile.training.progress import keras_callback
from flowers_mobile.training.state import PhaseState, checkpoint_callback

#: A validation split up to this size is evaluated as one batch (one trace of the test step).
VAL_SINGLE_BATCH = 256


def run_finetune_phase(ctx: RunContext, model) -> tuple[PhaseState, list[str]]:
    """Fine-tune `model` in place (weights back into it); returns the state and the unfrozen layers."""
    tc, mw, rep = ctx.cfg.training, ctx.mw, ctx.rep
    ft_state = PhaseState(ctx.backup / "finetune", tc.finetune_epochs, tc.early_stopping_patience)
    if tc.finetune_epochs <= 0:
        return ft_state, []
    t = time.perf_counter()
    steps_per_epoch = len(ctx.dataset.train) // tc.batch_size
    ft_model, trainable_layers = finetune_model(model, ctx.cfg, ctx.num_classes, ctx.bn, ctx.scratch, ctx.mixed,
                                                ctx.strategy, steps_per_epoch, build=mw is not None)
    if ft_state.restore(ft_model):
        ctx.resumed["finetune"] = ft_state.epoch
        rep.note(f"resume: phase 2 from epoch {ft_state.epoch + 1}/{tc.finetune_epochs}")
    if not ft_state.done and mw:
        mw.fit_finetune(ft_model, ctx.dataset, ctx.cfg,
                        mw.phase("phase 2: fine-tune", tc.finetune_epochs, steps_per_epoch, ctx.num_classes,
                                 ctx.cfg, ctx.class_weight, ctx.out_dir / "logs" / "finetune"),
                        ft_state, rep)
    elif not ft_state.done:
        train_ds, val_ds, steps = image_datasets(ctx.dataset, ctx.cfg, ctx.num_classes, ctx.n_replicas)
        ft_model.fit(train_ds, validation_data=val_ds, epochs=tc.finetune_epochs,
                     initial_epoch=ft_state.epoch, verbose=0, class_weight=ctx.class_weight,
                     shuffle=False,  # the dataset reshuffles itself every epoch
                     callbacks=[checkpoint_callback(ft_state),
                                keras_callback(rep, "phase 2: fine-tune", tc.finetune_epochs, ft_state.epoch, steps),
                                tensorboard(ctx.out_dir / "logs" / "finetune")])
    ft_state.restore_best(ft_model)
    model.set_weights(ft_model.get_weights())  # back into the float32, uncompiled model
    ctx.seconds["finetune"] = time.perf_counter() - t
    return ft_state, trainable_layers


def finetune_model(model, cfg: Config, num_classes: int, bn: str, scratch: bool, mixed: bool, strategy,
                   steps_per_epoch: int, build: bool = False):
    """The phase-2 model, built in the strategy's scope (and mixed precision), weights from `model`;
    with `build` its optimizer's slots too (the custom loop's resume loads them before any step)."""
    import keras

    tc = cfg.training
    with strategy.scope():
        if mixed:
            keras.mixed_precision.set_dtype_policy("mixed_float16")
        try:
            ft = build_classifier(cfg.model, num_classes, batchnorm_inference=bn == "frozen")
        finally:
            keras.mixed_precision.set_dtype_policy("float32")
        ft.set_weights(model.get_weights())
        names = unfreeze_top(ft, tc.finetune_fraction, freeze_batchnorm=bn == "frozen")
        if bn == "train" and scratch:
            set_batchnorm_momentum(ft, SCRATCH_BATCHNORM_MOMENTUM)
        ft.compile(optimizer=optimizer(tc.head_learning_rate * tc.finetune_lr_factor, tc.lr_schedule,
                                       steps_per_epoch * tc.finetune_epochs),
                   loss=loss(tc.label_smoothing), metrics=metrics(num_classes))
        if build:
            ft.optimizer.build(ft.trainable_variables)
    return ft, names


def image_datasets(dataset: Dataset, cfg: Config, num_classes: int, n_replicas: int):
    """The training (augmented, reshuffled, full batches) and validation tf.data pipelines."""
    import tensorflow as tf

    from flowers_mobile.data.pipeline import make_tf_dataset

    tc = cfg.training
    size = cfg.model.input_size

    def to_one_hot(x, y):
        return x, tf.one_hot(y, num_classes)

    # Every training batch full: one trace of the train step instead of two (a trace of
    # MobileNetV2's train step costs tens of seconds with the pure-Python protobuf this stack
    # has), and equal batches on every replica. The split is reshuffled each epoch, so the few
    # images left over are different ones each time.
    train_ds = make_tf_dataset(dataset.train, size, tc.batch_size, training=True, data_cfg=cfg.data,
                               seed=tc.seed, drop_remainder=True, deterministic=tc.deterministic).map(to_one_hot)
    # The validation split in one batch when it is small: one trace of the test step too.
    n_val = len(dataset.val)
    val_bs = n_val if n_val <= VAL_SINGLE_BATCH else max(tc.batch_size, 64)
    val_ds = make_tf_dataset(dataset.val, size, val_bs, training=False, data_cfg=cfg.data).map(to_one_hot)
    return train_ds, val_ds, len(dataset.train) // tc.batch_size
