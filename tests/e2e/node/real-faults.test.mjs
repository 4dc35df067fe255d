// Faults the real apiserver and etcd make, not the proxy: @kubernetes/client-node 1.4 through
// withRetryClient against the kube-apiserver of tests/cluster/up-faults.sh (make test-e2e-faults),
// with no proxy in between. Scenarios (see tests/e2e/README.md):
//   apf-429            API Priority and Fairness rejects the non-admin user's requests beyond one
//                      seat: a real 429 with Retry-After and a text/plain body; Throttled, hint honoured
//   etcd-pause         etcd SIGSTOPped under creates: 504 Timeout after the 2 s request timeout,
//                      some creates stored anyway (named and generateName)
//   etcd-restart       etcd SIGKILLed and started again: 504s, connections closed without an answer
//   apiserver-graceful SIGTERM (--shutdown-delay-duration, --shutdown-send-retry-after), started again
//   apiserver-kill     SIGKILL under load, started again
// Every call must end successfully; afterwards each namespace holds exactly the expected objects.
// Skipped outside that cluster profile (the ordinary test-e2e run loads every file here).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterEnv } from './cluster.mjs';

const pkg = new URL('../../../bindings-node/', import.meta.url);
const require = createRequire(new URL('package.json', pkg));
const k8s = require('@kubernetes/client-node');
const { Policy, REQUEST_ID, classify, retryAfterDelay, withRetryClient } = require(new URL('dist/cjs/index.js', pkg).pathname);

const env = clusterEnv({ optional: true });
const skip = env.K8SRETRY_PROFILE !== 'faults' && 'needs the real-fault cluster profile (tests/cluster/up-faults.sh, make test-e2e-faults)';
const FAULT = new URL('../../cluster/fault.sh', import.meta.url).pathname;
const run = promisify(execFile);
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

function core(kubeconfig) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc.makeApiClient(k8s.CoreV1Api);
}
const direct = skip ? null : core(env.KUBECONFIG);

async function fault(action) {
  const { stdout } = await run(FAULT, [action]);
  return Number(stdout.trim().split(' ').at(-1));
}

class Stats {
  constructor() {
    Object.assign(this, { calls: 0, retries: 0, recovered: 0, seen: {}, throttledDelays: [], failed: [] });
    this.named = new Set();
    this.generated = new Map(); // generateName object name -> request id
  }

  onEvent = (e) => {
    if (e.event === 'k8s_api_call_failed_retrying') {
      this.retries += 1;
      const what = String(e.status_code ?? e.code ?? e.error_type);
      this.seen[what] = (this.seen[what] ?? 0) + 1;
      if (e.class === 'Throttled') this.throttledDelays.push(e.delay_seconds);
    } else if (e.event === 'k8s_api_call_recovered_lost_response') {
      this.recovered += 1;
    }
  };
}

// Retries that outlast each fault (about 40 s), no budget: every call must end.
function policyOf(overrides = {}) {
  return new Policy({ maxRetries: 40, initialDelay: 0.1, maxDelay: 1, retryAfterCap: 5, budget: false, ...overrides });
}

// A named and a generateName ConfigMap, a read and a merge patch of the named one, a delete of
// every third; until stop() (or for `rounds`).
async function worker(api, ns, w, stats, shouldStop, rounds) {
  for (let k = 0; rounds !== undefined ? k < rounds : !shouldStop(); k += 1) {
    const name = `n${w}-${k}`;
    const steps = [
      ['create', () => api.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name }, data: { v: '1' } } })],
      ['generate', () => api.createNamespacedConfigMap({ namespace: ns, body: { metadata: { generateName: `g${w}-` } } })],
      ['read', () => api.readNamespacedConfigMap({ name, namespace: ns })],
      ['patch', () => api.patchNamespacedConfigMap({ name, namespace: ns, body: { data: { v: '2' } } }, MERGE)],
    ];
    if (k % 3 === 2) steps.push(['delete', () => api.deleteNamespacedConfigMap({ name, namespace: ns })]);
    for (const [step, fn] of steps) {
      stats.calls += 1;
      let result;
      try {
        result = await fn();
      } catch (err) {
        stats.failed.push(`${step} ${name}: ${err?.code ?? ''} ${String(err?.message).slice(0, 120)}`);
        break;
      }
      if (step === 'create') stats.named.add(name);
      else if (step === 'generate') stats.generated.set(result.metadata.name, result.metadata.annotations[REQUEST_ID]);
      else if (step === 'read') assert.deepEqual(result.data, { v: '1' });
      else if (step === 'delete') stats.named.delete(name);
    }
    await sleep(50);
  }
}

// Lost: an object a call succeeded for that is not there (calls that gave up are counted apart). Duplicates:
// objects beyond one per request id, or that no successful call returned.
async function check(ns, stats) {
  const items = (await direct.listNamespacedConfigMap({ namespace: ns })).items;
  const present = new Map(items.map((c) => [c.metadata.name, c]));
  const named = [...present.keys()].filter((n) => n.startsWith('n'));
  const generated = [...present.keys()].filter((n) => n.startsWith('g'));
  const ids = new Map();
  for (const n of generated) {
    const id = present.get(n).metadata.annotations?.[REQUEST_ID];
    ids.set(id, (ids.get(id) ?? 0) + 1);
  }
  const lost =
    [...stats.named].filter((n) => !present.has(n)).length +
    [...stats.generated.keys()].filter((n) => !present.has(n)).length;
  const duplicates =
    [...ids.values()].reduce((a, c) => a + c - 1, 0) + generated.filter((n) => !stats.generated.has(n)).length;
  const unexpected = named.filter((n) => !stats.named.has(n)).length;
  for (const n of named) assert.deepEqual(present.get(n).data, { v: '2' }, `${n} patched`);
  return { lost, duplicates, unexpected };
}

const lines = [];
async function scenario(name, sequence, { kubeconfig = env.KUBECONFIG, workers = 6, rounds, overrides } = {}) {
  const ns = `e2e-rf-${name}-node-${randomUUID().slice(0, 6)}`;
  await direct.createNamespace({ body: { metadata: { name: ns } } });
  const stats = new Stats();
  const api = withRetryClient(core(kubeconfig), { policy: policyOf(overrides), onEvent: stats.onEvent, logger: null });
  let stopped = false;
  const started = Date.now();
  const tasks = Array.from({ length: workers }, (_, w) => worker(api, ns, w, stats, () => stopped, rounds));
  await sequence();
  stopped = true;
  await Promise.all(tasks);
  const figures = await check(ns, stats);
  const seen = Object.entries(stats.seen).sort().map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const line =
    `real-fault ${name} [client-node]: calls ${stats.calls}, attempts ${stats.calls + stats.retries} ` +
    `(retries ${stats.retries}), failures met: ${seen}; recovered ${stats.recovered}, lost ${figures.lost}, ` +
    `duplicates ${figures.duplicates}, gave up ${stats.failed.length} (${((Date.now() - started) / 1000).toFixed(1)} s)`;
  console.log(line);
  lines.push(line);
  assert.deepEqual(stats.failed, []);
  assert.deepEqual(figures, { lost: 0, duplicates: 0, unexpected: 0 });
  assert.ok(stats.retries > 0, 'met no fault at all');
  return stats;
}

test('real-fault apf-429: APF rejects beyond one seat (429, Retry-After, text/plain); all calls end once', { skip }, async () => {
  // A tiny backoff (0.05 s doubling to 0.2 s): any delay of 1 s or more is APF's Retry-After.
  const stats = await scenario('apf-429', async () => {}, {
    kubeconfig: env.KUBECONFIG_USER,
    workers: 10,
    rounds: 3,
    overrides: { maxRetries: 60, initialDelay: 0.05, maxDelay: 0.2 },
  });
  assert.ok(stats.seen['429'] > 0, 'APF never rejected a request');
  assert.ok(Math.min(...stats.throttledDelays) >= 1, `delays ${stats.throttledDelays.slice(0, 5)}`);
});

test('real-fault apf-429: the real 429 as client-node raises it is Throttled with its Retry-After', { skip }, async () => {
  const user = core(env.KUBECONFIG_USER);
  const errors = [];
  await Promise.all(
    Array.from({ length: 12 }, async () => {
      for (let i = 0; i < 10; i += 1) {
        await user.listNamespacedConfigMap({ namespace: 'default' }).catch((e) => e.code === 429 && errors.push(e));
      }
    }),
  );
  assert.ok(errors.length > 0, 'APF never answered 429');
  const e = errors[0];
  assert.match(e.headers['content-type'], /^text\/plain/);
  assert.equal(typeof e.body, 'string');
  assert.ok(!e.body.trimStart().startsWith('{'), e.body);
  assert.equal(classify(e), 'Throttled');
  const hint = Number(e.headers['retry-after']) * 1000;
  assert.ok(hint >= 1000);
  assert.ok(retryAfterDelay(e, 0, policyOf({ initialDelay: 0.05, maxDelay: 0.2 })) >= hint);
});

test('real-fault etcd-pause: 504 Timeout on creates that may have been stored; each ends once', { skip }, async () => {
  const stats = await scenario(
    'etcd-pause',
    async () => {
      await sleep(1000);
      await fault('etcd-pause');
      await sleep(3000);
      await fault('etcd-resume');
      await sleep(2000);
    },
    { workers: 8 },
  );
  assert.ok(stats.seen['504'] > 0, 'no 504 Timeout met');
});

test('real-fault etcd-restart: etcd killed and started again', { skip }, async () => {
  await scenario('etcd-restart', async () => {
    await sleep(1000);
    await fault('etcd-kill');
    await sleep(3000);
    await fault('etcd-start');
    await sleep(2000);
  });
});

test('real-fault apiserver-graceful: SIGTERM with shutdown delay and Retry-After, restarted', { skip }, async () => {
  await scenario('apiserver-graceful', async () => {
    await sleep(1000);
    const term = fault('apiserver-term');
    // Requests held in flight by a paused etcd when the 2 s shutdown delay ends: while the
    // apiserver drains them, new requests get 429 with Retry-After and Connection: close.
    await sleep(1500);
    await fault('etcd-pause');
    await sleep(1500);
    await fault('etcd-resume');
    await term;
    await fault('apiserver-start');
    await sleep(2000);
  });
});

test('real-fault apiserver-kill: SIGKILL under load, restarted', { skip }, async () => {
  await scenario('apiserver-kill', async () => {
    await sleep(1000);
    await fault('apiserver-kill');
    await sleep(1000);
    await fault('apiserver-start');
    await sleep(2000);
  });
});

test('real-fault summary', { skip }, () => {
  console.log('=== k8sretry real-fault report (Node @kubernetes/client-node 1.4) ===');
  for (const line of lines) console.log(line);
});
