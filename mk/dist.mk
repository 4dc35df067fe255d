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

.PHONY: dist test-dist dist-check deps-dist

deps-dist:
	@$(call install_debs,$(DIST_DEBS))

# dist/: per platform the abi3 wheel and the libk8sretry tarball (tools/dist/build.sh, which also
# leaves each platform's static library where go-lib takes it); the Python sdist; the crates
# k8sretry and k8sretry-ffi; the npm packages (tools/dist/npm.sh: k8sretry-<tag> per platform and
# the main k8sretry with them as optional dependencies); the Go modules as a
# file GOPROXY (dist/goproxy: k8sretry.dev/go with the static library of every platform built,
# k8sretry.dev/go/prometheus); dist/manifest.json, manifest.tsv and SHA256SUMS over all of it.
dist: node
	rm -rf dist && mkdir -p dist
	tools/dist/build.sh $(DIST_PLATFORMS)
	cd bindings-python && $(CURDIR)/$(PY_TOOLS)/bin/maturin sdist --out $(CURDIR)/dist
	@echo "[dist] the crates k8sretry and k8sretry-ffi (cargo package; tests/dist/check.sh --full verifies them)"
	CARGO_TARGET_DIR=$(CURDIR)/target/dist/package $(CARGO) package --quiet --allow-dirty --no-verify -p k8sretry -p k8sretry-ffi
	cp target/dist/package/package/k8sretry-$(VERSION).crate target/dist/package/package/k8sretry-ffi-$(VERSION).crate dist/
	$(MAKE) --no-print-directory go-lib
	tools/dist/npm.sh $(DIST_PLATFORMS)
	@echo "[dist] the Go modules (with the static libk8sretry.a) in a file GOPROXY: dist/goproxy"
	cd tests/dist/gomodzip && $(GO_ENV) go run . -version v$(VERSION) -out $(CURDIR)/dist/goproxy \
	  k8sretry.dev/go=$(CURDIR)/$(GO_MODULE) k8sretry.dev/go/prometheus=$(CURDIR)/$(GO_PROMETHEUS)
	@unzip -l dist/goproxy/k8sretry.dev/go/@v/v$(VERSION).zip | grep -q 'lib/$(GO_HOST)/libk8sretry.a' || { echo "[dist] the Go module has no lib/$(GO_HOST)/libk8sretry.a"; exit 1; }
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
