# Sweeplab — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint pytest system-deps bench monkey screenshots clean dist test-dist gpu-check

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(STAMP)

## run: create .venv, install, open the app on the demo experiment (embedded SQLite)
run: $(STAMP)
	$(BIN)/python -m app gui --demo

## test: install what the tests need (Debian packages too), lint, run the whole suite
test: $(STAMP) system-deps lint pytest

system-deps:
	@scripts/ensure-system-packages.sh

lint: $(STAMP)
	$(BIN)/ruff check app tests bench examples devtools scripts
	$(BIN)/mypy app
	$(BIN)/lint-imports

# Two workers: most tests wait on trial processes, sshd or Slurm rather than compute,
# so two at a time on two cores take ~2/3 of the time; each test module stays on one
# worker (its module fixtures are made once). TEST_WORKERS=auto uses every core.
# The tests marked `bundle` need the built bundle (a PyInstaller build, minutes on two
# cores): make test-dist runs them, and pytest's summary counts them as deselected here.
# A worker that dies (a crash, or pytest-timeout ending a hung test) ends the run, naming
# the test it died in: pytest-xdist 3.8's loadscope scheduler, given a replacement
# worker, can wait for good (pytest-xdist#1378; CI once ran into its 90 minutes so).
TEST_WORKERS ?= 2
pytest: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder \
		--max-worker-restart 0 -m 'not bundle'
	@echo "make test left out the tests marked 'bundle' (tests/bundle/test_dist.py): make test-dist runs them"

## bench: every benchmark under bench/ (bench/run_all.py; about an hour on 2 cores); their
## RESULT lines, each after its command, go to bench/results/<date>.txt under the commit and
## machine, which docs/PERFORMANCE.md quotes. BENCH_ARGS='--quick' for smoke sizes,
## BENCH_ARGS='--only dispatch startup' for some (bench/run_all.py --list names them)
bench: $(STAMP) system-deps
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

## monkey: the short monkey tests (a 12 s monkey per seed, also in make test), then random
## input on a window running real trials, 3 seeds x 3 minutes (bench/monkey.py). MONKEY_ARGS="--minutes 10
## --seeds 5" for longer.
MONKEY_ARGS ?=
monkey: $(STAMP)
	$(BIN)/python -m pytest -q tests/views/test_monkey.py
	$(BIN)/python bench/monkey.py $(MONKEY_ARGS)

## dist: the Linux bundle in dist/sweeplab/ (PyInstaller, installers/sweeplab.spec) and its tarball
dist: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dist]'
	$(BIN)/python -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build \
		installers/sweeplab.spec
	installers/linux/make_tarball.sh

## test-dist: build the bundle, then start it offscreen with --smoke (tests/bundle, `bundle` marker)
test-dist: dist
	SWEEPLAB_TEST_BUNDLE=dist/sweeplab $(BIN)/python -m pytest -q -m bundle tests/bundle

## gpu-check: on a machine with an NVIDIA GPU, check GPU discovery, placement and readings
## against the driver (scripts/gpu-check; uses the existing .venv, installs nothing)
gpu-check:
	scripts/gpu-check

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

## screenshots: render docs/screenshots/ (under Xvfb when xvfb-run is installed)
screenshots: $(STAMP)
	@scripts/ensure-xvfb.sh
	QT_QPA_PLATFORM=xcb xvfb-run -a $(BIN)/python scripts/screenshots.py
