// What both harnesses (e2e.mjs for the example, ../upstream/drive.mjs for the hooks' own code) share:
// the cluster's env (tests/cluster/.run/env), direct clients of the apiserver (never faulted), the
// fault proxy's control endpoints, the kubelet and job controller the test cluster lacks, a foreign
// deleter, the round's fault plan, and the three parts of the run: hook processes started as the
// runner starts them, rounds under faults (then what is left behind), a foreign pod of the job pod's
// name (never adopted), lost creates (all recovered), and the checks on the report they fill.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

import * as k8s from '@kubernetes/client-node';

import { clusterEnv } from '../../../tests/e2e/node/cluster.mjs';

// The local cluster's settings, only once tests/cluster/local-env.sh found that .run is the
// throw-away apiserver up.sh started (never another cluster).
export const env = clusterEnv();
export const kc = new k8s.KubeConfig();
kc.loadFromFile(env.KUBECONFIG);
export const core = kc.makeApiClient(k8s.CoreV1Api);
export const batch = kc.makeApiClient(k8s.BatchV1Api);
export const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

// The proxy's control endpoints (its certificate verified against mitmproxy's CA, its token sent).
const proxyCa = readFileSync(env.PROXY_CA);
export function control(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(`${env.PROXY}/__k8sretry/${path}`, { method, ca: proxyCa, headers: { 'x-k8sretry-control-token': env.PROXY_TOKEN } }, (res) => {
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve(JSON.parse(data)));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
export const plan = (rules, seed) => control('PUT', 'plan', { seed, rules });

/** The kubelet and the job controller this cluster lacks: pods of the namespace go Running, jobs
 * succeed. Through the apiserver directly (never faulted). */
export function controllers(ns, phaseOf = () => 'Running') {
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        for (const pod of (await core.listNamespacedPod({ namespace: ns })).items) {
          const phase = phaseOf(pod);
          if (pod.metadata.deletionTimestamp || pod.status?.phase === phase || pod.metadata.labels?.['runner-pod'] === undefined) continue;
          await core
            .patchNamespacedPodStatus({ name: pod.metadata.name, namespace: ns, body: { status: { phase } } }, mergePatch)
            .catch(() => {});
        }
        for (const job of (await batch.listNamespacedJob({ namespace: ns })).items) {
          if (job.status?.succeeded) continue;
          const now = new Date().toISOString();
          const status = {
            startTime: job.status?.startTime ?? now,
            completionTime: now,
            succeeded: 1,
            conditions: [
              { type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: now, lastTransitionTime: now },
              { type: 'Complete', status: 'True', lastProbeTime: now, lastTransitionTime: now },
            ],
          };
          await batch.patchNamespacedJobStatus({ name: job.metadata.name, namespace: ns, body: { status } }, mergePatch).catch((e) => {
            if (!controllers.warned) console.error(`[e2e] job status: ${e.body ?? e}`);
            controllers.warned = true;
          });
        }
      } catch {
        // the next turn tries again
      }
      await sleep(150);
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

/** Deletes a runner's labelled secrets and pods directly: another cleanup racing ours. */
export async function foreignDeleter(ns, runner) {
  const selector = `runner-pod=${runner}`;
  for (let i = 0; i < 20; i += 1) {
    const secrets = (await core.listNamespacedSecret({ namespace: ns, labelSelector: selector })).items;
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items;
    if (secrets.length + pods.length === 0) return;
    await Promise.all([
      ...secrets.map((s) => core.deleteNamespacedSecret({ name: s.metadata.name, namespace: ns }).catch(() => {})),
      ...pods.map((p) => core.deleteNamespacedPod({ name: p.metadata.name, namespace: ns, gracePeriodSeconds: 0 }).catch(() => {})),
    ]);
    await sleep(5);
  }
}

/** About `rate` of the requests of every verb the hooks send get a fault, of every kind. */
export function roundPlan(rate) {
  const share = (n) => 1 - (1 - rate) ** (1 / n); // n rules of one verb: together `rate`
  const rules = [];
  const add = (method, path, faults) => {
    for (const fault of faults) rules.push({ method, path, probability: share(faults.length), ...fault });
  };
  add('POST', '', [{ fault: 'drop_after' }, { fault: 'drop_before' }, { fault: '503', retry_after: '1' }, { fault: '429', retry_after: '1' }, { fault: '504' }]);
  add('GET', '', [{ fault: '503' }, { fault: 'drop_before' }, { fault: 'drop_after' }, { fault: '504' }]);
  add('DELETE', '', [{ fault: 'drop_after' }, { fault: 'drop_before' }, { fault: '503' }]);
  return rules;
}


export const REQUEST_ID = 'k8sretry.dev/request-id';

/** The knobs of a run, from the environment (ROUNDS, CONCURRENCY, FAULTS, SEED, STRESS, STRESS_SEED)
 * or the harness's `defaults` (of the same names). */
export function knobs(defaults) {
  const n = (name) => Number(process.env[name] ?? defaults[name]);
  return { rounds: n('ROUNDS'), concurrency: n('CONCURRENCY'), faults: n('FAULTS'), seed: n('SEED'), stress: n('STRESS'), stressSeed: n('STRESS_SEED') };
}

/** Starts one hook process as the runner does: `nodeBin args` with the runner's env only (the
 * proxy's kubeconfig, its pod name and namespace, plus `extra`), `input` on stdin. */
export function spawnHook(nodeBin, args, { runner, ns, extra = {}, input = '' }) {
  return new Promise((done, reject) => {
    const child = spawn(nodeBin, args, {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        KUBECONFIG: env.KUBECONFIG_PROXY,
        ACTIONS_RUNNER_KUBERNETES_NAMESPACE: ns,
        ACTIONS_RUNNER_POD_NAME: runner,
        ...extra,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => done({ code, lines: out.split('\n').filter(Boolean), stderr: err }));
    child.stdin.end(input);
  });
}

/** A hook script's `RESULT <json>` line (none: a failure saying why), beside its other lines. */
export function parseResult({ code, lines, stderr }) {
  const line = lines.find((l) => l.startsWith('RESULT '));
  const result = line ? JSON.parse(line.slice(7)) : { ok: false, message: `no RESULT (exit ${code}): ${stderr.trim()}` };
  return { ...result, exit: code, lines: lines.filter((l) => !l.startsWith('RESULT ')) };
}

/** A namespace of its own with the kubelet and job controller playing (`phaseOf`), for `body(ns)`;
 * the fault plan emptied and the namespace deleted after it, whatever happened. */
export async function inNamespace(prefix, phaseOf, body) {
  const ns = `${prefix}-${randomUUID().slice(0, 8)}`;
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const stopControllers = controllers(ns, phaseOf);
  try {
    return await body(ns);
  } finally {
    await plan([], 1).catch(() => {});
    await stopControllers();
    await core.deleteNamespace({ name: ns }).catch(() => {});
  }
}

/** `run.rounds` rounds (`knobs()`) of a runner's hooks under `roundPlan(run.faults)`, `run.concurrency`
 * runners at a time.
 * `steps(round, runner)`: the round's hooks in order, `[name, () => result]`; a round stops at its
 * first failed hook, and then `cleanup(runner)` runs as the runner runs its cleanup hook after a
 * failed job (unless the failed hook was cleanup_job: the runner runs it once). Fills report.rounds,
 * failedRounds, failedCleanups (the runners whose cleanup after a failed round failed too),
 * cleanupFailed (the runners whose one cleanup run failed, in the round or after it), hooks,
 * warnings, requests, faults, leftByFailedCleanups (those runners' objects) and leftovers (what else
 * the namespace still holds: pods, jobs, and the secrets `secretLeft` keeps), and `failures`. */
export async function runRounds({ tag, ns, run, steps, cleanup, report, failures, secretLeft = () => true, faultLog }) {
  const { rounds, concurrency, faults, seed } = run;
  Object.assign(report, { rounds: 0, failedRounds: 0, failedCleanups: [], cleanupFailed: [], hooks: 0, warnings: 0 });
  await plan(roundPlan(faults), seed);
  const runRound = async (round) => {
    const runner = `runner-${round}`;
    const t0 = Date.now();
    let failed;
    for (const [name, hook] of steps(round, runner)) {
      const result = await hook();
      report.hooks += 1;
      report.warnings += result.lines.filter((l) => l.startsWith('::warning::')).length;
      if (process.env.VERBOSE) for (const l of result.lines) console.log(`  [${runner} ${name}] ${l}`);
      if (!result.ok) {
        failed = { runner, hook: name, message: result.message, giveUp: result.giveUp, attempts: result.attempts, lines: result.lines.slice(-6) };
        break;
      }
    }
    report.rounds += 1;
    if (failed) {
      report.failedRounds += 1;
      failures.push(failed);
      console.log(`[${tag}] round ${round}: FAILED in ${failed.hook}: ${failed.message} (${failed.giveUp ?? ''})`);
      // The runner runs the cleanup hook once at the job's end, after a failed step too, and does
      // not run it again when it fails (actions/runner's ContainerHookManager raises the hook's
      // failure): what a failed cleanup leaves is that runner's, labelled with its name. A
      // cleanup_job that failed in the round is that one run; a failed cleanup after another
      // failed hook is one more failed call of the physics.
      if (failed.hook === 'cleanup_job') {
        report.cleanupFailed.push(runner);
      } else {
        const again = await cleanup(runner);
        if (!again.ok) {
          report.failedCleanups.push(runner);
          report.cleanupFailed.push(runner);
          console.log(`[${tag}] round ${round}: its cleanup failed too: ${again.message} (${again.giveUp ?? ''})`);
        }
      }
    } else {
      console.log(`[${tag}] round ${round}: ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  };
  let next = 1;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, rounds) }, async () => {
      while (next <= rounds) await runRound(next++);
    }),
  );
  const stats = await control('GET', 'stats');
  report.requests = stats.requests;
  report.faults = stats.faults;
  if (faultLog) writeFileSync(faultLog, JSON.stringify(await control('GET', 'log')));
  await plan([], seed);
  const left = [
    ...(await core.listNamespacedPod({ namespace: ns })).items.map((o) => ['pod', o]),
    ...(await core.listNamespacedSecret({ namespace: ns })).items.filter(secretLeft).map((o) => ['secret', o]),
    ...(await batch.listNamespacedJob({ namespace: ns })).items.map((o) => ['job', o]),
  ];
  // Left by a runner whose one cleanup run failed (a failed call the physics counts), or not.
  const ofFailedCleanup = ([, o]) => report.cleanupFailed.includes(o.metadata.labels?.['runner-pod']);
  report.leftByFailedCleanups = left.filter(ofFailedCleanup).map(([kind, o]) => `${kind}/${o.metadata.name}`);
  report.leftovers = left.filter((x) => !ofFailedCleanup(x)).map(([kind, o]) => `${kind}/${o.metadata.name}`);
}

/** The `q` quantile of a Poisson law of mean `mean`. */
export function poissonQuantile(mean, q = 0.999) {
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

/** The fault physics of a filled report: with a share p of requests faulted (measured), a call
 * with `retries` retries fails only when all its `retries + 1` attempts are faulted, p^(retries+1);
 * the calls are the requests less the retries (requests * (1 - p)). A failed call fails its round
 * (or, in a failed round's cleanup, leaves that runner's objects). The bound is the 99.9% quantile
 * of a Poisson law of the expected failed calls: a correct engine stays within it in 999 runs of
 * 1000, and an engine that gave up early (as BudgetExhausted did) exceeds it. */
export function physics(report, retries) {
  const faulted = Object.values(report.faults).reduce((a, b) => a + b, 0);
  const p = faulted / Math.max(1, report.requests);
  const calls = report.requests * (1 - p);
  const expected = calls * p ** (retries + 1);
  const bound = poissonQuantile(expected);
  report.prediction = {
    faultShare: Number(p.toFixed(3)),
    retries,
    calls: Math.round(calls),
    expectedFailedCalls: Number(expected.toPrecision(2)),
    bound999: bound,
  };
  return {
    p,
    calls,
    expected,
    bound,
    text:
      `physics: ${expected.toPrecision(2)} failed calls expected at ${(100 * p).toFixed(1)}% faults over ~${Math.round(calls)} calls ` +
      `with ${retries} retries (p^${retries + 1} each), at most ${bound} at 99.9%`,
  };
}

/** A stranger's pod holds the job pod's name `name`: `create()` (the hook's create of that pod) is
 * run once as is and once with its first POST reset before it reached the apiserver (so the create
 * is resent, then read back). Into report.adoption: both outcomes, and whether the pod is untouched. */
export async function adoptionCheck({ ns, name, seed, create, report }) {
  const foreign = await core.createNamespacedPod({
    namespace: ns,
    body: { metadata: { name, annotations: { owner: 'someone-else' } }, spec: { containers: [{ name: 'c', image: 'registry.invalid/x:1' }] } },
  });
  const outcome = (r) => ({ ok: r.ok, code: r.code, reason: r.reason, giveUp: r.giveUp, attempts: r.attempts });
  const firstAttempt = outcome(await create());
  await plan([{ method: 'POST', path: '/pods$', fault: 'drop_before', count: 1 }], seed);
  const afterReset = outcome(await create());
  const stats = await control('GET', 'stats');
  await plan([], seed);
  const still = await core.readNamespacedPod({ name, namespace: ns });
  report.adoption = {
    firstAttempt,
    afterReset,
    faults: stats.faults,
    untouched: still.metadata.uid === foreign.metadata.uid && still.metadata.annotations?.[REQUEST_ID] === undefined,
  };
  await core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0 });
}

/** Lost creates: half of the committed pod creates lose their response (the apiserver answered 201,
 * the proxy drops it) and half of the read-back GETs of pods named `prefix`* are dropped, while
 * `createAll()` makes its pods (results `{ ok, pod, annotations, ... }`). Each pod returned must be
 * the one stored. Into report.stress: created, failed, responses lost, read-backs dropped, pods
 * stored (then deleted). */
export async function lostCreates({ ns, prefix, seed, createAll, report, faultLog }) {
  await plan(
    [
      { method: 'POST', path: '/pods$', fault: 'drop_after', probability: 0.5, status: [201] },
      { method: 'GET', path: `/pods/${prefix}`, fault: 'drop_before', probability: 0.5 },
    ],
    seed,
  );
  const stress = { created: 0, failed: [] };
  for (const [i, result] of (await createAll()).entries()) {
    if (!result.ok) {
      stress.failed.push({ create: i + 1, message: result.message, giveUp: result.giveUp, attempts: result.attempts, lines: result.lines?.slice(-6) });
      continue;
    }
    const stored = await core.readNamespacedPod({ name: result.pod, namespace: ns });
    assert.equal(stored.metadata.annotations[REQUEST_ID], result.annotations[REQUEST_ID], `${result.pod}: the pod returned is the one stored`);
    stress.created += 1;
  }
  const log = await control('GET', 'log');
  if (faultLog) writeFileSync(faultLog, JSON.stringify(log));
  await plan([], seed);
  stress.lostResponses = log.filter((e) => e.method === 'POST').length;
  stress.droppedReadBacks = log.filter((e) => e.method === 'GET').length;
  const pods = (await core.listNamespacedPod({ namespace: ns })).items.filter((p) => p.metadata.name.startsWith(prefix));
  stress.podsStored = pods.length;
  await Promise.all(pods.map((p) => core.deleteNamespacedPod({ name: p.metadata.name, namespace: ns, gracePeriodSeconds: 0 })));
  report.stress = stress;
}

/** The checks on a filled report: every round run, at most `maxFailedCalls` failed rounds and failed
 * cleanups after them (the physics bound), about `run.faults` of the requests faulted, nothing left
 * behind but a failed cleanup's runner's objects, the foreign pod rejected with the 409
 * both times (the second after a resend and a read-back) and untouched, all `run.stress` lost creates
 * recovered. */
export function checkReport(report, { rounds, faults, stress }, maxFailedCalls) {
  assert.equal(report.rounds, rounds);
  const failedCalls = report.failedRounds + report.failedCleanups.length;
  assert.ok(
    failedCalls <= maxFailedCalls,
    `${report.failedRounds} failed rounds and ${report.failedCleanups.length} failed cleanups after them, more than the ${maxFailedCalls} failed calls the physics allows`,
  );
  assert.deepEqual(report.leftovers, [], 'objects left behind (besides those of a failed cleanup)');
  const faulted = Object.values(report.faults).reduce((a, b) => a + b, 0);
  if (rounds > 0) assert.ok(faulted / report.requests >= faults * 0.75, `only ${faulted} of ${report.requests} requests faulted`);
  for (const attempt of [report.adoption.firstAttempt, report.adoption.afterReset]) {
    assert.equal(attempt.ok, false, 'a foreign pod was adopted');
    assert.equal(attempt.code, 409);
    assert.equal(attempt.reason, 'AlreadyExists');
  }
  assert.equal(report.adoption.afterReset.attempts, 2, 'the create was resent after the reset, then read back');
  assert.equal(report.adoption.untouched, true);
  assert.equal(report.stress.created, stress, `lost creates: ${JSON.stringify(report.stress.failed)}`);
  assert.equal(report.stress.podsStored, stress);
  if (stress > 0) assert.ok(report.stress.lostResponses >= stress / 4, 'the stress lost too few responses to mean anything');
}
