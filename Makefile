# The README's two commands: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := build/demo

WHEELS := build/wheels

.PHONY: demo wheels test bench clean

# nb2pipe, its runtime (runtime/, installed from this checkout) and what the sample notebooks
# import: enough for the demo. uv installs them (pip puts uv in the venv first): on a fresh
# machine the test set-up takes ~30 s with uv, ~4 min with pip. UV=no installs with pip.
UV ?= yes
ifeq ($(UV),yes)
INSTALL = $(BIN)/uv pip install --quiet --python $(BIN)/python
else
INSTALL = $(BIN)/python -m pip install --quiet
endif

$(VENV)/.demo-installed: pyproject.toml runtime/pyproject.toml labextension/package.json labextension/yarn.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip $(if $(filter yes,$(UV)),uv)
	$(INSTALL) -e ./runtime -e '.[samples]'
	touch $@

# plus the test tools (JupyterLab, Playwright, DVC, MLflow, ...)
$(VENV)/.installed: $(VENV)/.demo-installed
	$(INSTALL) -e ./runtime -e '.[test]'
	touch $@

# The runtime's wheel: nb2pipe-runtime is not on the package index yet, so uv finds it here
# (`uv run --find-links build/wheels train.py`)
wheels: $(VENV)/.demo-installed
	rm -rf $(WHEELS) && mkdir -p $(WHEELS)
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir $(WHEELS) ./runtime

# Export every sample notebook to a script, run the training script twice with different
# parameters and compare the two recorded runs: what a user does on their first day.
demo: $(VENV)/.demo-installed wheels
	rm -rf $(DEMO) && mkdir -p $(DEMO) && cp -r sample_notebooks/. $(DEMO)/
	$(BIN)/nb2pipe export $(DEMO)/*.ipynb
	cd $(DEMO) && ../../$(BIN)/python train_classifier.py --help
	cd $(DEMO) && ../../$(BIN)/python train_classifier.py
	cd $(DEMO) && ../../$(BIN)/python train_classifier.py --n-estimators 10 --max-depth 2
	$(BIN)/nb2pipe runs $(DEMO) --sort accuracy
	@echo "Scripts are in $(DEMO)/; each run's record and figures in $(DEMO)/runs/"
	@echo "With uv, no install: cd $(DEMO) && uv run --find-links ../wheels train_classifier.py"

# The whole test suite, browser tests included (installs Debian's chromium when missing), in
# TEST_WORKERS processes (pytest-xdist). Each test file stays in one worker, and so does each
# folder of tests sharing a Lab server, Airflow's venv or the DVC walkthrough (tests/conftest.py).
TEST_WORKERS ?= 2
test: $(VENV)/.installed
	bash .ci/install-browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25

bench: $(VENV)/.installed
	$(INSTALL) -e '.[bench]'
	$(BIN)/python bench/bench_export.py

clean:
	rm -rf build $(VENV)
