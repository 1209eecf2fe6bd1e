# Quick start: `make demo` (offline end-to-end run) and `make test`. Both install what they need.
SHELL := /bin/bash
PY := .venv/bin/python
FM := .venv/bin/flowers-mobile
DEMO_DATA := data/synth
DEMO_RUN := models/demo
DEMO_CONFIG := configs/demo.json
# `make demo SEED=7`: another seed for the synthetic images, the split and training, given to
# every verb that reads the config (the same seed reproduces the same run).
SEED ?=
# `make test TEST_WORKERS=0`: the Python suite in one process (default: 2 pytest-xdist workers).
TEST_WORKERS ?= 2
DEMO_SET := --config $(DEMO_CONFIG)$(if $(SEED), --set data.seed=$(SEED) --set training.seed=$(SEED))

.PHONY: setup arm-root demo test test-python test-swift test-kotlin lint clean

## setup: .venv with the pinned packages, on the newest Python 3.10-3.13 that runs (no root needed).
## PYTHON=/path/to/python3.X chooses one. The Task Library runtime (Python <= 3.11): TASK_LIBRARY=1 bash tools/setup.sh
setup: .venv/.installed

.venv/.installed: pyproject.toml constraints.txt tools/setup.sh tools/fetch_fixtures.py
	bash tools/setup.sh

## demo: synthetic data -> train -> convert (every target) -> parity -> benchmark -> bundle, offline.
## SEED=N (optional) changes data.seed and training.seed for every step.
demo: setup
	$(FM) data synth $(DEMO_DATA) $(DEMO_SET)
	$(FM) data check $(DEMO_DATA) $(DEMO_SET)
	$(FM) train --data $(DEMO_DATA) --out $(DEMO_RUN) $(DEMO_SET)
	$(FM) convert --model $(DEMO_RUN)/model.keras --target all --data $(DEMO_DATA) --out $(DEMO_RUN)/export $(DEMO_SET)
	$(FM) parity --model $(DEMO_RUN)/model.keras --exports $(DEMO_RUN)/export --data $(DEMO_DATA) $(DEMO_SET)
	$(FM) benchmark --exports $(DEMO_RUN)/export --model $(DEMO_RUN)/model.keras
	$(FM) bundle --exports $(DEMO_RUN)/export --platform all

## test: Python tests (real training, conversion, parity) and, beside them, the apps'
## platform-independent logic (Swift, Kotlin): the Debian packages first (one apt run), then the
## ARM root, then the three suites side by side (tools/test_all.sh).
test: setup
	bash tools/test_debs.sh
	$(MAKE) --no-print-directory arm-root
	bash tools/test_all.sh $(TEST_WORKERS)

## arm-root: the arm64 root the ARM cost runner counts instructions in (.cache/arm64/, once, about
## a minute and 325 MB): Debian's qemu-user, gcc and debootstrap through apt (sudo when not root).
## make test needs it; make demo's benchmark adds its ARM column when it is there.
arm-root: setup
	$(PY) tools/fetch_arm_root.py --install-debs

test-python: setup arm-root
	bash tools/test_debs.sh
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

test-swift:
	bash tools/test_swift.sh

test-kotlin:
	bash tools/test_kotlin.sh

lint: setup
	.venv/bin/ruff check src tests tools

clean:
	rm -rf $(DEMO_RUN) $(DEMO_DATA) .pytest_cache
