# One-command set-up and checks. Every target first creates or refreshes .venv (idempotent).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# mmcv's CUDA ops are built only where the machine has CUDA.
FORCE_CUDA ?= $(shell $(PY) -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)

.PHONY: venv test test-fast quickstart benchmark clean

venv: $(VENV)/.ready

$(VENV)/.ready: setup.py Makefile $(wildcard mmvision_mamba/ops/csrc/*)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install torch==2.13.0
	$(PIP) install "setuptools<81" wheel ninja
	$(PIP) install mmengine==0.10.7
	$(PY) -c "import mmcv.ops" 2>/dev/null || \
	  MMCV_WITH_OPS=1 FORCE_CUDA=$(FORCE_CUDA) $(PIP) install --no-build-isolation mmcv==2.1.0
	$(PIP) install mmdet==3.3.0 mmsegmentation==1.2.2 ftfy regex
	$(PIP) install --no-build-isolation -e ".[dev]"
	touch $@

test: venv
	$(PY) -m pytest -q

test-fast: venv
	$(PY) -m pytest -q -m "not e2e"

quickstart: venv
	$(PY) tools/quickstart.py

benchmark: venv
	$(PY) tools/benchmark.py

clean:
	rm -rf $(VENV) build *.egg-info
