"""Progress reaches the terminal through one callback: the library reports events, only
`commands/` imports rich; convert's steps report through it. (A real training run's events:
test_training_reproducible.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

import flowers_mobile
from flowers_mobile.export.steps import Steps
from flowers_mobile.progress import ProgressEvent, Reporter

SRC = Path(flowers_mobile.__file__).parent


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_rich_is_imported_only_in_the_command_layer():
    users = {p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py") if "rich" in _imports(p)}
    assert users, "no module imports rich: the scan is broken"
    assert {u for u in users if not u.startswith("commands/")} == set()


def test_a_silent_reporter_calls_nothing_and_a_callback_gets_every_event_in_order():
    assert Reporter(None).task("x", total=1) is None
    Reporter(None).note("nothing happens")
    events: list[ProgressEvent] = []
    rep = Reporter(events.append)
    rep.note("hello")
    task = rep.task("phase", total=3)
    rep.update(task, completed=2, info="loss 0.5")
    rep.remove(task)
    assert [e.kind for e in events] == ["note", "start", "update", "remove"]
    assert events[0].text == "hello" and events[1].text == "phase" and events[1].total == 3
    assert {e.task for e in events[1:]} == {task} and events[2].completed == 2 and events[2].info == "loss 0.5"


def test_convert_steps_are_timed_and_each_stops_when_done():
    events: list[ProgressEvent] = []
    with Steps(events.append) as steps:
        with steps.step("load"):
            pass
        handle = steps.start("int8")
        steps.finish(handle)
    assert list(steps.seconds) == ["load", "int8"]
    assert [(e.kind, e.text) for e in events if e.kind == "start"] == [("start", "load"), ("start", "int8")]
    assert [e.kind for e in events] == ["start", "update", "stop"] * 2
    with Steps(None) as silent, silent.step("load"):
        pass
    assert list(silent.seconds) == ["load"]
