// The Kubernetes calls of a runner container hook (the shape of actions/runner-container-hooks
// packages/k8s, written here): three client-node API objects wrapped with k8sretry's
// withRetryClient, a permission check of 13 SelfSubjectAccessReviews sent at once from one shared
// body, a job pod of a fixed name with a docker-config secret, pod phase polling, a container step
// as a batch Job, secrets for a step's environment, pruning by label, deletes with grace period 0.
// Nothing here retries or reads back by itself: no 409 handler, no 404 swallowing of its own.
import { randomBytes } from 'crypto';

import * as k8s from '@kubernetes/client-node';
import { Policy, withRetryClient, type Logger } from 'k8sretry';

/** How @actions/core writes to the runner's log (::warning::, ::debug:: when RUNNER_DEBUG=1). */
export const actionsLogger: Logger = {
  warn: (message) => console.log(`::warning::${message}`),
  info: (message) => console.log(message),
  debug: (message) => {
    if (process.env.RUNNER_DEBUG === '1') console.log(`::debug::${message}`);
  },
};

/** The policy: runner_hooks (3 retries, 1 s·2^n ±50%, Retry-After up to 30 s) unless
 * K8SRETRY_POLICY holds a policy as JSON (`{"preset": "runner_hooks", "max_retries": 6}`). */
function policy(): Policy {
  const json = process.env.K8SRETRY_POLICY;
  return json ? Policy.fromJson(json) : Policy.preset('runner_hooks');
}

const kc = new k8s.KubeConfig();
kc.loadFromDefault();

const options = { policy: policy(), logger: actionsLogger };
const coreApi = withRetryClient(kc.makeApiClient(k8s.CoreV1Api), options);
const batchApi = withRetryClient(kc.makeApiClient(k8s.BatchV1Api), options);
const authorizationApi = withRetryClient(kc.makeApiClient(k8s.AuthorizationV1Api), options);
// Deletes that may find nothing: a prune racing another deleter (or a cleanup run twice).
const pruneApi = withRetryClient(kc.makeApiClient(k8s.CoreV1Api), { ...options, missingOk: true });

export function namespace(): string {
  const fromEnv = process.env.ACTIONS_RUNNER_KUBERNETES_NAMESPACE;
  if (fromEnv) return fromEnv;
  const context = kc.getContexts().find((c) => c.namespace);
  if (!context?.namespace) throw new Error('no namespace: set ACTIONS_RUNNER_KUBERNETES_NAMESPACE');
  return context.namespace;
}

export function runnerName(): string {
  const name = process.env.ACTIONS_RUNNER_POD_NAME;
  if (!name) throw new Error('ACTIONS_RUNNER_POD_NAME is not set');
  return name;
}

/** The label every object of this runner carries (what prune selects by). */
export const RUNNER_LABEL = 'runner-pod';
const labels = (): Record<string, string> => ({ [RUNNER_LABEL]: runnerName() });
export const jobPodName = (): string => `${runnerName()}-workflow`;
const secretName = (): string => `${runnerName()}-secret-${randomBytes(3).toString('hex').slice(0, 5)}`;

const REQUIRED_PERMISSIONS = [
  { group: '', resource: 'pods', subresource: '', verbs: ['get', 'list', 'create', 'delete'] },
  { group: '', resource: 'pods', subresource: 'exec', verbs: ['get', 'create'] },
  { group: '', resource: 'pods', subresource: 'log', verbs: ['get', 'list', 'watch'] },
  { group: '', resource: 'secrets', subresource: '', verbs: ['create', 'delete', 'get', 'list'] },
];

/** 13 SelfSubjectAccessReviews at once, from one review object whose spec is replaced for each. */
export async function isAuthPermissionsOK(): Promise<boolean> {
  const review = new k8s.V1SelfSubjectAccessReview();
  const pending: Promise<k8s.V1SelfSubjectAccessReview>[] = [];
  for (const permission of REQUIRED_PERMISSIONS) {
    for (const verb of permission.verbs) {
      review.spec = new k8s.V1SelfSubjectAccessReviewSpec();
      review.spec.resourceAttributes = new k8s.V1ResourceAttributes();
      review.spec.resourceAttributes.verb = verb;
      review.spec.resourceAttributes.namespace = namespace();
      review.spec.resourceAttributes.group = permission.group;
      review.spec.resourceAttributes.resource = permission.resource;
      review.spec.resourceAttributes.subresource = permission.subresource;
      pending.push(authorizationApi.createSelfSubjectAccessReview({ body: review }));
    }
  }
  const answers = await Promise.all(pending);
  return answers.length === 13 && answers.every((a) => a.status?.allowed === true);
}

export async function createDockerSecret(registry: { serverUrl: string; username: string; password: string }): Promise<k8s.V1Secret> {
  const auth = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
  const config = { auths: { [registry.serverUrl]: { username: registry.username, password: registry.password, auth } } };
  const secret = new k8s.V1Secret();
  secret.apiVersion = 'v1';
  secret.kind = 'Secret';
  secret.immutable = true;
  secret.type = 'kubernetes.io/dockerconfigjson';
  secret.metadata = { name: `${runnerName()}-secret-registry`, namespace: namespace(), labels: labels() };
  secret.data = { '.dockerconfigjson': Buffer.from(JSON.stringify(config)).toString('base64') };
  return coreApi.createNamespacedSecret({ namespace: namespace(), body: secret });
}

export async function createSecretForEnvs(envs: Record<string, string>): Promise<string> {
  const secret = new k8s.V1Secret();
  secret.apiVersion = 'v1';
  secret.kind = 'Secret';
  secret.immutable = true;
  secret.metadata = { name: secretName(), labels: labels() };
  secret.data = Object.fromEntries(Object.entries(envs).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  const created = await coreApi.createNamespacedSecret({ namespace: namespace(), body: secret });
  return created.metadata?.name ?? '';
}

/** The job pod, by its fixed name. A lost response is recovered by k8sretry (the pod read back
 * and returned only if it carries this call's request id); a pod of that name that is not ours
 * rejects with the 409. */
export async function createJobPod(name: string, registrySecret?: string): Promise<k8s.V1Pod> {
  const pod = new k8s.V1Pod();
  pod.apiVersion = 'v1';
  pod.kind = 'Pod';
  pod.metadata = { name, labels: labels(), annotations: {} };
  pod.spec = new k8s.V1PodSpec();
  pod.spec.restartPolicy = 'Never';
  pod.spec.containers = [{ name: 'job', image: 'registry.invalid/runner-job:1', command: ['tail', '-f', '/dev/null'] }];
  pod.spec.volumes = [{ name: 'work', emptyDir: {} }];
  if (registrySecret) pod.spec.imagePullSecrets = [{ name: registrySecret }];
  return coreApi.createNamespacedPod({ namespace: namespace(), body: pod });
}

export async function createJob(name: string, envSecret: string): Promise<k8s.V1Job> {
  const job = new k8s.V1Job();
  job.apiVersion = 'batch/v1';
  job.kind = 'Job';
  job.metadata = { name, labels: labels(), annotations: {} };
  job.spec = new k8s.V1JobSpec();
  job.spec.backoffLimit = 0;
  job.spec.ttlSecondsAfterFinished = 300;
  job.spec.template = {
    metadata: { labels: {}, annotations: {} },
    spec: {
      restartPolicy: 'Never',
      containers: [{ name: 'step', image: 'registry.invalid/step:1', envFrom: [{ secretRef: { name: envSecret } }] }],
    },
  };
  return batchApi.createNamespacedJob({ namespace: namespace(), body: job });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the pod's phase until it is one of `awaiting`, while it is one of `waiting`. */
export async function waitForPodPhases(name: string, awaiting: string[], waiting: string[], timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let pause = 100;
  for (;;) {
    const pod = await coreApi.readNamespacedPod({ name, namespace: namespace() });
    const phase = pod.status?.phase ?? 'Unknown';
    if (awaiting.includes(phase)) return phase;
    if (!waiting.includes(phase)) throw new Error(`pod ${name} is unhealthy with phase ${phase}`);
    if (Date.now() > deadline) throw new Error(`pod ${name} still ${phase} after ${timeoutMs} ms`);
    await sleep(pause);
    pause = Math.min(pause * 2, 1000);
  }
}

export async function waitForJobToComplete(name: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pause = 100;
  for (;;) {
    const job = await batchApi.readNamespacedJob({ name, namespace: namespace() });
    if (job.status?.failed) throw new Error(`job ${name} has failed`);
    if (job.status?.succeeded) return;
    if (Date.now() > deadline) throw new Error(`job ${name} not done after ${timeoutMs} ms`);
    await sleep(pause);
    pause = Math.min(pause * 2, 1000);
  }
}

export async function deletePod(name: string): Promise<void> {
  await pruneApi.deleteNamespacedPod({ name, namespace: namespace(), gracePeriodSeconds: 0 });
}

export async function deleteSecret(name: string): Promise<void> {
  await pruneApi.deleteNamespacedSecret({ name, namespace: namespace() });
}

export async function deleteJob(name: string): Promise<void> {
  await batchApi.deleteNamespacedJob({ name, namespace: namespace(), propagationPolicy: 'Background' });
}

export async function prunePods(): Promise<void> {
  const list = await coreApi.listNamespacedPod({ namespace: namespace(), labelSelector: `${RUNNER_LABEL}=${runnerName()}` });
  await Promise.all(list.items.map((p) => p.metadata?.name && deletePod(p.metadata.name)));
}

export async function pruneSecrets(): Promise<void> {
  const list = await coreApi.listNamespacedSecret({ namespace: namespace(), labelSelector: `${RUNNER_LABEL}=${runnerName()}` });
  await Promise.all(list.items.map((s) => s.metadata?.name && deleteSecret(s.metadata.name)));
}
