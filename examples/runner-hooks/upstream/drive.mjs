// Drives actions/runner-container-hooks' own code, adopted with k8sretry (run.sh builds it), against
// the real kube-apiserver of tests/cluster behind the fault proxy, with the hooks' default policy
// (runner_hooks: 3 retries):
//   1. ROUNDS rounds, CONCURRENCY runners at a time: prepare and a container step (hook.cjs: their
//      compiled functions from packages/k8s/lib) and cleanup_job (their RELEASE: index.js of the
//      flat zip, fed the runner's stdin JSON), at about FAULTS of every POST/GET/DELETE faulted.
//      Every failed round must be one the fault physics explains (below), nothing is left behind.
//   2. A stale pod of a stranger holds the job pod's name: their createJobPod rejects with the 409,
//      also after an attempt whose connection was reset; the pod is untouched (never adopted).
//   3. STRESS lost creates (half the committed creates lose their response, half the read-backs are
//      dropped): each returns the pod it created, stored once.
//
//   node drive.mjs <packages/k8s/lib> <release folder> <node binary>
// The fault physics: with a share p of requests faulted, a call fails only when all of its 4
// attempts are faulted, p^4 (0.2^4 = 1/625). Each hook process sends 13 reviews first (their
// isAuthPermissionsOK), then its own calls, so a round makes about 55 calls; the expected number of
// failed calls is calls * p^4 (about 1.2 to 1.5 for 10 rounds at 20 to 23%), and a failed call fails its round. The
// check: failed rounds <= the 99.9% quantile of a Poisson law of that mean, and each failure is a
// give-up on retryable faults.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { batch, control, controllers, core, env, plan, roundPlan } from '../test/harness.mjs';

const [lib, release, nodeBin] = process.argv.slice(2);
if (!lib || !release || !nodeBin) throw new Error('usage: node drive.mjs <packages/k8s/lib> <release folder> <node binary>');
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 5);
const FAULTS = Number(process.env.FAULTS ?? 0.2);
const SEED = Number(process.env.SEED ?? 1);
const STRESS = Number(process.env.STRESS ?? 25);
const STRESS_SEED = Number(process.env.STRESS_SEED ?? 2);
const REQUEST_ID = 'k8sretry.dev/request-id';
const hookScript = fileURLToPath(new URL('./hook.cjs', import.meta.url));

function run(args, runner, ns, input) {
  return new Promise((done, reject) => {
    const child = spawn(nodeBin, args, {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        KUBECONFIG: env.KUBECONFIG_PROXY,
        ACTIONS_RUNNER_KUBERNETES_NAMESPACE: ns,
        ACTIONS_RUNNER_POD_NAME: runner,
        RUNNER_WORKSPACE: '/tmp/runner/_work/repo',
        GITHUB_WORKSPACE: '/tmp/runner/_work/repo/repo',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => done({ code, lines: out.split('\n').filter(Boolean), stderr: err }));
    child.stdin.end(input ?? '');
  });
}

/** A step from their compiled lib (hook.cjs). */
async function step(runner, ns, name, ...args) {
  const r = await run([hookScript, lib, name, ...args], runner, ns);
  const line = r.lines.find((l) => l.startsWith('RESULT '));
  const result = line ? JSON.parse(line.slice(7)) : { ok: false, message: `no RESULT (exit ${r.code}): ${r.stderr.trim()}` };
  return { ...result, lines: r.lines.filter((l) => !l.startsWith('RESULT ')) };
}

/** A hook of their release zip, as the runner starts it: `node index.js`, the hook's JSON on stdin. */
async function releaseHook(runner, ns, command) {
  const input = JSON.stringify({ command, responseFile: '', args: {}, state: {} });
  const r = await run([join(release, 'index.js')], runner, ns, `${input}\n`);
  const error = r.lines.find((l) => l.startsWith('::error::'));
  return { ok: r.code === 0, message: error ?? (r.code === 0 ? '' : `exit ${r.code}: ${r.stderr.trim()}`), lines: r.lines };
}

/** The smallest k with P(Poisson(mean) > k) < 0.001. */
function poissonQuantile(mean, q = 0.999) {
  let k = 0;
  let term = Math.exp(-mean);
  let sum = term;
  while (sum < q) {
    k += 1;
    term *= mean / k;
    sum += term;
  }
  return k;
}

const report = { rounds: 0, failedRounds: 0, hookRuns: 0, warnings: 0, requests: 0, faults: {}, leftovers: null };
const started = Date.now();
const ns = `upstream-${randomUUID().slice(0, 8)}`;
await core.createNamespace({ body: { metadata: { name: ns } } });
const stopControllers = controllers(ns, (pod) => (pod.metadata.name.includes('-step-') ? 'Succeeded' : 'Running'));
const failures = [];
try {
  // 1. Rounds.
  await plan(roundPlan(FAULTS), SEED);
  const runRound = async (round) => {
    const runner = `runner-${round}`;
    const t0 = Date.now();
    let failed;
    for (const name of ['prepare', 'step', 'cleanup_job']) {
      const result = name === 'cleanup_job' ? await releaseHook(runner, ns, name) : await step(runner, ns, name);
      report.hookRuns += 1;
      report.warnings += result.lines.filter((l) => l.startsWith('::warning::')).length;
      if (process.env.VERBOSE) for (const l of result.lines) console.log(`  [${runner} ${name}] ${l}`);
      if (!result.ok) {
        failed = { runner, hook: name, message: result.message, giveUp: result.giveUp, attempts: result.attempts, lines: result.lines.slice(-4) };
        break;
      }
    }
    report.rounds += 1;
    if (failed) {
      report.failedRounds += 1;
      failures.push(failed);
      console.log(`[upstream] round ${round}: FAILED in ${failed.hook}: ${failed.message} (${failed.giveUp ?? ''})`);
      // The runner runs its cleanup hook after a failed job too.
      const again = await releaseHook(runner, ns, 'cleanup_job');
      if (!again.ok) console.log(`[upstream] round ${round}: its cleanup failed too: ${again.message}`);
    } else {
      console.log(`[upstream] round ${round}: ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  };
  let next = 1;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, ROUNDS) }, async () => {
      while (next <= ROUNDS) await runRound(next++);
    }),
  );
  const stats = await control('GET', 'stats');
  report.requests = stats.requests;
  report.faults = stats.faults;
  await plan([], SEED);
  report.leftovers = [
    ...(await core.listNamespacedPod({ namespace: ns })).items.map((o) => `pod/${o.metadata.name}`),
    ...(await core.listNamespacedSecret({ namespace: ns })).items.filter((o) => o.metadata.labels?.['runner-pod']).map((o) => `secret/${o.metadata.name}`),
    ...(await batch.listNamespacedJob({ namespace: ns })).items.map((o) => `job/${o.metadata.name}`),
  ];

  // 2. A stranger's stale pod of the job pod's name (no runner label: prunePods leaves it).
  const stale = await core.createNamespacedPod({
    namespace: ns,
    body: { metadata: { name: 'stale-workflow', annotations: { owner: 'someone-else' } }, spec: { containers: [{ name: 'c', image: 'registry.invalid/x:1' }] } },
  });
  const firstAttempt = await step('stale', ns, 'create_pod');
  await plan([{ method: 'POST', path: '/pods$', fault: 'drop_before', count: 1 }], SEED);
  const afterReset = await step('stale', ns, 'create_pod');
  await plan([], SEED);
  const still = await core.readNamespacedPod({ name: 'stale-workflow', namespace: ns });
  report.stale = {
    firstAttempt: { ok: firstAttempt.ok, code: firstAttempt.code, reason: firstAttempt.reason, attempts: firstAttempt.attempts },
    afterReset: { ok: afterReset.ok, code: afterReset.code, reason: afterReset.reason, attempts: afterReset.attempts },
    untouched: still.metadata.uid === stale.metadata.uid && still.metadata.annotations?.[REQUEST_ID] === undefined,
  };
  await core.deleteNamespacedPod({ name: 'stale-workflow', namespace: ns, gracePeriodSeconds: 0 });

  // 3. Lost creates.
  await plan(
    [
      { method: 'POST', path: '/pods$', fault: 'drop_after', probability: 0.5, status: [201] },
      { method: 'GET', path: '/pods/stress-', fault: 'drop_before', probability: 0.5 },
    ],
    STRESS_SEED,
  );
  const stress = { created: 0, failed: [] };
  const batchRun = await step('stress', ns, 'create_pods', String(STRESS));
  assert.ok(batchRun.ok, `the lost-create process failed: ${batchRun.message}`);
  for (const [i, result] of batchRun.results.entries()) {
    if (!result.ok) {
      stress.failed.push({ runner: `stress-${i + 1}`, message: result.message, giveUp: result.giveUp, attempts: result.attempts });
      continue;
    }
    const stored = await core.readNamespacedPod({ name: result.pod, namespace: ns });
    assert.equal(stored.metadata.annotations[REQUEST_ID], result.annotations[REQUEST_ID], `${result.pod}: the pod returned is the one stored`);
    stress.created += 1;
  }
  const log = await control('GET', 'log');
  await plan([], SEED);
  stress.lostResponses = log.filter((e) => e.method === 'POST').length;
  stress.droppedReadBacks = log.filter((e) => e.method === 'GET').length;
  const pods = (await core.listNamespacedPod({ namespace: ns })).items.filter((p) => p.metadata.name.startsWith('stress-'));
  stress.podsStored = pods.length;
  report.stress = stress;
  await Promise.all(pods.map((p) => core.deleteNamespacedPod({ name: p.metadata.name, namespace: ns, gracePeriodSeconds: 0 })));
} finally {
  await plan([], SEED).catch(() => {});
  await stopControllers();
  await core.deleteNamespace({ name: ns }).catch(() => {});
  report.seconds = Math.round((Date.now() - started) / 1000);
}

const faulted = Object.values(report.faults).reduce((a, b) => a + b, 0);
const p = faulted / Math.max(1, report.requests);
// Calls, not requests: each call makes 1/(1-p) requests on average.
const calls = report.requests * (1 - p);
const expected = calls * p ** 4;
const bound = poissonQuantile(expected);
report.prediction = { faultShare: Number(p.toFixed(3)), calls: Math.round(calls), expectedFailedCalls: Number(expected.toFixed(2)), bound999: bound };
console.log('=== runner-container-hooks (their code, their release) with k8sretry, against the real apiserver behind the fault proxy ===');
console.log(JSON.stringify({ ...report, failures }, null, 2));
console.log(
  `rounds ${report.rounds} (failed ${report.failedRounds}; physics: ${expected.toFixed(2)} expected at ${(100 * p).toFixed(1)}% faults over ~${Math.round(calls)} calls, ` +
    `at most ${bound} at 99.9%), hook runs ${report.hookRuns}, requests ${report.requests}, warnings ${report.warnings}, left behind ${report.leftovers.length}; ` +
    `stale pod: ${report.stale.firstAttempt.code}/${report.stale.afterReset.code}, adopted: ${!report.stale.untouched}; ` +
    `lost creates: ${report.stress.created}/${STRESS} (${report.stress.lostResponses} responses lost, ${report.stress.droppedReadBacks} read-backs dropped); ${report.seconds} s`,
);

assert.equal(report.rounds, ROUNDS);
if (ROUNDS > 0) assert.ok(p >= FAULTS * 0.75, `only ${faulted} of ${report.requests} requests faulted`);
assert.ok(report.failedRounds <= bound, `${report.failedRounds} failed rounds, more than the physics allows (${bound})`);
assert.deepEqual(report.leftovers, [], 'objects left behind');
for (const attempt of [report.stale.firstAttempt, report.stale.afterReset]) {
  assert.equal(attempt.ok, false, 'a stale pod was adopted');
  assert.equal(attempt.code, 409);
  assert.equal(attempt.reason, 'AlreadyExists');
}
assert.equal(report.stale.afterReset.attempts, 2, 'the create was resent after the reset, then read back');
assert.equal(report.stale.untouched, true);
assert.equal(report.stress.created, STRESS, `lost creates: ${JSON.stringify(report.stress.failed)}`);
assert.equal(report.stress.podsStored, STRESS);
if (STRESS > 0) assert.ok(report.stress.lostResponses >= STRESS / 4, 'the stress lost too few responses to mean anything');
