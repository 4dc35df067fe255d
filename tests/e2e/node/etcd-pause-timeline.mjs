// Not a test (node --test skips it): the etcd-pause scenario of real-faults.test.mjs, `runs` times
// (default 3), with every generateName create attempt and every read-back list logged per request
// id. For each request id with more than one object, or an object no call returned, it prints the
// timeline and what the apiserver stored (name, creationTimestamp, resourceVersion, label); it also
// prints the creates a second list found after a first one answered none (the engine's
// READ_BACK_CONFIRM_DELAY at work, tests/e2e/README.md "Found: the etcd-pause duplicates").
// Needs the real-fault cluster profile: tests/cluster/up-faults.sh, then
//   node tests/e2e/node/etcd-pause-timeline.mjs [runs]
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterEnv } from './cluster.mjs';

const pkg = new URL('../../../bindings-node/', import.meta.url);
const require = createRequire(new URL('package.json', pkg));
const k8s = require('@kubernetes/client-node');
const { Policy, REQUEST_ID, withRetryClient } = require(new URL('dist/cjs/index.js', pkg).pathname);
const env = clusterEnv();
if (env.K8SRETRY_PROFILE !== 'faults') {
  console.error('needs the real-fault cluster profile: tests/cluster/up-faults.sh');
  process.exit(2);
}
const FAULT = new URL('../../cluster/fault.sh', import.meta.url).pathname;
const run = promisify(execFile);
const T0 = Date.now();
const t = () => ((Date.now() - T0) / 1000).toFixed(3);

function core() {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(env.KUBECONFIG);
  return kc.makeApiClient(k8s.CoreV1Api);
}
const direct = core();
const timeline = new Map(); // request id -> lines
const note = (rid, line) => {
  if (!timeline.has(rid)) timeline.set(rid, []);
  timeline.get(rid).push(`${t()} ${line}`);
};
const faults = [];
async function fault(action) {
  const { stdout } = await run(FAULT, [action]);
  faults.push(`${t()} ${stdout.trim()}`);
}

function instrumented() {
  const api = core();
  const create = api.createNamespacedConfigMap.bind(api);
  const list = api.listNamespacedConfigMap.bind(api);
  api.createNamespacedConfigMap = async (params, opts) => {
    const rid = params.body?.metadata?.labels?.[REQUEST_ID];
    if (rid === undefined) return create(params, opts);
    note(rid, 'create sent');
    try {
      const r = await create(params, opts);
      note(rid, `create -> 201 ${r.metadata.name} rv ${r.metadata.resourceVersion}`);
      return r;
    } catch (e) {
      note(rid, `create -> ${e.code ?? ''} ${String(e.message ?? e).slice(0, 80).replace(/\s+/g, ' ')}`);
      throw e;
    }
  };
  api.listNamespacedConfigMap = async (params, opts) => {
    const rid = params.labelSelector?.split('=')[1];
    note(rid, `list sent (rv ${JSON.stringify(params.resourceVersion)})`);
    try {
      const r = await list(params, opts);
      note(rid, `list -> ${r.items.map((i) => i.metadata.name).join(',') || 'none'} (list rv ${r.metadata.resourceVersion})`);
      return r;
    } catch (e) {
      note(rid, `list -> ${e.code ?? ''} ${String(e.message ?? e).slice(0, 80).replace(/\s+/g, ' ')}`);
      throw e;
    }
  };
  return api;
}

async function once(i) {
  const ns = `diag-${randomUUID().slice(0, 6)}`;
  await direct.createNamespace({ body: { metadata: { name: ns } } });
  timeline.clear();
  faults.length = 0;
  const events = [];
  const policy = new Policy({ maxRetries: 40, initialDelay: 0.1, maxDelay: 1, retryAfterCap: 5, budget: false });
  const api = withRetryClient(instrumented(), {
    policy,
    logger: null,
    onEvent: (e) => {
      if (e.event !== 'k8s_api_call_succeeded') events.push(`${t()} ${e.event} ${e.function} ${e.status_code ?? e.code ?? e.error_type ?? ''} attempt ${e.attempt}`);
    },
  });
  let stopped = false;
  const returned = new Map();
  let calls = 0;
  const worker = async (w) => {
    for (let k = 0; !stopped; k += 1) {
      calls += 1;
      const r = await api.createNamespacedConfigMap({ namespace: ns, body: { metadata: { generateName: `g${w}-` } } });
      returned.set(r.metadata.name, r.metadata.annotations[REQUEST_ID]);
      calls += 1;
      await api.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `n${w}-${k}` } } });
      await sleep(50);
    }
  };
  const tasks = Array.from({ length: 8 }, (_, w) => worker(w));
  await sleep(1000);
  await fault('etcd-pause');
  await sleep(3000);
  await fault('etcd-resume');
  await sleep(2000);
  stopped = true;
  await Promise.all(tasks);
  const items = (await direct.listNamespacedConfigMap({ namespace: ns })).items.filter((c) => c.metadata.name.startsWith('g'));
  const byId = new Map();
  for (const c of items) {
    const id = c.metadata.annotations?.[REQUEST_ID];
    byId.set(id, [...(byId.get(id) ?? []), c]);
  }
  let dups = 0;
  for (const [id, cs] of byId) {
    const unreturned = cs.filter((c) => !returned.has(c.metadata.name));
    if (cs.length > 1 || unreturned.length > 0) {
      dups += cs.length - 1 + (cs.length === 1 ? 1 : 0);
      console.log(`  DUPLICATE request id ${id}:`);
      for (const c of cs)
        console.log(`    stored ${c.metadata.name} created ${c.metadata.creationTimestamp} rv ${c.metadata.resourceVersion} returned=${returned.has(c.metadata.name)} label=${c.metadata.labels?.[REQUEST_ID]}`);
      for (const line of timeline.get(id) ?? ['(no timeline)']) console.log(`    ${line}`);
    }
  }
  let saved = 0;
  for (const [id, lines] of timeline) {
    const lists = lines.filter((l) => l.includes('list ->') && !/list -> \d|list -> .*HTTP/.test(l));
    const none = lists.findIndex((l) => l.includes('list -> none'));
    if (none >= 0 && lists.slice(none + 1).some((l) => !l.includes('list -> none'))) {
      saved += 1;
      console.log(`  CONFIRM FOUND request id ${id}:`);
      for (const line of lines) console.log(`    ${line}`);
    }
  }
  const recovered = events.filter((e) => e.includes('recovered')).length;
  const retries = events.filter((e) => e.includes('failed_retrying')).length;
  console.log(`run ${i}: calls ${calls} retries ${retries} recovered ${recovered} (by the second look ${saved}) duplicates ${dups}; faults ${faults.join(' | ')}`);
  if (dups > 0 || process.env.DIAG_VERBOSE) for (const e of events) console.log(`    ev ${e}`);
  await direct.deleteNamespace({ name: ns });
  return dups;
}

const runs = Number(process.argv[2] ?? 3);
let total = 0;
for (let i = 0; i < runs; i += 1) total += await once(i);
console.log(`total duplicates ${total} over ${runs} runs`);
