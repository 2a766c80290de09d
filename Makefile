# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv with everything dse needs (Python 3.11+, PyPI only).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DSE := $(VENV)/bin/dse
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
DEMO_DIR ?= demo-results
PORT ?= 5006

.PHONY: demo test venv lint chromium benchmarks clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

# Debian's Chromium for the one end-to-end browser test (never a downloaded browser).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing Debian chromium for the browser test"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

test: $(STAMP) chromium
	$(PY) -m pytest -n 2 --dist loadfile

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

lint: $(STAMP)
	$(VENV)/bin/ruff check dse dashboards tests benchmarks

benchmarks: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
