"""Progress written to a file or a pipe (a log, CI) is plain lines: one per epoch, step or
finished count, nothing per batch, never a live display's frames. Instant."""

from __future__ import annotations

from flowers_mobile.commands.progress_view import RichProgress
from flowers_mobile.progress import Reporter


def test_training_progress_is_one_line_per_epoch_in_a_log(capsys):
    with RichProgress("bars") as view:
        assert view.lines  # pytest's captured stderr is no terminal
        rep = Reporter(view)
        rep.note("data: 5 classes")
        features = rep.task("features (x1 train)", total=64)
        for n in range(1, 65):
            rep.update(features, completed=n)
        epochs = rep.task("phase 1: head", total=2)
        batches = rep.task("  batches", total=14)
        for epoch in range(2):
            rep.update(batches, completed=0, info="")
            for b in range(14):
                rep.update(batches, completed=b + 1, info=f"loss {1.9 - b / 100:.3f}")
            rep.update(epochs, completed=epoch + 1, info=f"epoch {epoch + 1}: loss 1.{7 - epoch}00  val_accuracy 0.3{epoch}0")
        rep.remove(batches)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "data: 5 classes"
    assert lines[1].startswith("features (x1 train) 64/64 done (")
    assert lines[2].startswith("phase 1: head 1/2: epoch 1: loss 1.700  val_accuracy 0.300 (")
    assert lines[3].startswith("phase 1: head 2/2: epoch 2: loss 1.600  val_accuracy 0.310 (")
    assert len(lines) == 4  # no batch lines, no frames
    assert not any("\r" in line or "\x1b" in line or "━" in line for line in lines)


def test_convert_steps_are_one_line_each_when_done(capsys):
    with RichProgress("steps") as view:
        rep = Reporter(view)
        for name in ("load model.keras", "TFLite float32 and a name longer than eighty columns " + "x" * 60):
            task = rep.task(name, total=1)
            rep.update(task, completed=1)
            rep.stop(task)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == ["✓ load model.keras",
                                                       "✓ TFLite float32 and a name longer than eighty columns " + "x" * 60]
