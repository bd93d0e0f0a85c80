# All set-up happens here: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# torch is pinned explicitly: an unpinned torch would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0
# The offline dataset copies, when this checkout sits beside them; otherwise loaders use the user cache.
ifneq ($(wildcard ../shared/datasets),)
export TSDIFF_DATA ?= $(abspath ../shared/datasets)
endif
# Two cores: spinning OpenMP workers slow everything down when the other core is busy.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: install demo test test-fast bench-quick bench speed clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m experiments.demo

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

# Both benchmark targets end with the sampling speed study (quick preset unless SPEED_PRESET is set).
SPEED_PRESET ?= quick

bench-quick: install
	$(PY) -m experiments.bench --preset quick
	$(MAKE) speed

bench: install
	$(PY) -m experiments.bench --preset paper
	$(MAKE) speed

# Sampling time vs accuracy (ddpm/ddim) and batched vs batch-1 sampling -> experiments/results/speed/speed.{json,md,png}
speed: install
	$(PY) -m experiments.speed --preset $(SPEED_PRESET) --threads 1

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
