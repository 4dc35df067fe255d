# ---------------------------------------------------------------- real apiserver faults, waves, soak
# (included by the Makefile)

.PHONY: test-e2e-faults waves soak

# Faults the real apiserver and etcd make (tests/cluster/up-faults.sh: APF 429s for a non-admin
# user, etcd stopped under creates with a 2 s request timeout, etcd killed and started again, the
# apiserver restarted gracefully and killed, HTTP/2 GOAWAY) survived by all five clients with
# nothing lost or doubled; straight to the apiserver (the proxy only runs for the Go suite's
# TestMain). Its own cluster profile, torn down at the end. Part of make test-e2e (before the proxy
# suites); alone: `make test-e2e-faults`. Its etcd-pause scenario found the generateName duplicates
# that a list answered by an etcd just going on allowed (tests/e2e/README.md "Found: the etcd-pause
# duplicates"; the engine now lists twice, 1 s apart, before such a resend).
test-e2e: test-e2e-faults
test-e2e-faults: py-env node stage go-lib
	$(cluster_lock) tests/cluster/up-faults.sh >/dev/null && tests/cluster/proxy.sh && \
	  $(PY_TEST)/bin/python -m pytest -v -s -p no:cacheprovider -W ignore::Warning tests/e2e/python/test_real_faults_e2e.py && \
	  node --test tests/e2e/node/real-faults.test.mjs && \
	  (cd tests/e2e/go && $(GO_ENV) go test -count=1 -v -run 'TestRealFaults' ./... 2>&1 | grep -vE '^=== RUN'; exit $${PIPESTATUS[0]}) && \
	  $(CARGO) test --locked -p k8sretry-e2e --features e2e --test real_faults -- --nocapture; \
	  rc=$$?; tests/cluster/down.sh; exit $$rc


# The retry wave after an outage per jitter mode (none, proportional 0.1 as in the presets,
# proportional 0.5, full, equal, decorrelated): attempts and arrivals per 100 ms, the time from
# "ready" until 99% of the waiting calls succeeded; a Markdown table, JSON in .cache/build/waves.json.
# Not part of make test (about 4 minutes); the figures are in tests/e2e/README.md.
waves: stage go-lib
	tests/cluster/up.sh >/dev/null && tests/cluster/proxy.sh && \
	  (cd tests/e2e/go && K8SRETRY_WAVES=1 K8SRETRY_WAVES_OUT=$(CURDIR)/$(BUILD)/waves.json $(GO_ENV) \
	    go test -count=1 -v -timeout 30m -run 'TestWaves$$' ./... 2>&1 | grep -vE '^=== RUN'; exit $${PIPESTATUS[0]}); \
	  rc=$$?; tests/cluster/down.sh; exit $$rc

# 10 minutes (SOAK_SECONDS) at 200 calls/s (SOAK_RATE) with ~20% of requests faulted by the proxy,
# one process per language, one language at a time (SOAK_LANGS); RSS and open fds at the start and
# the end, the engine's metrics against the workload's own counts (tests/e2e/soak.sh). Not part of
# make test.
soak: py-env node stage go-lib
	$(CARGO) test --locked -p k8sretry-e2e --features e2e --test soak --no-run
	cd tests/e2e/go && $(GO_ENV) go test -c -o $(CURDIR)/$(BUILD)/soak-go.test .
	SOAK_PYTHON="$(PY_TEST)/bin/python tests/e2e/python/soak.py" \
	SOAK_NODE="node tests/e2e/node/soak.mjs" \
	SOAK_GO="cd tests/e2e/go && K8SRETRY_SOAK=1 $(CURDIR)/$(BUILD)/soak-go.test -test.run '^TestSoak$$' -test.v -test.timeout 60m" \
	SOAK_RUST="K8SRETRY_SOAK=1 $(CARGO) test --locked -q -p k8sretry-e2e --features e2e --test soak -- --nocapture" \
	tests/e2e/soak.sh
