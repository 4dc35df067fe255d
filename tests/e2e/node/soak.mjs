// Soak (make soak, through tests/e2e/soak.sh): @kubernetes/client-node 1.4 through withRetryClient
// behind the fault proxy for SOAK_SECONDS at SOAK_RATE calls per second, in one process. The same
// units of work as tests/e2e/python/soak.py (create, read, merge-patch a named ConfigMap, create
// and delete a generateName one, delete the named one), started at a fixed rate; prints RSS and
// fds every 10 s and last one line `SOAK {json}` (see soak.py).
//
// client-node 1.4 makes a new https.Agent for every request (KubeConfig.applySecurityAuthentication),
// so no connection is reused and every request is a TLS handshake: at 200 calls/s neither this
// process nor the fault proxy keeps up (about 70 calls/s measured, in-flight calls and sockets
// growing without bound). As a busy client-node user would, the soak gives the API one keep-alive
// agent with the kubeconfig's CA (an auth method that delegates to the KubeConfig and then sets the
// agent); SOAK_NODE_AGENT=per-request keeps client-node's own behaviour.
import { readFileSync, readdirSync } from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterEnv } from './cluster.mjs';

const pkg = new URL('../../../bindings-node/', import.meta.url);
const require = createRequire(new URL('package.json', pkg));
const k8s = require('@kubernetes/client-node');
const { Policy, metricsText, withRetryClient } = require(new URL('dist/cjs/index.js', pkg).pathname);

const env = clusterEnv();
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 200);
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

function core(kubeconfig) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc.makeApiClient(k8s.CoreV1Api);
}
// The same API with one keep-alive agent for all requests (see the top of the file).
function keepAliveCore(kubeconfig) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const cluster = kc.getCurrentCluster();
  const agent = new https.Agent({ keepAlive: true, maxSockets: 256, ca: readFileSync(cluster.caFile) });
  const auth = {
    getName: () => 'kubeconfig with a keep-alive agent',
    applySecurityAuthentication: async (context) => {
      await kc.applySecurityAuthentication(context);
      context.setAgent(agent);
    },
  };
  const config = k8s.createConfiguration({ baseServer: new k8s.ServerConfiguration(cluster.server, {}), authMethods: { default: auth } });
  return new k8s.CoreV1Api(config);
}
const perRequestAgent = process.env.SOAK_NODE_AGENT === 'per-request';
const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const fds = () => readdirSync('/proc/self/fd').length;

function metricCounts(text) {
  const calls = {};
  let retries = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('k8sretry_calls_total{')) {
      const outcome = /outcome="([^"]*)"/.exec(line)[1];
      calls[outcome] = (calls[outcome] ?? 0) + Number(line.split(' ').at(-1));
    } else if (line.startsWith('k8sretry_retries_total{')) {
      retries += Number(line.split(' ').at(-1));
    }
  }
  return { calls, calls_total: Object.values(calls).reduce((a, b) => a + b, 0), retries };
}

const events = {};
const policy = new Policy({ maxRetries: 10, initialDelay: 0.05, maxDelay: 1, retryAfterCap: 2, budget: false });
const admin = core(env.KUBECONFIG);
const ns = `soak-node-${randomUUID().slice(0, 6)}`;
await admin.createNamespace({ body: { metadata: { name: ns } } });
const api = withRetryClient(perRequestAgent ? core(env.KUBECONFIG_PROXY) : keepAliveCore(env.KUBECONFIG_PROXY), {
  policy,
  logger: null,
  onEvent: (e) => (events[e.event] = (events[e.event] ?? 0) + 1),
});
const work = { calls: 0, ok: 0, failed: 0 };
const errors = {};
const samples = [];

async function one(step, fn) {
  work.calls += 1;
  try {
    const result = await fn();
    work.ok += 1;
    return result ?? true;
  } catch (err) {
    work.failed += 1;
    const key = `${step}: ${err?.code ?? ''} ${String(err?.message).split('\n')[0].slice(0, 80)}`;
    errors[key] = (errors[key] ?? 0) + 1;
    return null;
  }
}

async function unit(k) {
  const name = `s-${k}`;
  if (await one('create', () => api.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name }, data: { v: '1' } } }))) {
    await one('read', () => api.readNamespacedConfigMap({ name, namespace: ns }));
    await one('patch', () => api.patchNamespacedConfigMap({ name, namespace: ns, body: { data: { v: '2' } } }, MERGE));
  }
  const generated = await one('generate', () => api.createNamespacedConfigMap({ namespace: ns, body: { metadata: { generateName: 'g-' } } }));
  if (generated) await one('delete-generated', () => api.deleteNamespacedConfigMap({ name: generated.metadata.name, namespace: ns }));
  await one('delete', () => api.deleteNamespacedConfigMap({ name, namespace: ns }));
}

const interval = (6 / RATE) * 1000;
const t0 = performance.now();
const inflight = new Set();
let nextSample = 0;
for (let k = 0; ; k += 1) {
  const now = (performance.now() - t0) / 1000;
  if (now >= SECONDS) break;
  if (now >= nextSample) {
    samples.push([Math.round(now * 10) / 10, rssKb(), fds()]);
    console.log(`t=${now.toFixed(0).padStart(5)} s rss=${samples.at(-1)[1]} kB fds=${samples.at(-1)[2]} calls=${work.calls} in flight=${inflight.size}`);
    nextSample += 10;
  }
  const p = unit(k).finally(() => inflight.delete(p));
  inflight.add(p);
  await sleep(Math.max(0, t0 + (k + 1) * interval - performance.now()));
}
await Promise.all(inflight);
const elapsed = (performance.now() - t0) / 1000;
await sleep(1500); // the engine may batch first-attempt successes for a moment
samples.push([Math.round(elapsed * 10) / 10, rssKb(), fds()]);
const left = (await admin.listNamespacedConfigMap({ namespace: ns })).items;
const start = samples.length > 2 ? samples[1] : samples[0];
const after = samples.length > 2 ? samples.slice(1) : samples;
console.log(
  'SOAK ' +
    JSON.stringify({
      language: 'node',
      client: `@kubernetes/client-node 1.4${perRequestAgent ? '' : ', one keep-alive agent'}`,
      seconds: Math.round(elapsed * 10) / 10,
      calls: work.calls,
      rate: Math.round((work.calls / SECONDS) * 10) / 10,
      ok: work.ok,
      failed: work.failed,
      errors,
      retries: events.k8s_api_call_failed_retrying ?? 0,
      succeeded_after_retry: events.k8s_api_call_succeeded_after_retry ?? 0,
      recovered: events.k8s_api_call_recovered_lost_response ?? 0,
      metrics: metricCounts(metricsText()),
      rss_kb: { start: start[1], end: samples.at(-1)[1], max: Math.max(...after.map((s) => s[1])) },
      fds: { start: start[2], end: samples.at(-1)[2], max: Math.max(...after.map((s) => s[2])) },
      left_in_namespace: left.slice(0, 10).map((c) => c.metadata.name),
      left_count: left.length,
      samples,
    }),
);
process.exit(0);
