# ---------------------------------------------------------------- benchmarks (bench/)
# Included by the Makefile. bench: every comparison side by side in one run (not part of make
# test). Shared variables from the Makefile: PY_TEST, BUILD, RELEASE.

# Raw output of each comparison; bench/report.py turns it into bench/results/results.md.
BENCH_RAW := bench/results/raw

.PHONY: bench

# Every comparison side by side in one run; raw output in bench/results/raw, the table in
# bench/results/results.md (copied into the README by hand from the current code's run).
bench: py-env node lib
	mkdir -p $(BENCH_RAW)
	$(PY_TEST)/bin/pip install -q tenacity==9.1.2 backoff==2.2.1
	@echo "[bench] Python: decorators against tenacity, backoff and a plain wrapper"
	$(PY_TEST)/bin/python bench/python_overhead.py > $(BENCH_RAW)/python.json
	@echo "[bench] Node: withRetry / withRetryClient against cockatiel, p-retry, async-retry"
	cd bench/node && npm install --no-audit --no-fund --loglevel=error && node overhead.mjs > ../../$(BENCH_RAW)/node.json
	@echo "[bench] Rust: criterion (decision, success path, retry against backon)"
	cd bench/rust && $(CARGO) bench --bench engine -- --warm-up-time 1 --measurement-time 3 2>/dev/null > ../../$(BENCH_RAW)/rust.txt
	@echo "[bench] C: the decision through the FFI"
	cc -O2 -std=c11 -Wall -Wextra -Werror -Iinclude bench/c/decision.c -o $(BUILD)/bench-decision $(RELEASE)/libk8sretry.a -lgcc_s -lutil -lrt -lpthread -lm -ldl
	$(BUILD)/bench-decision > $(BENCH_RAW)/c.json
	@echo "[bench] retry budget: a blip and an outage, per budget"
	$(PY_TEST)/bin/python bench/budget.py > $(BENCH_RAW)/budget.json
	@echo "[bench] chaos: the e2e workload at 0/10/30/50% faults, and the outage"
	tests/cluster/up.sh >/dev/null && tests/cluster/proxy.sh && \
	  $(PY_TEST)/bin/python bench/chaos.py > $(BENCH_RAW)/chaos.json; rc=$$?; tests/cluster/down.sh; exit $$rc
	$(PYTHON) bench/report.py
