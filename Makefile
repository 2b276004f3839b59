# The README's commands. Each target builds what it needs, idempotently:
# a virtualenv in .venv, the Rust extension (release mode, built once per change).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_DEPS := $(VENV)/.deps-installed
STAMP_EXT := $(VENV)/.ext-built
RUST_SOURCES := $(shell find rust -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock pyproject.toml

.PHONY: demo test lint test-rust test-stubs test-python bench soak fuzz dev clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_DEPS): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet "maturin>=1.9.4,<2" "ray>=2.50,<3" "msgpack>=1.0" "cbor2>=5.6" "cryptography>=42" \
		"httptools>=0.6" "rich>=13" "matplotlib>=3.8" "pytest>=8" "pytest-benchmark>=4" "hypothesis>=6.100" "mypy>=1.10" "ruff>=0.6"
	touch $@

# The extension, in release mode (benchmarks use the same build).
$(STAMP_EXT): $(STAMP_DEPS) $(RUST_SOURCES)
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/maturin develop --release --quiet
	touch $@

dev: $(STAMP_EXT)

demo: $(STAMP_EXT)
	$(PY) -m mimi.cli demo

# A clean build: rustc and clippy warnings fail, as do ruff's and mypy's findings.
lint: $(STAMP_DEPS)
	cargo clippy --release --workspace --all-targets --quiet -- -D warnings
	$(VENV)/bin/ruff check python tests benches
	$(PY) -m mypy

test-rust:
	cargo test --release -p mimi-core --quiet

test-stubs: $(STAMP_EXT)
	$(PY) -m mypy.stubtest mimi._core

test-python: $(STAMP_EXT)
	$(PY) -m pytest -q

test: lint test-rust test-stubs test-python

# The raw pytest-benchmark JSON (every round's timing, megabytes) stays in the git-ignored
# bench-results/; docs/results/ gets its summary without the samples, and the table.
bench: $(STAMP_EXT)
	mkdir -p docs/results bench-results
	run=bench-$$(date -u +%Y%m%d-%H%M%S); raw=bench-results/$$run.json; out=docs/results/$$run; \
	$(PY) -m pytest benches -o python_files='bench_*.py' -q --benchmark-json=$$raw && \
	$(PY) benches/strip.py $$raw $$out.json && \
	$(PY) benches/report.py $$out.json > $$out.md && echo "wrote $$out.json and $$out.md (raw: $$raw)"

# The faults of tests/test_faults.py for about 10 minutes (not part of `make test`): two rooms
# of 10 members across 3 providers at 20 msg/s for 8 minutes, 40 client-host kills, 8 kills of
# the rooms' hubs and 12 of the providers (4 each), 8 adds, 8 removes and 4 re-adds (of removed
# users) per room, adds racing removes; then the Ray fault tests of `make test` again.
# Exits non-zero if anything acknowledged is lost or duplicated; `timeout`
# bounds it should a restart hang. SEED=n draws other moments; the report and plots go to
# loadtest-results/soak-<time>.
SEED ?= 1
soak: $(STAMP_EXT)
	timeout 1200 $(PY) -m mimi.cli loadtest --providers 3 --rooms 2 --members 10 --rate 20 --duration 480 \
		--drain 120 --faults kill-hosts:40,kill-hub:8,kill-providers:12,adds:8,removes:8,readds:4,seed:$(SEED) \
		--no-progress --out loadtest-results/soak-$$(date -u +%Y%m%d-%H%M%S)
	$(PY) -m pytest -q tests/test_faults.py

# The fuzz suite of tests/test_fuzz.py for about 10 minutes (`make test` runs it with 500
# calls per endpoint, about a minute): FUZZ_ITERATIONS calls per endpoint, from seed SEED.
# A failure names the seed and the input; FUZZ_SEED=n with pytest reruns it.
FUZZ_ITERATIONS ?= 8000
fuzz: $(STAMP_EXT)
	FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) FUZZ_SEED=$(SEED) $(PY) -m pytest -q -s tests/test_fuzz.py

# ejabberd's MUC and mimi side by side (installs and starts ejabberd on 127.0.0.1; minutes).
.PHONY: bench-peers
bench-peers: $(STAMP_EXT)
	$(PY) benches/peers/run.py

clean:
	rm -rf $(VENV) target
