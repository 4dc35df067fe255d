# ---------------------------------------------------------------- fuzzing (fuzz/, DESIGN §8)
#
# Four cargo-fuzz targets on the stable toolchain (`-s none`: no sanitizer, so no nightly) and one
# libFuzzer target over the C ABI, built with clang (-fsanitize=fuzzer,address,undefined) against
# a libk8sretry.a instrumented with sancov. `make fuzz` runs each for FUZZ_SECONDS (or FUZZ_RUNS
# executions) on a working corpus that grows from run to run; `make test-fuzz` (part of `make
# test`) runs each for FUZZ_TEST_SECONDS from the committed seeds. See fuzz/README.md.
# Included by the Makefile; clang comes from `make deps` (mk/deps.mk).

.PHONY: fuzz test-fuzz fuzz-build fuzz-c-build cargo-fuzz fuzz-clang

CARGO_FUZZ_VERSION := 0.13.2
CARGO_FUZZ := $(HOME)/.cargo/bin/cargo-fuzz
FUZZ_FLAGS := -s none -O -a
FUZZ_SECONDS ?= 300
FUZZ_RUNS ?=
FUZZ_TEST_SECONDS ?= 20
CLANG ?= clang
FUZZ_HOST := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
FUZZ_C_DIR := fuzz/target-c
FUZZ_C := $(FUZZ_C_DIR)/abi_fuzz
FUZZ_C_LIB := $(FUZZ_C_DIR)/$(FUZZ_HOST)/release/libk8sretry.a
# rustc's libFuzzer coverage without -Zsanitizer (stable): the flags cargo-fuzz passes with -s none.
# --target keeps them off build scripts and proc macros; the separate target dir keeps the normal
# build's artefacts as they are.
FUZZ_C_RUSTFLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=3 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions
FUZZ_C_FLAGS := -g -O1 -std=c11 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

# cargo-fuzz, pinned; installed once into ~/.cargo/bin.
cargo-fuzz:
	@$(CARGO_FUZZ) --version 2>/dev/null | grep -qx "cargo-fuzz $(CARGO_FUZZ_VERSION)" || \
	  $(CARGO) install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked

fuzz-clang:
	@command -v $(CLANG) >/dev/null || { echo "fuzz-clang: $(CLANG) is missing: run make deps (Debian's clang)"; exit 1; }

# cargo fuzz has no --locked: cargo metadata --locked first stops the build when fuzz/Cargo.lock
# would change (cargo fuzz then resolves the same lock).
fuzz-build: cargo-fuzz
	$(CARGO) metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null
	$(CARGO) fuzz build $(FUZZ_FLAGS)

fuzz-c-build: fuzz-clang
	CARGO_TARGET_DIR=$(CURDIR)/$(FUZZ_C_DIR) RUSTFLAGS="$(FUZZ_C_RUSTFLAGS)" \
	  $(CARGO) build --locked --release -p k8sretry-ffi --target $(FUZZ_HOST)
	@$(MAKE) --no-print-directory $(FUZZ_C)

$(FUZZ_C): fuzz/c/abi_fuzz.c include/k8sretry.h $(FUZZ_C_LIB)
	$(CLANG) $(FUZZ_C_FLAGS) -Iinclude fuzz/c/abi_fuzz.c $(FUZZ_C_LIB) -lgcc_s -lutil -lrt -lpthread -lm -ldl -o $@

# The long pass: every target for FUZZ_SECONDS (default 300) or FUZZ_RUNS executions, one after
# another; the numbers go to fuzz/target/logs/summary.txt (and, by hand, fuzz/README.md).
fuzz: fuzz-build fuzz-c-build
	fuzz/run.sh --seconds $(FUZZ_SECONDS) $(if $(FUZZ_RUNS),--runs $(FUZZ_RUNS))

# The short pass of `make test`: the seed corpora are what the vectors say, then every target
# for FUZZ_TEST_SECONDS from the committed seeds.
test-fuzz: fuzz-build fuzz-c-build
	$(PYTHON) fuzz/gen_corpus.py --check
	fuzz/run.sh --fresh --seconds $(FUZZ_TEST_SECONDS)
