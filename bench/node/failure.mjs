// Node: the failure path of k8sretry's withRetry against cockatiel's, side by side in one run.
// N concurrent calls (Promise.all), each failing once with @kubernetes/client-node 1.4's own
// ApiException for a 503 (numeric `code`, the Status JSON text as `body`, a `headers` object, its
// 'HTTP-Code: 503 Message: ...' message), then succeeding on the retry; 1 ms backoff on both
// sides. Time per call = the round's wall time / N, the fastest round of several, each side in
// fresh processes, interleaved. At the largest N also the RSS a process keeps after a forced GC.
// Every call must succeed on both sides, with exactly two attempts: the bench exits non-zero
// otherwise. k8sretry runs with `logger: null` (cockatiel logs nothing). Run with --expose-gc (the
// parent below does). Prints one JSON object.
//
//   node failure.mjs                      every side and N, the JSON on stdout
//   node --expose-gc failure.mjs <side> <N> [budget]   one process (side: k8sretry, cockatiel;
//                                         budget: default, none), its figures as JSON
import { ApiException } from '@kubernetes/client-node';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { Policy, withRetry } from 'k8sretry';
import { unavailable } from './status.mjs';

const SIZES = [1_000, 10_000, 100_000];
// Rounds per process and processes per side: a 100k round takes about a second.
const ROUNDS = { 1000: 30, 10000: 10, 100000: 3 };
const PROCESSES = { 1000: 3, 10000: 3, 100000: 3 };
const DELAY_MS = 1;

// The statuses a cockatiel user would retry (k8sretry's engine classifies the same 503 itself).
const TRANSIENT = new Set([429, 500, 502, 503, 504]);
const cockatielPolicy = retry(
  handleWhen((err) => err instanceof ApiException && TRANSIENT.has(err.code)),
  { maxAttempts: 3, backoff: new ExponentialBackoff({ initialDelay: DELAY_MS }) },
);

/** k8sretry's `default` preset at a 1 ms first delay (its jitter, 10%, kept), with the
 * process-wide retry budget (`default`) or none (`none`). */
function k8sPolicy(budget) {
  return new Policy({ preset: 'default', initialDelay: DELAY_MS / 1000, ...(budget === 'none' ? { budget: false } : {}) });
}

/** One call: fails once with the 503, then answers 1. `attempts` counts every attempt made. */
function flaky(counter) {
  let failed = false;
  return async function readNamespacedPod() {
    counter.attempts += 1;
    if (!failed) {
      failed = true;
      throw unavailable();
    }
    return 1;
  };
}

async function round(side, n, policy) {
  const counter = { attempts: 0 };
  const run =
    side === 'k8sretry'
      ? () => withRetry(flaky(counter), { policy, logger: null, verb: 'GET' })
      : () => cockatielPolicy.execute(flaky(counter));
  const t = process.hrtime.bigint();
  const settled = await Promise.allSettled(Array.from({ length: n }, run));
  const ns = Number(process.hrtime.bigint() - t) / n;
  const failed = settled.filter((s) => s.status === 'rejected');
  return { ns, failed: failed.length, attempts: counter.attempts, reasons: failed.map((s) => s.reason?.k8sretry?.reason ?? String(s.reason)) };
}

async function child(side, n, budget) {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
  const policy = side === 'k8sretry' ? k8sPolicy(budget) : undefined;
  // A short warm-up (the JIT, the timer lists), then the baseline.
  await round(side, 100, policy);
  await settle();
  const before = process.memoryUsage();
  let best = Infinity;
  let failed = 0;
  const reasons = {};
  for (let r = 0; r < ROUNDS[n]; r += 1) {
    const res = await round(side, n, policy);
    best = Math.min(best, res.ns);
    failed += res.failed;
    for (const reason of res.reasons) reasons[reason] = (reasons[reason] ?? 0) + 1;
    if (res.failed === 0 && res.attempts !== 2 * n) {
      throw new Error(`${side}: ${res.attempts} attempts for ${n} calls (expected ${2 * n})`);
    }
  }
  await settle();
  const after = process.memoryUsage();
  return {
    ns_per_call: best,
    calls: ROUNDS[n] * n,
    failed,
    reasons,
    rss_growth_mib: (after.rss - before.rss) / 2 ** 20,
    heap_growth_mib: (after.heapUsed - before.heapUsed) / 2 ** 20,
    heap_total_growth_mib: (after.heapTotal - before.heapTotal) / 2 ** 20,
    external_growth_mib: (after.external - before.external) / 2 ** 20,
  };
}

/** Forced GCs with turns of the event loop between them (napi finalizers run after a GC). */
async function settle() {
  for (let i = 0; i < 3; i += 1) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

if (process.argv[2]) {
  const [side, n, budget = 'default'] = process.argv.slice(2);
  process.stdout.write(JSON.stringify(await child(side, Number(n), budget)));
  process.exit(0);
}

const { execFileSync } = await import('node:child_process');
const script = new URL(import.meta.url).pathname;
const once = (side, n, budget) =>
  JSON.parse(execFileSync(process.execPath, ['--expose-gc', script, side, String(n), budget], { encoding: 'utf8' }));
const SIDES = [
  ['k8sretry', 'default'],
  ['k8sretry', 'none'],
  ['cockatiel', 'default'],
];
const label = (side, budget) => (side === 'k8sretry' ? `k8sretry (budget: ${budget})` : side);
const out = {};
for (const n of SIZES) {
  const runs = Object.fromEntries(SIDES.map(([side, budget]) => [label(side, budget), []]));
  for (let p = 0; p < PROCESSES[n]; p += 1) {
    for (const [side, budget] of SIDES) runs[label(side, budget)].push(once(side, n, budget));
  }
  out[n] = Object.fromEntries(
    Object.entries(runs).map(([name, rs]) => [
      name,
      {
        ns_per_call: Math.min(...rs.map((r) => r.ns_per_call)),
        calls: rs.reduce((a, r) => a + r.calls, 0),
        failed: rs.reduce((a, r) => a + r.failed, 0),
        reasons: rs.reduce((a, r) => {
          for (const [k, v] of Object.entries(r.reasons)) a[k] = (a[k] ?? 0) + v;
          return a;
        }, {}),
        // The least a process kept: growth only ever comes from the run, noise adds to it.
        rss_growth_mib: Math.min(...rs.map((r) => r.rss_growth_mib)),
        heap_growth_mib: Math.min(...rs.map((r) => r.heap_growth_mib)),
      },
    ]),
  );
}
// Every call succeeds on the mechanics' sides; k8sretry's default budget may refuse some at once
// (reported, and then the goal is measured without a budget).
for (const [n, sides] of Object.entries(out)) {
  for (const name of ['k8sretry (budget: none)', 'cockatiel']) {
    if (sides[name].failed > 0) {
      console.error(`${name} at N=${n}: ${sides[name].failed} calls failed: ${JSON.stringify(sides[name].reasons)}`);
      process.exit(1);
    }
  }
}
const goals = {};
for (const n of SIZES) {
  const sides = out[n];
  const used = sides['k8sretry (budget: default)'].failed === 0 ? 'default' : 'none';
  sides.k8sretry_policy_used = used;
  goals[`failure path at ${n} calls, k8sretry / cockatiel per call (goal <= 1)`] =
    sides[`k8sretry (budget: ${used})`].ns_per_call / sides.cockatiel.ns_per_call;
}
console.log(JSON.stringify({ node: process.version, delay_ms: DELAY_MS, by_calls: out, goals }));
