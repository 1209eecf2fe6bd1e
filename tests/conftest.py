"""Shared fixtures: one synthetic dataset per session (and, as later fixtures, one tiny trained model
and its full export), so the suite trains and converts once, not once per test file."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from flowers_mobile.data.synth import generate_dataset  # noqa: E402

SYNTH_CLASSES = 5
#: Train + val images per class: 84 + 18, the training set the tiny run was tuned on.
SYNTH_PER_CLASS = 102
#: Held-out images per class, from their own seed stream: 400 in all, enough for parity to tell a
#: 1-point accuracy drop or 2% disagreement from a faithful export.
SYNTH_TEST_PER_CLASS = 80
SYNTH_SIZE = 96


def built_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """`build(folder)` run once per test session, even across pytest-xdist workers: the first worker
    to ask builds under a file lock in the folder the workers' temporary folders share, the others
    wait for it and reuse the result. A build that died half-way is started again."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # pytest-of-user/pytest-N/, this run's own, shared by gw0, gw1, ...
    folder, done = base / f"shared-{name}", base / f"shared-{name}.done"
    with open(base / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def synth_data_dir(tmp_path_factory):
    """5 classes of drawn flowers at 96 px as train/val/test folders: 84 + 18 + 80 per class."""
    def build(folder: Path) -> None:
        generate_dataset(folder / "flowers", SYNTH_CLASSES, SYNTH_PER_CLASS, SYNTH_SIZE, seed=7,
                         test_per_class=SYNTH_TEST_PER_CLASS)

    return built_once(tmp_path_factory, "synth", build) / "flowers"


@pytest.fixture(scope="session")
def trained_run_dir(synth_data_dir, tmp_path_factory):
    """The suite's one really trained model: `flowers_mobile.training.train` on the synthetic
    flowers (tiny settings, from scratch), with model.keras, labels.txt and the run's reports."""
    from tests._fixtures_training import train_tiny

    return built_once(tmp_path_factory, "run", lambda folder: train_tiny(synth_data_dir, folder / "tiny")) / "tiny"


@pytest.fixture(scope="session")
def export_dir(trained_run_dir, synth_data_dir, tmp_path_factory):
    """`convert --target all` of the shared model: every TFLite precision, Core ML (float16 plus the
    compressed variants), SavedModel, labels and manifest. Tests copy it before changing anything."""
    from flowers_mobile.config import Config
    from flowers_mobile.export.convert import convert

    def build(folder: Path) -> None:
        cfg = Config().with_overrides(["export.representative_size=100"])
        convert(trained_run_dir / "model.keras", folder / "all", cfg, targets=("all",), data_dir=synth_data_dir,
                coreml_compression=["linear8", "palette6", "palette4"], progress=False)

    return built_once(tmp_path_factory, "exports", build) / "all"


@pytest.fixture(scope="session")
def trained_and_exported(trained_run_dir, export_dir):
    """(run folder with model.keras + labels.txt, its `convert --target all` export folder)."""
    return trained_run_dir, export_dir


#: `make test` runs the suite on 2 pytest-xdist workers with `--dist loadgroup`. Every test of the
#: shared model runs on one worker, the one that builds it (trains, then converts), so the other
#: worker does not wait for it: it runs the tests that train their own models meanwhile. A long
#: test marked `any_worker` is left out of the group; run late, it finds the model built.
SHARED_MODEL_FIXTURES = frozenset({"trained_run_dir", "export_dir", "trained_and_exported"})


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the group marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("any_worker") is None and \
                SHARED_MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("shared_model"))
    # The order the two workers take tests in (`--dist loadgroup` hands out work in collection
    # order): the shared model's group first, so one worker starts building it at once; then the
    # modules with slow tests that train or convert their own models, so that the other worker is
    # busy with them meanwhile and no minute-long test starts last while the other idles; then
    # the modules with long `any_worker` tests, which by then find the shared model built (they
    # wait for it otherwise); then the rest, short tests that fill in at the end. A module keeps
    # its tests together (its module-scoped fixtures are built once per worker).
    module_rank: dict[str, int] = {}
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            rank = 2 if item.get_closest_marker("any_worker") else 1 if item.get_closest_marker("slow") else 3
            module_rank[item.nodeid.split("::")[0]] = min(rank, module_rank.get(item.nodeid.split("::")[0], 3))
    items.sort(key=lambda item: 0 if item.get_closest_marker("xdist_group") is not None
               else module_rank[item.nodeid.split("::")[0]])  # stable: collection order within a rank
