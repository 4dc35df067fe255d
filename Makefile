# k8sretry entry points. `make demo` runs the main job, `make test` runs every test.
# Each target installs or builds what it needs itself; the Debian packages come from `make deps`
# (mk/deps.mk), which `make test` and `make demo` run first.
#
# This file: the variables the parts share, help (one line per target; test-readme checks it),
# demo, test, test-readme and the TESTS list. Each part's own
# targets and variables are in mk/:
#   mk/deps.mk        deps: the Debian packages every target needs
#   mk/core.mk        test-core, vectors: the Rust core
#   mk/c.mk           the C ABI (libk8sretry): lib, header, check-header, test-c, stage, install
#   mk/go.mk          the Go binding: go-lib, test-go
#   mk/python.mk      the Python binding: wheel, py-env, test-python
#   mk/node.mk        the Node binding: node, test-node
#   mk/cluster.mk     the real kube-apiserver + fault proxy: cluster-up/down, test-cluster, test-e2e,
#                     test-runner-hooks
#   mk/e2e-faults.mk  test-e2e-faults, waves, soak
#   mk/fuzz.mk        fuzz, test-fuzz
#   mk/bench.mk       bench
#   mk/dist.mk        packaging: dist, test-dist, dist-check

SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3

# ---------------------------------------------------------------- shared by the parts

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# Scratch builds (git-ignored), and cargo's release directory (libk8sretry.a / .so).
BUILD := .cache/build
RELEASE := target/release
# A scratch install (`make stage`) that the C install test and the Go binding build against.
STAGE := $(CURDIR)/$(BUILD)/prefix
# Python: the maturin venv, the test venv with the wheel and the real clients, the built wheels.
PY_TOOLS := $(BUILD)/py-tools
PY_TEST := $(BUILD)/py-test
WHEELS := $(BUILD)/wheels
NODE_DIR := bindings-node
# Go: the module (bindings-go) and its prometheus module; GO_HOST is the GOOS_GOARCH of this machine.
GO_ENV := GOFLAGS=-mod=mod GOTOOLCHAIN=local
GO_MODULE := bindings-go
GO_PROMETHEUS := bindings-go/prometheus
GO_HOST := $(shell go env GOOS 2>/dev/null)_$(shell go env GOARCH 2>/dev/null)

# $(call need_debs,PACKAGE...): a recipe line that stops with "run make deps" when one of the
# Debian packages is not installed (test targets never run apt-get themselves).
need_debs = missing=; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q ' installed$$' || missing="$$missing $$p"; done; \
  [ -z "$$missing" ] || { echo "$@: Debian package(s) missing:$$missing; run make deps"; exit 1; }

.PHONY: help demo demo-clean test check-clean-tree test-readme

help:
	@echo "Run the target of the part you change; make test runs every test-* target. One line per target:"
	@echo "make help             - this list"
	@echo "make demo             - the same workload in Python, Node, Go and Rust against a real apiserver behind the fault proxy"
	@echo "make demo-clean       - deletes the namespaces an interrupted demo left (local cluster; \$$KUBECONFIG's after asking)"
	@echo "make test             - every test-* target: $(TESTS)"
	@echo "make check-clean-tree - fails when the tests left the git work tree changed (the end of make test)"
	@echo "make test-readme      - README.md: <= 150 lines, its examples tied to the programs make test runs, its links; this list"
	@echo "make deps             - the Debian packages the targets need, those missing (make test and make demo run it)"
	@echo "make deps-demo        - the Debian packages make demo needs (curl, openssl)"
	@echo "make deps-dist        - the Debian packages make dist's checks need (mmdebstrap, qemu-user-static, binfmt-support, musl)"
	@echo "make deps-windows     - MinGW-w64, when DIST_PLATFORMS has windows-x86_64 (make dist runs it)"
	@echo "make test-core        - Rust core: vectors up to date, fmt, clippy, unit + property tests, every vector"
	@echo "make vectors          - rewrites tests/vectors/*.json from tests/vectors/generate.py"
	@echo "make lib              - the release build of libk8sretry (ffi/): target/release/libk8sretry.{a,so}"
	@echo "make cbindgen         - installs the pinned cbindgen into ~/.cargo/bin"
	@echo "make header           - rewrites include/k8sretry.h with cbindgen"
	@echo "make check-header     - fails when include/k8sretry.h is not what cbindgen generates"
	@echo "make test-c           - C ABI: the C tests under ASan+UBSan and valgrind, then test-c-install"
	@echo "make test-c-install   - builds and runs examples/c/retry.c against the scratch install (pkg-config, shared and static)"
	@echo "make stage            - a scratch install of libk8sretry in .cache/build/prefix"
	@echo "make install          - installs libk8sretry, the header and k8sretry.pc into PREFIX (/usr/local), DESTDIR"
	@echo "make go-lib           - copies the static library and the header into bindings-go/"
	@echo "make test-go          - Go binding: gofmt, vet, go test -race, the prometheus module, the system library, examples/go"
	@echo "make wheel            - the Python wheel and sdist (maturin, pinned) into .cache/build/wheels"
	@echo "make py-env           - a fresh venv with the wheel and the real clients (.cache/build/py-test)"
	@echo "make test-python      - Python binding: ruff, stubtest, pytest (mypy --strict included), examples/python/decorator.py"
	@echo "make node             - Node binding: npm install, the napi addon, the TypeScript build"
	@echo "make test-node        - Node binding: node --test under the system Node and Node 22 and 24"
	@echo "make cluster-up       - starts the real kube-apiserver + etcd (built once, cached) and the fault proxy"
	@echo "make cluster-down     - stops them"
	@echo "make test-cluster     - the cluster scripts' security (verified upstream, credential modes, demo asks first)"
	@echo "make test-e2e         - every client against the real apiserver through the fault proxy (test-e2e-faults first)"
	@echo "make test-e2e-faults  - faults the real apiserver and etcd make, in all five clients"
	@echo "make test-runner-hooks - the runner container hooks with k8sretry, bundled, zipped and run under faults"
	@echo "make waves            - the retry wave after an outage per jitter mode (about 4 minutes; not in make test)"
	@echo "make soak             - 10 minutes at 200 calls/s with ~20% faults per language: RSS, fds, metrics (not in make test)"
	@echo "make test-fuzz        - each fuzz target for FUZZ_TEST_SECONDS (20) from the committed seeds"
	@echo "make fuzz             - the long fuzz pass: FUZZ_SECONDS (300) or FUZZ_RUNS per target"
	@echo "make fuzz-build       - builds the cargo-fuzz targets"
	@echo "make fuzz-c-build     - builds the C ABI's libFuzzer target against an instrumented libk8sretry.a"
	@echo "make cargo-fuzz       - installs the pinned cargo-fuzz into ~/.cargo/bin"
	@echo "make fuzz-clang       - fails with \"run make deps\" when clang is missing"
	@echo "make bench            - every overhead, decision and chaos comparison in one run: bench/results/results.md"
	@echo "make bench-fleet      - the fleet simulator: N processes x λ calls/s through outages, restarts, blips (bench/results/fleet.md)"
	@echo "make test-bench-fleet - the fleet simulator's unit tests and a quick run (not in make test)"
	@echo "make fleet-plot-env   - the matplotlib venv bench-fleet plots with"
	@echo "make dist             - every package for every platform (DIST_PLATFORMS) into dist/, with the manifest"
	@echo "make test-dist        - the x86_64 and arm64 packages installed and run as users would (the README examples)"
	@echo "make dist-check       - make dist for every platform and every check on every artefact, musl included"
	@echo "make reproducible     - builds one commit twice in two folders and compares the bytes (about an hour)"

# The demo: the same workload in Python, Node, Go and Rust (examples/) against a real kube-apiserver
# behind the fault proxy (or $$KUBECONFIG's cluster, still through the proxy), then one table.
DEMO_ENV = K8SRETRY_DEMO_PYTHON="$(PY_TEST)/bin/python examples/python/workload.py" \
  K8SRETRY_DEMO_NODE="node examples/node/workload.mjs" \
  K8SRETRY_DEMO_GO="$(BUILD)/demo-go" \
  K8SRETRY_DEMO_RUST="target/debug/examples/workload"
demo: deps-demo py-env node go-lib
	@echo "[demo] building the Node, Go and Rust workloads"
	cd examples/node && npm install --no-audit --no-fund --loglevel=error
	cd examples/go && $(GO_ENV) go build -o $(CURDIR)/$(BUILD)/demo-go ./workload
	$(CARGO) build --locked --quiet -p k8sretry --features kube --example workload
	$(DEMO_ENV) $(PY_TEST)/bin/python examples/demo.py

# After a demo cut short (kill -9): deletes the namespaces it left (label k8sretry.dev/demo-run) in
# the local cluster, or in $$KUBECONFIG's after asking, and what it left for a user's cluster
# (tests/cluster/.run-external: its proxy, the copied credentials).
demo-clean: py-env
	$(PY_TEST)/bin/python examples/demo.py clean

# The top README: at most 150 lines, each example tied to the program or doctest make test runs,
# its links resolve, and make help lists every target (tests/readme/check.py; a second or so).
test-readme:
	$(PYTHON) tests/readme/check.py

# Every test-* target (add a target here and it runs as part of `make test`). The cluster targets
# (test-cluster, test-e2e, test-runner-hooks) run one after another in this order, each starting and
# stopping this tree's cluster (mk/cluster.mk's lock keeps them apart under make -j too);
# test-runner-hooks checks its rounds against the fault physics (tests/e2e/README.md, "The runner
# hooks under sustained faults"). After all of them, check-clean-tree: make test leaves the work
# tree as it found it.
TESTS := test-readme test-core test-c test-fuzz test-go test-python test-node test-cluster test-e2e test-runner-hooks test-dist
test: deps $(TESTS)
	@$(MAKE) --no-print-directory check-clean-tree
	@echo "make test: all of $(TESTS) passed"

# `git status --porcelain` must show nothing that was not there when `make test` started (on a
# clean checkout, as in CI: nothing at all). Test outputs belong in ignored places (.cache/,
# target/, a mktemp directory). K8SRETRY_TREE_BEFORE: the paths git status showed at the start
# (set when test is a goal, so a developer's own uncommitted edits do not count).
ifneq ($(filter test,$(MAKECMDGOALS)),)
export K8SRETRY_TREE_BEFORE := $(shell git status --porcelain 2>/dev/null | cut -c4-)
endif
check-clean-tree:
	@git rev-parse --is-inside-work-tree >/dev/null 2>&1 || exit 0; \
	left=$$(git status --porcelain | while IFS= read -r line; do \
	  case " $$K8SRETRY_TREE_BEFORE " in *" $${line:3} "*) ;; *) echo "  $$line" ;; esac; done); \
	[ -z "$$left" ] || { echo "check-clean-tree: the tests left the work tree changed (git status --porcelain):"; \
	  echo "$$left"; echo "check-clean-tree: a test must write to an ignored place (.cache/, target/, a mktemp directory) or clean up"; exit 1; }

include mk/deps.mk
include mk/core.mk
include mk/c.mk
include mk/go.mk
include mk/python.mk
include mk/node.mk
include mk/cluster.mk
include mk/e2e-faults.mk
include mk/fuzz.mk
include mk/bench.mk
include mk/dist.mk
