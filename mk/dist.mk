# ---------------------------------------------------------------- packaging (dist/)
# Included by the Makefile. Builds and checks what users install, per platform:
#   make dist        every artefact into dist/ + dist/manifest.json, manifest.tsv, SHA256SUMS
#   make test-dist   (part of make test) the host's and arm64's artefacts only; installs the x86_64
#                    ones and runs the README examples (tests/dist/install.sh), checks tags, formats
#                    and symbols (tests/dist/check.sh), runs the vectors on arm64 under qemu
#                    (tests/dist/arm64.sh), publishes the npm packages to a local verdaccio and
#                    installs k8sretry from it (tests/dist/npm-registry.sh)
#   make dist-check  the full matrix: make dist + every check on every artefact, musl included
#   make deps-dist   the Debian packages these need (mmdebstrap, qemu-user-static, binfmt-support, musl);
#                    make deps (mk/deps.mk) installs them too, and make test runs make deps first
# Cross builds: maturin --zig and cargo-zigbuild (tools/dist/build.sh), each platform in its own
# target/dist/ directory, so only the first build of a platform is slow.

DIST_PLATFORMS_ALL := linux-x86_64-gnu linux-aarch64-gnu linux-x86_64-musl linux-aarch64-musl \
  macos-x86_64 macos-arm64 windows-x86_64
# The subset make test builds: the host's (installed by tests/dist/install.sh) and arm64's (run under qemu).
DIST_PLATFORMS_TEST := linux-x86_64-gnu linux-aarch64-gnu
DIST_PLATFORMS ?= $(DIST_PLATFORMS_ALL)
DIST_DEBS := mmdebstrap qemu-user-static binfmt-support musl

.PHONY: dist test-dist dist-check deps-dist reproducible

deps-dist:
	@$(call install_debs,$(DIST_DEBS))

# dist/: per platform the abi3 wheel and the libk8sretry tarball (tools/dist/build.sh, which also
# leaves each platform's static library where go-lib takes it); the Python sdist; the crates
# k8sretry and k8sretry-ffi; the npm packages (tools/dist/npm.sh: k8sretry-<tag> per platform and
# the main k8sretry with them as optional dependencies); the Go modules as a
# file GOPROXY (dist/goproxy: k8sretry.dev/go with the static library of every gnu and macOS platform
# built, k8sretry.dev/go/prometheus, each with its h1: hash in <version>.ziphash and both in
# dist/goproxy/go.sum); dist/manifest.json, manifest.tsv and SHA256SUMS over all of it.
# Reproducible (tests/dist/reproducible.sh): Cargo.lock as committed (--locked), the Rust of
# rust-toolchain.toml, the builder's paths remapped (tools/dist/tools.sh dist_rustflags), and every
# archive's timestamps the last commit's (SOURCE_DATE_EPOCH).
DIST_GO_LIBS := $(CURDIR)/target/dist/go-libs
dist: export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
dist: node
	rm -rf dist $(DIST_GO_LIBS) && mkdir -p dist
	GO_LIBS=$(DIST_GO_LIBS) tools/dist/build.sh $(DIST_PLATFORMS)
	cd bindings-python && $(CURDIR)/$(PY_TOOLS)/bin/maturin sdist --out $(CURDIR)/dist
	@echo "[dist] the crates k8sretry and k8sretry-ffi (cargo package; tests/dist/check.sh --full verifies them)"
	CARGO_TARGET_DIR=$(CURDIR)/target/dist/package $(CARGO) package --locked --quiet --allow-dirty --no-verify -p k8sretry -p k8sretry-ffi
	cp target/dist/package/package/k8sretry-$(VERSION).crate target/dist/package/package/k8sretry-ffi-$(VERSION).crate dist/
	tools/dist/npm.sh $(DIST_PLATFORMS)
	@# The zip holds bindings-go's tracked files, the header, and the static library of each platform
	@# built by this run, the same file as that platform's libk8sretry tarball (build.sh leaves it in
	@# DIST_GO_LIBS; tests/dist/check.py compares them). Prints and writes the h1: lines (go.sum).
	@echo "[dist] the Go modules (with this run's static libk8sretry.a) in a file GOPROXY: dist/goproxy"
	cd tests/dist/gomodzip && $(GO_ENV) go run . -version v$(VERSION) -out $(CURDIR)/dist/goproxy \
	  -add k8sretry.dev/go:include/k8sretry.h=$(CURDIR)/include/k8sretry.h \
	  $$(for d in $(DIST_GO_LIBS)/*/; do [ -d "$$d" ] && echo "-add k8sretry.dev/go:lib/$$(basename $$d)/libk8sretry.a=$$d"libk8sretry.a; done) \
	  k8sretry.dev/go=$(CURDIR)/$(GO_MODULE) k8sretry.dev/go/prometheus=$(CURDIR)/$(GO_PROMETHEUS)
	$(PYTHON) tools/dist/manifest.py dist

# Installs the x86_64 artefacts of dist/ as their users would and runs the README's example for each;
# then the artefacts' tags, formats and symbols; then the arm64 ones under qemu.
test-dist: stage
	@$(call need_debs,$(DIST_DEBS))
	$(MAKE) --no-print-directory dist DIST_PLATFORMS="$(DIST_PLATFORMS_TEST)"
	tests/dist/install.sh
	tests/dist/check.sh
	tests/dist/arm64.sh
	tests/dist/npm-registry.sh

dist-check: deps-dist deps-windows
	$(MAKE) --no-print-directory dist
	tests/dist/check.sh --full
	tests/dist/arm64.sh
	tests/dist/musl.sh
	tests/dist/npm-registry.sh

# Not part of make test (two clean builds, about an hour on 2 cores): clones HEAD twice into two
# folders, runs make dist for the Linux platforms in each (one after the other) and compares the
# artefacts byte for byte (tests/dist/reproducible.sh; its last result is in tests/dist/README.md).
REPRODUCIBLE_PLATFORMS ?= linux-x86_64-gnu linux-aarch64-gnu
reproducible:
	tests/dist/reproducible.sh $(REPRODUCIBLE_PLATFORMS)
