# ---------------------------------------------------------------- Python binding (maturin, abi3 wheel)
# Included by the Makefile. wheel (maturin, into WHEELS), py-env (the test venv PY_TEST with the
# wheel and the real clients), test-python. Shared variables from the Makefile: PY_TOOLS, PY_TEST,
# WHEELS.

PY_EXTRA := ../examples ../bench ../tests/e2e/python ../tests/cluster ../tests/vectors/generate.py ../tests/readme
PY_TEST_DEPS := kubernetes==37.0.2 kubernetes_asyncio==36.1.0 aiohttp==3.14.5 pytest==9.2.0 mypy==2.4.1 ruff==0.17.6 structlog==26.1.0 kopf==1.45.2 prometheus-client==0.26.0 anyio==4.16.0 opentelemetry-sdk==1.45.2 lightkube==1.0.1 kr8s==0.20.15 httpx==0.28.1 httpx2==2.17.0

MATURIN_VERSION := $(shell sed -n 's/^maturin==\([^ ]*\).*/\1/p' tools/requirements/maturin.txt)

.PHONY: wheel py-env test-python

wheel:
	@# maturin pinned by version and SHA-256 (tools/requirements/maturin.txt, the same pin as
	@# tools/requirements/dist.txt); a venv with another maturin gets this one.
	@$(PY_TOOLS)/bin/maturin --version 2>/dev/null | grep -qx "maturin $(MATURIN_VERSION)" || { \
	  { test -x $(PY_TOOLS)/bin/pip || $(PYTHON) -m venv $(PY_TOOLS); } && \
	  $(PY_TOOLS)/bin/pip install -q --require-hashes -r tools/requirements/maturin.txt; }
	rm -rf $(WHEELS)
	cd bindings-python && $(CURDIR)/$(PY_TOOLS)/bin/maturin build --locked --release --quiet --out $(CURDIR)/$(WHEELS)
	cd bindings-python && $(CURDIR)/$(PY_TOOLS)/bin/maturin sdist --out $(CURDIR)/$(WHEELS)

# The wheel installed into a fresh virtualenv with the real clients (never the source tree).
py-env: wheel
	$(PYTHON) -m venv --clear $(PY_TEST)
	$(PY_TEST)/bin/pip install -q $(WHEELS)/k8sretry-*.whl $(PY_TEST_DEPS)

# pytest includes mypy --strict on a user's script (bindings-python/tests/test_typing.py) and the
# sdist's contents (K8SRETRY_WHEELS).
test-python: py-env
	cd bindings-python && $(CURDIR)/$(PY_TEST)/bin/ruff check python tests $(PY_EXTRA) && $(CURDIR)/$(PY_TEST)/bin/ruff format --check python tests $(PY_EXTRA)
	cd /tmp && $(CURDIR)/$(PY_TEST)/bin/python -m mypy.stubtest k8sretry
	cd /tmp && K8SRETRY_WHEELS=$(CURDIR)/$(WHEELS) $(CURDIR)/$(PY_TEST)/bin/python -m pytest -q -p no:cacheprovider $(CURDIR)/bindings-python/tests
	$(PY_TEST)/bin/python examples/python/decorator.py
