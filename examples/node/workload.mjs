// The demo workload: an app's config written through @kubernetes/client-node wrapped by k8sretry.
// Creates 20 ConfigMaps (read, labelled, every 4th deleted) and 5 generateName Secrets in
// $K8SRETRY_NAMESPACE of $KUBECONFIG; prints one JSON line. Run by `make demo` through the fault proxy.
import * as k8s from '@kubernetes/client-node';
import { Policy, metricsText, withRetryClient } from 'k8sretry';

const namespace = process.env.K8SRETRY_NAMESPACE;
const kc = new k8s.KubeConfig();
kc.loadFromDefault();
// Short delays for a demo; the same policy in every language's workload.
const policy = new Policy({ preset: 'default', maxRetries: 6, initialDelay: 0.2, maxDelay: 2 });
const api = withRetryClient(kc.makeApiClient(k8s.CoreV1Api), { policy, logger: null });
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

let operations = 0;
const kept = [];
for (let i = 0; i < 20; i += 1) {
  const name = `app-config-${i}`;
  await api.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { i: String(i) } } });
  await api.readNamespacedConfigMap({ name, namespace });
  await api.patchNamespacedConfigMap({ name, namespace, body: { metadata: { labels: { app: 'demo' } } } }, mergePatch);
  operations += 3;
  if (i % 4 === 0) {
    await api.deleteNamespacedConfigMap({ name, namespace });
    operations += 1;
  } else kept.push(name);
}
for (let i = 0; i < 5; i += 1) {
  await api.createNamespacedSecret({ namespace, body: { metadata: { generateName: 'app-secret-' } } });
  operations += 1;
}

const total = (prefix, containing = '') =>
  metricsText()
    .split('\n')
    .filter((l) => l.startsWith(prefix) && l.includes(containing))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
console.log(
  JSON.stringify({
    operations,
    retries: total('k8sretry_retries_total'),
    recovered: total('k8sretry_calls_total', 'outcome="recovered"'),
    configmaps: kept,
    secrets: 5,
  }),
);
