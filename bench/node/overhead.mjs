// Node: per-call overhead of k8sretry's withRetry and a withRetryClient method call against a bare
// call, cockatiel, p-retry and async-retry, side by side in one process (interleaved rounds).
// Overhead = time per call minus a bare async call's. Then the failure path against cockatiel's
// (failure.mjs, run from here: N concurrent calls, one 503 each). Prints one JSON object.
import asyncRetry from 'async-retry';
import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import { Policy, withRetry, withRetryClient } from 'k8sretry';
import pRetry from 'p-retry';

const N = 100_000;
const BATCHES = 5;
const ROUNDS = 15;

async function bare() {
  return 1;
}

// An API object shaped like client-node's CoreV1Api: methods taking one params object.
class FakeCoreV1Api {
  async readNamespacedConfigMap(params) {
    return params.name;
  }
}

const k8sPolicy = new Policy({ preset: 'default' });
const cockatielPolicy = retry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() });
const api = new FakeCoreV1Api();
const wrappedApi = withRetryClient(new FakeCoreV1Api(), { policy: k8sPolicy, logger: null });
const params = { name: 'x', namespace: 'y' };

const candidates = {
  'bare call': () => bare(),
  'k8sretry withRetry': () => withRetry(bare, { policy: k8sPolicy, logger: null }),
  'bare client method': () => api.readNamespacedConfigMap(params),
  'k8sretry withRetryClient method': () => wrappedApi.readNamespacedConfigMap(params),
  cockatiel: () => cockatielPolicy.execute(bare),
  'p-retry': () => pRetry(bare, { retries: 3 }),
  'async-retry': () => asyncRetry(bare, { retries: 3 }),
};

// Each candidate runs in a fresh process (a clean JIT, as in an app that uses one library), the
// candidates interleaved round by round; the figure is the fastest round (noise on a shared VM
// only ever adds time).
// The engine's decision through the binding: a call begun outside the timing (on a GET, with
// nobody listening for events, as withRetry with `logger: null`), then the retry loop's own
// decide() on the failure it extracted. `--decision` times a 503 (the figure the goal is for),
// `--decision-body` a 503 that carries client-node's Status JSON body and message (the body is
// read by the engine, and that read is most of the difference).
if (process.argv[2] === '--decision' || process.argv[2] === '--decision-body') {
  const { createRequire } = await import('node:module');
  // The package exports only its public API; the bench reaches the internal layer by path.
  const load = (file) => createRequire(import.meta.url)(new URL(`node_modules/k8sretry/dist/cjs/${file}`, import.meta.url).pathname);
  const { native } = load('native.js');
  const { decide } = load('decide.js');
  const policy = native.NativePolicy.fromJson('{"budget": null}');
  const { STATUS_BODY: body } = await import('./status.mjs');
  const failure =
    process.argv[2] === '--decision'
      ? { status: 503 }
      : { status: 503, body, errorType: 'ApiException', message: 'HTTP-Code: 503 Message: Unknown API Status Code!' };
  const rounds = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    const calls = Array.from({ length: 50_000 }, () => native.beginCall(policy, 'read_pod', 'GET', 'none', 0, false));
    const t = process.hrtime.bigint();
    for (const call of calls) decide(call, failure, false);
    rounds.push(Number(process.hrtime.bigint() - t) / calls.length);
    for (const call of calls) native.releaseCall(call);
  }
  process.stdout.write(String(Math.min(...rounds)));
  process.exit(0);
}
if (process.argv[2]) {
  const fn = candidates[process.argv[2]];
  for (let i = 0; i < N / 5; i += 1) await fn(); // warm-up
  // The fastest of a few batches: a batch that a neighbour on the VM slowed down is dropped.
  let best = Infinity;
  for (let batch = 0; batch < BATCHES; batch += 1) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i += 1) await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / N);
  }
  process.stdout.write(String(best));
  process.exit(0);
}
const { execFileSync } = await import('node:child_process');
const samples = Object.fromEntries(Object.keys(candidates).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round += 1) {
  for (const name of Object.keys(candidates)) {
    const out = execFileSync(process.execPath, [new URL(import.meta.url).pathname, name], { encoding: 'utf8' });
    samples[name].push(Number(out));
  }
}
// Three processes each (a whole process can land on a slow stretch of the VM); the fastest.
const timeDecision = (mode) =>
  Math.min(
    ...[0, 1, 2].map(() =>
      Number(execFileSync(process.execPath, [new URL(import.meta.url).pathname, mode], { encoding: 'utf8' })),
    ),
  );
const decision = timeDecision('--decision');
const decisionWithBody = timeDecision('--decision-body');
// The failure path (failure.mjs: N concurrent calls, one 503 each, then success), in its own processes.
const failurePath = JSON.parse(
  execFileSync(process.execPath, [new URL('failure.mjs', import.meta.url).pathname], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }),
);
const ns = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, Math.min(...v)]));
const overhead = {};
for (const [k, v] of Object.entries(ns)) {
  if (k === 'bare call' || k === 'bare client method') continue;
  overhead[k] = v - (k.includes('withRetryClient') ? ns['bare client method'] : ns['bare call']);
}
console.log(
  JSON.stringify({
    node: process.version,
    ns_per_call: ns,
    overhead_ns: overhead,
    decision_through_binding_ns: decision,
    decision_with_status_body_ns: decisionWithBody,
    failure_path: failurePath,
    goals: {
      'decision through the binding, ns (goal <= 300)': decision,
      'withRetry overhead / cockatiel (goal <= 0.6)': overhead['k8sretry withRetry'] / overhead.cockatiel,
      'withRetryClient method overhead / cockatiel (goal <= 0.6)':
        overhead['k8sretry withRetryClient method'] / overhead.cockatiel,
      ...failurePath.goals,
    },
  }),
);
