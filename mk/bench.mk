# ---------------------------------------------------------------- benchmarks (bench/)
# Included by the Makefile. bench: every comparison side by side in one run (not part of make
# test). Shared variables from the Makefile: PY_TEST, BUILD, RELEASE.

# Raw output of each comparison; bench/report.py turns it into bench/results/results.md.
BENCH_RAW := bench/results/raw

.PHONY: bench

# Every comparison side by side in one run; raw output in bench/results/raw, the table in
# bench/results/results.md (the README links to it).
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

# ---------------------------------------------------------------- the fleet simulator (issue #22)
# bench-fleet: fleets of N processes x λ calls/s against a server model on one virtual clock, the
# real engine's decisions beside the policies users would otherwise run (bench/fleet, its own
# workspace). Writes bench/results/fleet.md, fleet.json and the fleet-*.svg plots; exits non-zero
# when an acceptance check for k8sretry's default policy fails (the plots are written anyway).
# test-bench-fleet: the simulator's own unit tests and a quick run (not part of make test).
FLEET_DIR := bench/fleet
FLEET_BIN := $(FLEET_DIR)/target/release/k8sretry-fleet
FLEET_PLOT := $(BUILD)/fleet-plot
FLEET_MATPLOTLIB := matplotlib==3.10.7

.PHONY: bench-fleet test-bench-fleet fleet-plot-env

fleet-plot-env:
	@$(FLEET_PLOT)/bin/python -c 'import matplotlib' 2>/dev/null || { \
	  $(PYTHON) -m venv --clear $(FLEET_PLOT) && $(FLEET_PLOT)/bin/pip install -q "$(FLEET_MATPLOTLIB)"; }

bench-fleet: fleet-plot-env
	cd $(FLEET_DIR) && nice $(CARGO) build --release --locked --quiet
	rc=0; nice $(FLEET_BIN) --out bench/results || rc=$$?; \
	  [ $$rc -gt 1 ] || $(FLEET_PLOT)/bin/python $(FLEET_DIR)/plot.py bench/results || rc=2; exit $$rc

test-bench-fleet:
	cd $(FLEET_DIR) && nice $(CARGO) test --release --locked --quiet && nice $(CARGO) build --release --locked --quiet
	out=$$(mktemp -d) && { nice $(FLEET_BIN) --quick --out $$out; rc=$$?; rm -rf $$out; [ $$rc -le 1 ]; }
