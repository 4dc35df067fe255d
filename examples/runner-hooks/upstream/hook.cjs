// One hook step of actions/runner-container-hooks, run as the runner runs a hook (one process),
// from THEIR compiled code (`npm run build`'s tsc output, packages/k8s/lib): every function called
// here is theirs; nothing of the Kubernetes calls is written here. What cannot run against an
// apiserver without a kubelet (exec into the pod, copying the workspace, following logs) is left
// out: each step is the API part of the hook, in the hook's own order.
//
//   node hook.cjs <packages/k8s/lib> <step> [name]
//   step: prepare     prunePods, createJobPod (a job container and a registry, so their
//                     createDockerSecret too), waitForPodPhases(Running)  (prepare-job.ts)
//         step        createSecretForEnvs, createContainerStepPod, waitForPodPhases(Succeeded),
//                     getPodStatus, deletePod, deleteSecret  (run-container-step.ts)
//         create_pod  createJobPod of the job pod's name once: the stale pod
//         create_pods <n>  createJobPod for runners <ACTIONS_RUNNER_POD_NAME>-1..n, one after
//                     another in this process (their getJobPodName reads the env at each call):
//                     the lost creates, without n process starts
// Every step first runs isAuthPermissionsOK (13 SelfSubjectAccessReviews at once), as their index.ts
// does before any hook. Prints `RESULT <json>`; env as the runner sets it (KUBECONFIG,
// ACTIONS_RUNNER_POD_NAME, ACTIONS_RUNNER_KUBERNETES_NAMESPACE).
'use strict';
const path = require('path');

const [lib, step, count] = process.argv.slice(2);
const k8s = require(path.resolve(lib, 'k8s', 'index.js'));
const constants = require(path.resolve(lib, 'hooks', 'constants.js'));
const { PodPhase } = require(path.resolve(lib, 'k8s', 'utils.js'));

const container = { name: constants.JOB_CONTAINER_NAME, image: 'registry.invalid/runner-job:1', command: ['tail', '-f', '/dev/null'] };
const registry = { serverUrl: 'https://registry.invalid', username: 'u', password: 'p' };

async function run() {
  if (!(await k8s.isAuthPermissionsOK())) throw new Error('isAuthPermissionsOK: not allowed');
  switch (step) {
    case 'prepare': {
      await k8s.prunePods();
      const pod = await k8s.createJobPod(constants.getJobPodName(), container, [], registry);
      await k8s.waitForPodPhases(pod.metadata.name, new Set([PodPhase.RUNNING]), new Set([PodPhase.PENDING]), 60);
      return { pod: pod.metadata.name };
    }
    case 'step': {
      const secret = await k8s.createSecretForEnvs({ STEP_ENV: 'value' });
      const name = constants.getStepPodName();
      const pod = await k8s.createContainerStepPod(name, { name: constants.JOB_CONTAINER_NAME, image: 'registry.invalid/step:1' });
      await k8s.waitForPodPhases(pod.metadata.name, new Set([PodPhase.SUCCEEDED]), new Set([PodPhase.PENDING, PodPhase.UNKNOWN, PodPhase.RUNNING]), 60);
      const status = await k8s.getPodStatus(name);
      await k8s.deletePod(name);
      await k8s.deleteSecret(secret);
      return { pod: name, phase: status?.phase };
    }
    case 'create_pod': {
      const pod = await k8s.createJobPod(constants.getJobPodName(), container, []);
      return { pod: pod.metadata.name, annotations: pod.metadata.annotations ?? {} };
    }
    case 'create_pods': {
      const prefix = constants.getRunnerPodName();
      const results = [];
      for (let i = 1; i <= Number(count); i += 1) {
        process.env.ACTIONS_RUNNER_POD_NAME = `${prefix}-${i}`;
        try {
          const pod = await k8s.createJobPod(constants.getJobPodName(), container, []);
          results.push({ ok: true, pod: pod.metadata.name, annotations: pod.metadata.annotations ?? {} });
        } catch (err) {
          results.push({ ok: false, ...failure(err) });
        }
      }
      return { results };
    }
    default:
      throw new Error(`unknown step ${step}`);
  }
}

/** What a rejected call says: client-node's code and reason, k8sretry's give-up. */
function failure(err) {
  const e = err ?? {};
  let reason;
  try {
    reason = typeof e.body === 'string' ? JSON.parse(e.body).reason : undefined;
  } catch {
    reason = undefined;
  }
  return { type: e.constructor?.name, message: String(e.message ?? e).split('\n')[0], code: e.code, reason, giveUp: e.k8sretry?.reason, attempts: e.k8sretry?.attempts };
}

run().then(
  (out) => {
    console.log(`RESULT ${JSON.stringify({ ok: true, ...out })}`);
    process.exit(0);
  },
  (err) => {
    console.log(`RESULT ${JSON.stringify({ ok: false, ...failure(err) })}`);
    process.exit(1);
  },
);
