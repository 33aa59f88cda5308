# `make demo` and `make test` set up .venv on first use, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_DIR ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: demo test install benchmarks clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/infoplane run szt-tanh --out $(RUN_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Timing runs; each script prints its table and bench_te_matrix.py also updates docs/benchmarks.md.
benchmarks: $(STAMP)
	$(BIN)/python benchmarks/bench_te_matrix.py
	$(BIN)/python benchmarks/bench_mi.py
	$(BIN)/python benchmarks/bench_recorder.py

clean:
	rm -rf $(VENV) build src/*.egg-info
