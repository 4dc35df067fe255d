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
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { adoptionCheck, checkReport, inNamespace, knobs, lostCreates, parseResult, physics, runRounds, spawnHook } from '../test/harness.mjs';

const [lib, release, nodeBin] = process.argv.slice(2);
if (!lib || !release || !nodeBin) throw new Error('usage: node drive.mjs <packages/k8s/lib> <release folder> <node binary>');
const run = knobs({ ROUNDS: 10, CONCURRENCY: 5, FAULTS: 0.2, SEED: 1, STRESS: 25, STRESS_SEED: 2 });
const hookScript = fileURLToPath(new URL('./hook.cjs', import.meta.url));
const workspace = { RUNNER_WORKSPACE: '/tmp/runner/_work/repo', GITHUB_WORKSPACE: '/tmp/runner/_work/repo/repo' };

/** A step from their compiled lib (hook.cjs). */
async function step(runner, ns, name, ...args) {
  return parseResult(await spawnHook(nodeBin, [hookScript, lib, name, ...args], { runner, ns, extra: workspace }));
}

/** A hook of their release zip, as the runner starts it: `node index.js`, the hook's JSON on stdin. */
async function releaseHook(runner, ns, command) {
  const input = `${JSON.stringify({ command, responseFile: '', args: {}, state: {} })}\n`;
  const r = await spawnHook(nodeBin, [join(release, 'index.js')], { runner, ns, extra: workspace, input });
  const error = r.lines.find((l) => l.startsWith('::error::'));
  return { ok: r.code === 0, message: error ?? (r.code === 0 ? '' : `exit ${r.code}: ${r.stderr.trim()}`), lines: r.lines };
}

/** The smallest k with P(Poisson(mean) > k) < 0.001. */
const report = {};
const failures = [];
const started = Date.now();
try {
  await inNamespace('upstream', (pod) => (pod.metadata.name.includes('-step-') ? 'Succeeded' : 'Running'), async (ns) => {
    // 1. Rounds: prepare and a step from their lib, cleanup_job from their release.
    await runRounds({
      tag: 'upstream',
      ns,
      run,
      report,
      failures,
      // Their registry secret and env secrets carry the runner label; nothing else of theirs is left.
      secretLeft: (o) => o.metadata.labels?.['runner-pod'] !== undefined,
      steps: (round, runner) => [
        ['prepare', () => step(runner, ns, 'prepare')],
        ['step', () => step(runner, ns, 'step')],
        ['cleanup_job', () => releaseHook(runner, ns, 'cleanup_job')],
      ],
      cleanup: (runner) => releaseHook(runner, ns, 'cleanup_job'),
    });

    // 2. A stranger's stale pod of the job pod's name (no runner label: their prunePods leaves it).
    await adoptionCheck({ ns, name: 'stale-workflow', seed: run.seed, report, create: () => step('stale', ns, 'create_pod') });

    // 3. Lost creates: their createJobPod for runners stress-1..STRESS, in one process.
    await lostCreates({
      ns,
      prefix: 'stress-',
      seed: run.stressSeed,
      report,
      createAll: async () => {
        const batchRun = await step('stress', ns, 'create_pods', String(run.stress));
        assert.ok(batchRun.ok, `the lost-create process failed: ${batchRun.message}`);
        return batchRun.results;
      },
    });
  });
} finally {
  report.seconds = Math.round((Date.now() - started) / 1000);
}

const physicsOf = physics(report, 3);
console.log('=== runner-container-hooks (their code, their release) with k8sretry, against the real apiserver behind the fault proxy ===');
console.log(JSON.stringify({ ...report, failures }, null, 2));
console.log(
  `rounds ${report.rounds} (failed ${report.failedRounds}, failed cleanups after them ${report.failedCleanups.length}; ${physicsOf.text}), hook runs ${report.hooks}, requests ${report.requests}, warnings ${report.warnings}, left behind ${report.leftovers.length} (by failed cleanups ${report.leftByFailedCleanups.length}); ` +
    `stale pod: ${report.adoption.firstAttempt.code}/${report.adoption.afterReset.code}, adopted: ${!report.adoption.untouched}; ` +
    `lost creates: ${report.stress.created}/${run.stress} (${report.stress.lostResponses} responses lost, ${report.stress.droppedReadBacks} read-backs dropped); ${report.seconds} s`,
);
checkReport(report, run, physicsOf.bound);
