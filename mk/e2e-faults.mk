# ---------------------------------------------------------------- real apiserver faults, waves, soak
# (included by the Makefile)

.PHONY: test-e2e-faults waves soak

# Faults the real apiserver and etcd make (tests/cluster/up-faults.sh: APF 429s for a non-admin
# user, etcd stopped under creates with a 2 s request timeout, etcd killed and started again, the
# apiserver restarted gracefully and killed, HTTP/2 GOAWAY) survived by all five clients with
# nothing lost or doubled; straight to the apiserver (the proxy only runs for the Go suite's
# TestMain). Its own cluster profile, torn down at the end. Part of test-e2e (a prerequisite, so
# it runs first and the ordinary suites get the ordinary cluster).
test-e2e-faults: py-env node stage go-lib
	tests/cluster/up-faults.sh >/dev/null && tests/cluster/proxy.sh && \
	  $(PY_TEST)/bin/python -m pytest -v -s -p no:cacheprovider -W ignore::Warning tests/e2e/python/test_real_faults_e2e.py && \
	  node --test tests/e2e/node/real-faults.test.mjs && \
	  (cd tests/e2e/go && $(GO_ENV) go test -count=1 -v -run 'TestRealFaults' ./... 2>&1 | grep -vE '^=== RUN'; exit $${PIPESTATUS[0]}) && \
	  $(CARGO) test -p k8sretry-e2e --features e2e --test real_faults -- --nocapture; \
	  rc=$$?; tests/cluster/down.sh; exit $$rc

test-e2e: test-e2e-faults
