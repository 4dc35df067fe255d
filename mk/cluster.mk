# ---------------------------------------------------------------- real kube-apiserver + fault proxy
# Included by the Makefile. cluster-up / cluster-down (tests/cluster), test-cluster (the scripts'
# security), test-e2e (every client against the real apiserver through the fault proxy),
# test-runner-hooks (examples/runner-hooks released and run against it). Shared variables from
# the Makefile: PY_TEST, GO_ENV.

.PHONY: cluster-up cluster-down test-cluster test-e2e test-runner-hooks

# The targets that start this tree's one cluster (tests/cluster/.run) and stop it at the end
# (test-cluster, test-e2e-faults, test-e2e, test-runner-hooks) hold this lock while they run, so
# under `make -j` they run one after another instead of stopping each other's cluster (make test
# runs them in the TESTS order anyway). The lock file is in .cache (ignored); the recipe's shell
# holds it until it ends.
cluster_lock = mkdir -p $(BUILD) && exec 9>$(BUILD)/cluster.lock && flock 9 &&

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
	$(cluster_lock) $(PY_TEST)/bin/python -m pytest -q -p no:cacheprovider tests/cluster

# End-to-end against the real apiserver through the fault proxy; always tears the cluster down.
# The Go suite includes the fleet scenario (fleet_e2e_test.go: 20 Go + 20 Python client processes,
# the Python ones run by PY_TEST's interpreter, through the proxy while the apiserver is stopped 30 s).
test-e2e: py-env node stage go-lib
	$(cluster_lock) tests/cluster/up.sh >/dev/null && tests/cluster/proxy.sh && \
	  $(PY_TEST)/bin/python -m pytest -q -p no:cacheprovider -W ignore::Warning tests/e2e/python && \
	  node --test --test-concurrency=1 tests/e2e/node/ && \
	  (cd tests/e2e/go && K8SRETRY_FLEET_PYTHON_BIN=$(CURDIR)/$(PY_TEST)/bin/python $(GO_ENV) go test -count=1 -timeout 30m -v ./... 2>&1 | grep -vE '^(=== RUN|    )'; exit $${PIPESTATUS[0]}) && \
	  $(CARGO) test --locked -p k8sretry-e2e --features e2e --test kube_e2e -- --nocapture; \
	  rc=$$?; tests/cluster/down.sh; exit $$rc

# The runner container hooks' use of client-node (examples/runner-hooks) with k8sretry: compiled
# (strict, skipLibCheck false), bundled with @vercel/ncc and with esbuild, zipped flat, unzipped
# elsewhere and run with Node 24: 20 hook rounds at ~20% faults, a foreign pod never adopted, 25 lost
# creates recovered. Then their own repository adopted (examples/runner-hooks/upstream/run.sh): the
# patch on actions/runner-container-hooks at a named commit (vendored, its hash and git tree checked:
# no GitHub, no mirror; their npm ci cached in ~/.cache/k8sretry), their build, lint and
# cluster-free jest suites, their flat release zip (carrying the x64 and arm64 engines: the arm64
# addon is cross-built into bindings-node/native first) run on x64 with Node 20, 22, 24 and on arm64
# under qemu with Node 20 and 24 (tests/dist/hooks-arm64.sh), and their functions driven under
# faults (rounds, a stale pod, lost creates). Starts and stops the cluster like test-e2e.
test-runner-hooks: node
	bindings-node/scripts/cross-addon.sh linux-aarch64-gnu
	# The upstream build (npm ci, build, lint, jest, zip) runs while the example's e2e uses the
	# cluster; its own cluster part waits for the example to finish. Its log follows the example's.
	$(cluster_lock) { tests/cluster/up.sh >/dev/null && tests/cluster/proxy.sh || { tests/cluster/down.sh; exit 1; }; }; \
	  w=$$(mktemp -d /tmp/k8sretry-trh.XXXXXX); \
	  { examples/runner-hooks/upstream/run.sh e2e arm64 --wait $$w/done > $$w/upstream.log 2>&1; echo $$? > $$w/upstream.rc; } & \
	  examples/runner-hooks/run.sh e2e; rc=$$?; touch $$w/done; wait; \
	  cat $$w/upstream.log; [ $$rc = 0 ] && rc=$$(cat $$w/upstream.rc); rm -rf $$w; \
	  tests/cluster/down.sh; exit $$rc
