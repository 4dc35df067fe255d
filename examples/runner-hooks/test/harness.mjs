// What both harnesses (e2e.mjs for the example, ../upstream/drive.mjs for the hooks' own code) share:
// the cluster's env (tests/cluster/.run/env), direct clients of the apiserver (never faulted), the
// fault proxy's control endpoints, the kubelet and job controller the test cluster lacks, a foreign
// deleter, and the round's fault plan.
import { readFileSync } from 'node:fs';
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

