VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test lint demo bench gpu-check clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The pinned CPU torch first, so that nothing below pulls a CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[train,dev]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/ruff format --check src tests scripts

test: lint
	$(VENV)/bin/pytest -q -n 2 --dist loadfile

demo: $(STAMP)
	$(PY) scripts/demo.py

bench: $(STAMP)
	$(PY) scripts/benchmark.py

# On a CUDA machine: its own venv with a CUDA torch, the GPU tests, `benchmark.py --device cuda` (see BENCHMARKS.md).
gpu-check:
	bash scripts/gpu_check.sh

clean:
	rm -rf $(VENV) demo_output
