# ---------------------------------------------------------------- the Rust core (core/)
# Included by the Makefile. test-core: formatting, lints, unit + property + allocation tests and
# every conformance vector; vectors: rewrite the vector files from tests/vectors/generate.py.

.PHONY: test-core vectors

# Core: formatting, lints, unit + property + allocation tests, and every conformance vector.
test-core:
	$(PYTHON) tests/vectors/generate.py --check
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked -p k8sretry --features kube,prometheus-client --all-targets -- -D warnings
	$(CARGO) clippy --locked -p k8sretry-e2e --features e2e --all-targets -- -D warnings
	$(CARGO) test --locked --workspace --exclude k8sretry-e2e
	$(CARGO) test --locked -p k8sretry --features kube,prometheus-client

# Rewrite the vector files from tests/vectors/generate.py.
vectors:
	$(PYTHON) tests/vectors/generate.py
