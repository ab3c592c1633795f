# Everything a newcomer needs: `make run` and `make test` bootstrap the virtual
# environment from the committed lock (no dependency resolution at install time).
PYTHON ?= python3
VENV   ?= .venv
UV_VERSION := 0.13.9
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

OUTPUT_DIR ?= outputs
RUN_ARGS   ?=
TEST_ARGS  ?=

IMAGE      ?= keras-tfx:local

.PHONY: run test test-fast venv browser lock lock-serving clean clean-outputs image

venv: $(STAMP)

# The stamp depends on the lock, setup.py and this file, so a changed lock reinstalls.
# --compile-bytecode writes every package's .pyc at install time: where PYTHONDONTWRITEBYTECODE
# is set (as on this project's machines) Python never caches them itself, and each process then
# compiled TensorFlow, TFX and TFMA from source again (importing TensorFlow: 12 s instead of 3 s).
$(STAMP): requirements.lock setup.py Makefile
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]' \
	  || { echo "error: '$(PYTHON)' is not Python 3.11; run: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(PY) -m uv pip install --quiet --python $(PY) --no-deps --compile-bytecode -r requirements.lock
	$(PY) -m uv pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .
	$(PY) -c "from google.protobuf.internal import api_implementation as a; t = a.Type(); assert t == 'upb', 'protobuf runs as ' + t + ', expected upb (see STACK notes in README)'"
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m pipeline run --output-dir $(OUTPUT_DIR) $(RUN_ARGS)

# Two pytest workers (pytest-xdist), each taking whole test files, so a module's shared run stays
# in one process: the e2e runs are mostly single-threaded Python (Beam's DirectRunner), and two
# of them keep both cores busy. Files go out costliest first (tests/conftest.py orders them by
# their worker_seconds mark; xdist's own reorder, by test count, would send the one-test image
# build last). `make test XDIST=` runs everything in one process.
XDIST ?= -n 2 --dist loadfile --no-loadscope-reorder

test: $(STAMP) browser
	$(PY) -m pytest $(XDIST) $(TEST_ARGS)

# The run report's test renders it in headless Chromium (Debian's package). Without root or
# apt, the browser tests are skipped, except under CI (CI set), where a missing browser fails.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package) for the report's browser test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
	  $$SUDO sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium' \
	  || { echo "warning: could not install chromium; browser tests are skipped (they fail when CI is set)"; \
	       [ -z "$$CI" ]; }; }

test-fast: $(STAMP)
	$(PY) -m pytest $(XDIST) -m "not e2e" $(TEST_ARGS)

# The steps' image (Dockerfile): docker where an engine runs, else podman on a local Debian base.
image: $(STAMP)
	bash tools/build_image.sh $(IMAGE)

# Re-resolve the lock (needs the registry); review the diff and commit it.
lock:
	$(PYTHON) -m pip install --quiet uv==$(UV_VERSION)
	bash tools/make_lock.sh

# Re-resolve the model server's own lock (KServe + a current TensorFlow; `serve` builds
# .venv-serving from it with --no-deps, and rebuilds it when the lock changes).
SERVING_DIR := pipeline/serving/server
lock-serving: $(STAMP)
	$(PY) -m uv pip compile --quiet --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  $(SERVING_DIR)/requirements.in -o $(SERVING_DIR)/requirements.lock

clean-outputs:
	rm -rf $(OUTPUT_DIR)

clean: clean-outputs
	rm -rf $(VENV) .venv-serving .venv-serving.build-lock .pytest_cache build *.egg-info
