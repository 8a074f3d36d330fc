# Two entry points: `make demo` (main job) and `make test` (whole test suite).
# Both create .venv and install the CPU build of torch first: a plain `pip install torch`
# would pull several GB of CUDA packages. GPU users: see README ("Using a GPU").
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0

.PHONY: demo test install clean

$(BIN)/boltzkit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/boltzkit

demo: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(BIN)/boltzkit demo --out runs/demo

test: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(BIN)/python -m pytest tests

clean:
	rm -rf $(VENV) runs
