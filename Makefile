# Two entry points: `make demo` (main job) and `make test` (whole test suite).
# Both create .venv and install the CPU build of torch first: a plain `pip install torch`
# would pull several GB of CUDA packages. GPU users: see README ("Using a GPU").
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0

.PHONY: demo test install browser clean

$(BIN)/boltzkit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/boltzkit

demo: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(BIN)/boltzkit demo --out runs/demo

# The report's browser test needs Debian's chromium; install it where we can (root + apt),
# otherwise that one test is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: the browser test of the report will be skipped"; \
	  else echo "chromium not found: the browser test of the report will be skipped"; fi; }

test: install browser
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(BIN)/python -m pytest tests

clean:
	rm -rf $(VENV) runs
