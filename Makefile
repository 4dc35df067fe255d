# k8sretry entry points. `make demo` runs the main job, `make test` runs every test.
# Each target installs or builds what it needs itself.

CARGO ?= cargo
PYTHON ?= python3

.PHONY: demo test test-core vectors help

help:
	@echo "make demo   - build and run the demo (a call that meets 503 + Retry-After twice, then succeeds)"
	@echo "make test   - every test-* target: $(TESTS)"

# The demo: a local HTTP server answers 503 with Retry-After twice; the engine's decisions are printed.
demo:
	$(CARGO) run --quiet -p k8sretry --example demo

# Every test-* target below (add a target here and it runs as part of `make test`).
TESTS := test-core
test: $(TESTS)
	@echo "make test: all of $(TESTS) passed"

# Core: formatting, lints, unit + property + allocation tests, and every conformance vector.
test-core:
	$(PYTHON) tests/vectors/generate.py --check
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace

# Rewrite the vector files from tests/vectors/generate.py.
vectors:
	$(PYTHON) tests/vectors/generate.py
