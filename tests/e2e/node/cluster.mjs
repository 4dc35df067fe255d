// The local cluster's settings (tests/cluster/.run/env) for the Node e2e suites and the runner
// hooks' e2e: only once tests/cluster/local-env.sh found that .run is the throw-away apiserver
// up.sh started (loopback, its own token, live pids), never another cluster.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CLUSTER = new URL('../../cluster/', import.meta.url);

// optional: {} when no cluster was started at all (suites that skip then); a .run that is not the
// local cluster always throws.
export function clusterEnv({ optional = false } = {}) {
  if (optional && !existsSync(new URL('.run/env', CLUSTER))) return {};
  try {
    return JSON.parse(execFileSync(new URL('local-env.sh', CLUSTER).pathname, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch (e) {
    throw new Error(`${e.stderr || e.message}`.trim() + '\nrun `make cluster-up` (make test-e2e does)');
  }
}
