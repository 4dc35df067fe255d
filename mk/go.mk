# ---------------------------------------------------------------- Go binding (cgo over libk8sretry)
# Included by the Makefile. go-lib (the static libraries and the header into the module), test-go.
# Shared variables from the Makefile: GO_ENV, GO_MODULE, GO_PROMETHEUS, GO_HOST, RELEASE, STAGE.
#
# The module links the static libk8sretry.a it ships in bindings-go/lib/GOOS_GOARCH/ (git-ignored),
# with the header copied to bindings-go/include/; -tags k8sretry_system links the system one
# through pkg-config instead (GO_SYSTEM_ENV: the scratch install of `make stage`).

GO_SYSTEM_ENV := $(GO_ENV) PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig LD_LIBRARY_PATH=$(STAGE)/lib
GO_HOST_LIB ?= $(RELEASE)/libk8sretry.a
GO_DIRS := bindings-go examples/go tests/e2e/go tests/dist/gomodzip

.PHONY: go-lib test-go

# For building and testing from this work tree: GO_HOST_LIB (target/release's, just built) as the
# host's platform's library, and the header. bindings-go/lib holds nothing else afterwards (another
# platform's library left by an earlier run is removed). The module zip of make dist does not come
# from here: tests/dist/gomodzip takes the tracked files and the libraries that run built.
go-lib: lib
	@for d in $(GO_MODULE)/lib/*/; do [ ! -d "$$d" ] || [ "$$d" = $(GO_MODULE)/lib/$(GO_HOST)/ ] || { rm -rf "$$d" && echo "[go-lib] removed $$d"; }; done
	@mkdir -p $(GO_MODULE)/lib/$(GO_HOST) && { cmp -s $(GO_HOST_LIB) $(GO_MODULE)/lib/$(GO_HOST)/libk8sretry.a || cp $(GO_HOST_LIB) $(GO_MODULE)/lib/$(GO_HOST)/libk8sretry.a; } && echo "[go-lib] $(GO_HOST_LIB) -> $(GO_MODULE)/lib/$(GO_HOST)"
	@mkdir -p $(GO_MODULE)/include && { cmp -s include/k8sretry.h $(GO_MODULE)/include/k8sretry.h || cp include/k8sretry.h $(GO_MODULE)/include/k8sretry.h; }
	@cmp include/k8sretry.h $(GO_MODULE)/include/k8sretry.h || { echo "$(GO_MODULE)/include/k8sretry.h differs from include/k8sretry.h"; exit 1; }

test-go: go-lib stage
	@test -z "$$(gofmt -l $(GO_DIRS))" || { gofmt -l $(GO_DIRS); echo "gofmt needed"; exit 1; }
	cd bindings-go && $(GO_ENV) go vet ./...
	cd bindings-go && $(GO_ENV) go test -race -count=1 -v ./... 2>&1 | grep -E '^(--- |ok|FAIL|PASS|panic)|_test.go'; exit $${PIPESTATUS[0]}
	cd $(GO_PROMETHEUS) && $(GO_ENV) go vet ./... && $(GO_ENV) go test -race -count=1 ./...
	@echo "[test-go] the system library through pkg-config (-tags k8sretry_system)"
	cd bindings-go && $(GO_SYSTEM_ENV) go vet -tags k8sretry_system . && $(GO_SYSTEM_ENV) go test -tags k8sretry_system -count=1 -run 'TestVersion|TestDo' .
	cd examples/go && $(GO_ENV) go run .
