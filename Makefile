# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv with exactly the versions of requirements/lock.txt
# (Python 3.11+, PyPI only), then run.
#
#   make demo    the example sweep, its front, the report and the dashboard
#   make test    the whole suite (what CI runs)
#   make check   the fast lane while developing: lint, units, models, doctests
#   make lock    re-resolve requirements/lock.txt and deploy/requirements.txt
#                (after changing a dependency in pyproject.toml; README.md)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DSE := $(VENV)/bin/dse
STAMP := $(VENV)/.installed
LOCK := requirements/lock.txt
# uv (from PyPI) builds the venv in seconds; INSTALLER=pip, or uv not to be
# had, falls back to pip with the same lock.
INSTALLER ?= uv
UV_VERSION := 0.13.9
UV_DIR := $(VENV)/.uv
UV := $(UV_DIR)/bin/uv
CHROMIUM ?= /usr/bin/chromium
DEMO_DIR ?= demo-results
PORT ?= 5006
PYTEST := $(PY) -m pytest -n 2 --dist loadgroup
FAST := not slow and not browser and not cluster

.PHONY: demo test check venv lint format-check chromium lock benchmarks clean

venv: $(STAMP)

# --compile-bytecode: the venv's .pyc files are written once here (pip writes them by
# default), not compiled again by every process of the suite where PYTHONDONTWRITEBYTECODE
# is set (each `dse sweep`, dask worker and LocalCluster worker: ~4 s of CPU each otherwise)
$(STAMP): pyproject.toml $(LOCK)
	@echo "setting up $(VENV) from $(LOCK) ($(INSTALLER))"
	@if [ "$(INSTALLER)" = uv ] && { [ -x $(UV_DIR)/bin/uv ] || { $(PYTHON) -m venv $(VENV) \
			&& $(PY) -m pip install -qq --disable-pip-version-check --target $(UV_DIR) "uv==$(UV_VERSION)"; }; }; then \
		$(PYTHON) -m venv $(VENV) \
		&& $(UV) pip sync --quiet --compile-bytecode --python $(PY) $(LOCK) \
		&& $(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation -e . ; \
	else \
		echo "installing with pip"; \
		$(PYTHON) -m venv --clear $(VENV) \
		&& $(PY) -m pip install -qq --disable-pip-version-check -r $(LOCK) \
		&& $(PY) -m pip install -qq --disable-pip-version-check --no-deps --no-build-isolation -e . ; \
	fi
	@touch $(STAMP)

# Re-resolve the lock from pyproject.toml: one set of versions for Python
# 3.11-3.13 (--fork-strategy fewest), then check that every pin has a Linux
# x86-64 wheel or sdist for each of them, and derive the image's pins from it.
# (needs only uv, not the venv built from the old lock)
$(UV_DIR)/bin/uv:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --disable-pip-version-check --target $(UV_DIR) "uv==$(UV_VERSION)"

lock: $(UV_DIR)/bin/uv
	$(UV) pip compile pyproject.toml requirements/build.in --extra all --universal \
		--fork-strategy fewest --python-version 3.11 --custom-compile-command "make lock" \
		--quiet -o $(LOCK)
	@for v in 3.11 3.12 3.13; do \
		$(UV) pip compile $(LOCK) --no-deps --python-version $$v --python-platform x86_64-manylinux_2_28 \
			--quiet -o /dev/null || exit 1; echo "lock resolves for Python $$v on Linux x86-64"; done
	$(UV) pip compile pyproject.toml requirements/deploy.in --extra s3 --extra gateway --universal \
		--fork-strategy fewest --python-version 3.11 -c $(LOCK) --custom-compile-command "make lock" \
		--quiet -o deploy/requirements.txt

# Debian's Chromium for the one end-to-end browser test (never a downloaded browser).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing Debian chromium for the browser test"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# Everything: what CI runs. The 25 slowest tests are listed at the end.
test: $(STAMP) chromium lint
	$(PYTEST) --durations=25

# The fast lane (< 3 min): no real clusters, browser, fault injection or load,
# and hypothesis with a fifth of its examples.
check: $(STAMP) lint
	DSE_HYPOTHESIS_SCALE=0.2 $(PYTEST) -m "$(FAST)" --durations=10

lint: $(STAMP)
	$(VENV)/bin/ruff check dse dashboards tests benchmarks tools
	$(VENV)/bin/ruff format --check dse dashboards tests benchmarks tools

# The main job: ~1.2 million designs on an embedded LocalCluster, their Pareto
# front, then the dashboard on http://localhost:$(PORT)/ (Ctrl-C to stop).
demo: $(STAMP)
	$(DSE) evaluate examples/seed001/case4.yaml
	$(DSE) sweep examples/demo_sweep.yaml -o $(DEMO_DIR)/demo.zarr --overwrite
	$(DSE) validate $(DEMO_DIR)/demo.zarr
	$(DSE) pareto $(DEMO_DIR)/demo.zarr --csv $(DEMO_DIR)/pareto_front.csv
	$(DSE) pareto $(DEMO_DIR)/demo.zarr --objective energy_density:max --objective cycle_life:max \
		--where "metal == 'Li' and stack_pressure <= 1" --no-store --top 5
	$(DSE) report $(DEMO_DIR)/demo.zarr -o $(DEMO_DIR)/report.html
	$(DSE) serve $(DEMO_DIR)/demo.zarr --port $(PORT)

benchmarks: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
