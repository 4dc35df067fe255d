# ---------------------------------------------------------------- Debian packages (make deps)
# Included by the Makefile. `make deps` installs every Debian package a target needs, only those
# not installed yet (one apt-get update first, then one apt-get install; as root, else through
# sudo). `make test` runs it first, `make demo` runs deps-demo (its share); the targets themselves
# never run apt-get: a missing package stops them with "run make deps" ($(call need_debs,...)).
#
#   curl openssl   tests/cluster (the apiserver's certificates, readiness, the fault proxy): demo, test-e2e
#   libcjson-dev   test-c (the C vector tests read tests/vectors with cJSON)
#   valgrind       test-c (memcheck)
#   pkg-config     test-c-install, test-go (-tags k8sretry_system), tests/dist
#   clang          test-fuzz (the libFuzzer target over the C ABI; mk/fuzz.mk)
#   llvm           tests/dist/check.py (llvm-nm, llvm-objdump, llvm-readobj)
#   zip unzip      test-runner-hooks (a flat zip), dist (the Go module zip)
#   zstd           test-runner-hooks (the hooks' locked dependencies cached: upstream/run.sh)
#   $(DIST_DEBS)   test-dist, dist-check (mk/dist.mk: mmdebstrap, qemu-user-static, binfmt-support, musl),
#                  test-runner-hooks (the hooks' release zip on arm64: tests/dist/hooks-arm64.sh)
#   gcc-mingw-w64-x86-64  the Windows wheel (tools/dist/build.sh): only `make dist` with
#                  windows-x86_64 among DIST_PLATFORMS installs it (deps-windows), not make test

DEBS_DEMO := curl openssl
DEBS = $(DEBS_DEMO) libcjson-dev valgrind pkg-config clang llvm zip unzip zstd $(DIST_DEBS)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# $(call install_debs,PACKAGE...): installs those of the packages that are not installed.
install_debs = missing=; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q ' installed$$' || missing="$$missing $$p"; done; \
  if [ -n "$$missing" ]; then echo "[$@] installing:$$missing"; \
    $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
  fi

DEBS_WINDOWS := gcc-mingw-w64-x86-64

.PHONY: deps deps-demo deps-windows

deps:
	@$(call install_debs,$(DEBS))

deps-demo:
	@$(call install_debs,$(DEBS_DEMO))

# make dist needs MinGW-w64 only when it builds windows-x86_64 (DIST_PLATFORMS is mk/dist.mk's;
# the recipe is expanded when it runs, after every include).
dist: deps-windows
deps-windows:
	@$(if $(filter windows-x86_64,$(DIST_PLATFORMS)),$(call install_debs,$(DEBS_WINDOWS)),true)
