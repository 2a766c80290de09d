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

demo: $(STAMP)
	$(DSE) --version
	@for f in examples/seed001/case4.yaml examples/nmc811_dual_salt.yaml; do $(DSE) evaluate $$f; done

lint: $(STAMP)
	$(VENV)/bin/ruff check dse dashboards tests benchmarks

benchmarks: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
