# `make demo`: set up and run the whole pipeline offline against the bundled replica hub.
# `make test`: set up, then lint, format check and every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PY_SOURCES := hfharvest scripts tests bench ci

.PHONY: setup demo test lint format check-format pytest clean

# The package's bytecode, as pip writes it for a regular install (an editable one has none): where
# PYTHONDONTWRITEBYTECODE is set (containers often set it) every job would compile hfharvest
# from source, 0.02-0.05 s of each job's start. Only what changed since is compiled again.
setup: $(STAMP)
	$(BIN)/python -m compileall -q hfharvest

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

demo: setup
	$(BIN)/snakemake --configfile config/demo.yaml
# A fixed disk_mb: Snakemake's default one (from input sizes) warns "never awaited" in --report.
	$(BIN)/snakemake --configfile config/demo.yaml --report report.html --quiet all \
		--default-resources mem_mb=1024 runtime=30 disk_mb=1000
	@$(BIN)/python -m hfharvest.stages.summary data/demo/1_raw/hf/demo/summary.json
	@echo "descendants of meta-llama/Llama-3.1-8B (data/demo/2_normalized/hf/demo/catalogue.duckdb):"
	@$(BIN)/python -m hfharvest.normalize.catalogue data/demo/2_normalized/hf/demo/catalogue.duckdb \
		descendants run_id=demo model=meta-llama/Llama-3.1-8B
	@echo "report: report.html; replica request counts: data/demo/logs/demo/replica_stats.json"

test: setup lint check-format pytest

lint:
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/snakemake --lint --configfile config/demo.yaml

check-format:
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/snakefmt --check Snakefile rules

format:
	$(BIN)/ruff format $(PY_SOURCES)
	$(BIN)/snakefmt Snakefile rules

pytest:
	$(BIN)/python -m pytest -q

clean:
	rm -rf data/1_raw data/2_normalized data/logs data/benchmarks data/demo .snakemake

# `make test-slurm` (as root): a real one-node SLURM cluster on this machine, the offline pipeline
# through it and locally, outputs compared; see ci/slurm/README.md.
.PHONY: test-slurm
test-slurm: setup
	$(BIN)/python -m pip install --quiet -e '.[dev,slurm]'
	bash ci/slurm/run_test.sh

# `make test-postgres` (as root): a throwaway PostgreSQL cluster on 127.0.0.1 (Debian's package),
# the run's tables loaded into it and queried; see ci/postgres/README.md.
.PHONY: test-postgres
test-postgres: setup
	bash ci/postgres/run_test.sh

# `make bench`: Hub requests, wall time and peak memory against replica hubs (bench/README.md);
# `make bench BENCH_ARGS=--quick` for a smoke run, `BENCH_ARGS="--scenario cold"` for one.
# The whole workflow at scale, cold and warm, projected to 1.5M models (20 000 by default):
# `make bench BENCH_ARGS="--scenario hub-scale --n 100000 --n 300000 --bulk"`.
BENCH_ARGS ?=
.PHONY: bench
bench: setup
	$(BIN)/python bench/run.py $(BENCH_ARGS)
