// Which creates persist nothing, from the real apiserver's discovery (GET /api/v1, GET /apis and each
// group version's resource list), not from a list written by hand: every resource whose only verb
// is `create` and whose kind is a review or a token request must be planned by the engine as
// idempotent and unstamped under the client-node method name withRetryClient reports, its kind and
// its resource name. Each of them is then sent through withRetryClient with its first response
// lost: resent, accepted (no 422 for a stamped body), answered.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { clusterEnv } from './cluster.mjs';

const pkg = new URL('../../../bindings-node/', import.meta.url);
const require = createRequire(new URL('package.json', pkg));
const k8s = require('@kubernetes/client-node');
const { native } = require(new URL('dist/cjs/native.js', pkg).pathname);
const { Policy, withRetryClient } = require(new URL('dist/cjs/index.js', pkg).pathname);

const env = clusterEnv();
const FAST = new Policy({ maxRetries: 4, initialDelay: 0.05, maxDelay: 0.2, budget: false });

function get(path) {
  return new Promise((resolve, reject) => {
    const req = https.request(`${env.K8S_API}${path}`, { ca: readFileSync(env.K8S_CA), headers: { authorization: `Bearer ${env.K8S_TOKEN}` } }, (res) => {
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(data)) : reject(new Error(`${path}: ${res.statusCode} ${data}`))));
    });
    req.on('error', reject);
    req.end();
  });
}
const proxyCa = readFileSync(env.PROXY_CA);
function control(method, path, body) {
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

/** Every group version the apiserver serves, with its resources. */
async function discovery() {
  const lists = [{ groupVersion: 'v1', group: '', version: 'v1', resources: (await get('/api/v1')).resources }];
  for (const group of (await get('/apis')).groups) {
    for (const { groupVersion, version } of group.versions) {
      lists.push({ groupVersion, group: group.name, version, resources: (await get(`/apis/${groupVersion}`)).resources });
    }
  }
  return lists;
}

const capital = (s) => s.charAt(0).toUpperCase() + s.slice(1);
/** client-node's API class for a group version: CoreV1Api, AuthorizationV1Api, FlowcontrolApiserverV1Api, ... */
const apiClass = (group, version) =>
  `${group === '' ? 'Core' : group.replace(/\.k8s\.io$/, '').split('.').map(capital).join('')}${capital(version)}Api`;

/** The create method client-node generates for a resource: create[Namespaced]<Kind>, or for a
 * subresource create[Namespaced]<ParentKind><Subresource>. */
function createMethod(resource, resources) {
  const [parent, sub] = resource.name.split('/');
  const base = sub === undefined ? resource.kind : `${resources.find((r) => r.name === parent).kind}${capital(sub)}`;
  return `create${resource.namespaced ? 'Namespaced' : ''}${base}`;
}

const isReviewOrToken = (kind) => /Review$/.test(kind) || /^Token/.test(kind);

// A body each kind accepts (no metadata: a stamped body would be refused for several of them).
const BODIES = {
  SelfSubjectAccessReview: () => ({ spec: { resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'default' } } }),
  SubjectAccessReview: () => ({ spec: { user: 'someone', resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'default' } } }),
  LocalSubjectAccessReview: (ns) => ({ spec: { user: 'someone', resourceAttributes: { verb: 'get', resource: 'pods', namespace: ns } } }),
  SelfSubjectRulesReview: (ns) => ({ spec: { namespace: ns } }),
  SelfSubjectReview: () => ({}),
  TokenReview: () => ({ spec: { token: 'not-a-token' } }),
  TokenRequest: () => ({ spec: { audiences: ['k8sretry'], expirationSeconds: 600 } }),
};

test('create-only review and token resources from discovery are planned idempotent and unstamped, and are resent after a lost response', async () => {
  const found = [];
  for (const list of await discovery()) {
    for (const resource of list.resources) {
      const verbs = [...(resource.verbs ?? [])].sort();
      if (verbs.length !== 1 || verbs[0] !== 'create') continue;
      const method = createMethod(resource, list.resources);
      const plans = Object.fromEntries(
        [method, resource.kind, ...(resource.name.includes('/') ? [] : [resource.name])].map((name) => {
          const answer = native.plan({ verb: 'POST', resource: name, named: true, canGet: true, canList: true });
          return [name, `${answer.recovery}/${answer.stamp}`];
        }),
      );
      found.push({ ...list, resource, method, plans, reviewOrToken: isReviewOrToken(resource.kind) });
    }
  }
  console.log('create-only resources in discovery (group version, resource, kind, client-node method, plan by method / kind / name):');
  for (const f of found) {
    console.log(`  ${f.groupVersion.padEnd(30)} ${f.resource.name.padEnd(28)} ${f.resource.kind.padEnd(26)} ${f.method.padEnd(42)} ${Object.values(f.plans).join(' ')}${f.reviewOrToken ? '' : '  (acts on another object)'}`);
  }
  const reviews = found.filter((f) => f.reviewOrToken);
  assert.ok(reviews.length >= 7, `only ${reviews.length} review/token resources found`);
  const missed = [];
  for (const f of reviews) {
    const Api = k8s[apiClass(f.group, f.version)];
    assert.equal(typeof Api?.prototype?.[f.method], 'function', `client-node has ${apiClass(f.group, f.version)}.${f.method}`);
    for (const [name, plan] of Object.entries(f.plans)) if (plan !== 'idempotent/none') missed.push(`${f.groupVersion} ${f.resource.name} as "${name}": ${plan}`);
    const unowned = native.plan({ verb: 'POST', resource: f.method, adoptExisting: true });
    if (`${unowned.recovery}/${unowned.stamp}` !== 'idempotent/none') missed.push(`${f.method} with adoptExisting: ${unowned.recovery}`);
  }
  assert.deepEqual(missed, [], 'creates that persist nothing which core does not recognise (core/src/plan.rs PERSIST_NOTHING)');

  // Each of them for real, through the proxy, with the first response lost after the apiserver answered.
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(env.KUBECONFIG_PROXY);
  const direct = new k8s.KubeConfig();
  direct.loadFromFile(env.KUBECONFIG);
  const ns = `e2e-discovery-${randomUUID().slice(0, 8)}`;
  await direct.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  await direct.makeApiClient(k8s.CoreV1Api).createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'robot' } } });
  const sent = [];
  for (const f of reviews) {
    const body = BODIES[f.resource.kind];
    if (body === undefined) {
      console.log(`  (no body known for ${f.resource.kind}: planned only)`);
      continue;
    }
    const api = withRetryClient(kc.makeApiClient(k8s[apiClass(f.group, f.version)]), { policy: FAST, logger: null });
    const path = f.resource.name.includes('/') ? `/${f.resource.name.split('/')[1]}$` : `/${f.resource.name}$`;
    await control('PUT', 'plan', { seed: 1, rules: [{ method: 'POST', path, fault: 'drop_after', count: 1 }] });
    const params = { body: body(ns), ...(f.resource.namespaced ? { namespace: ns } : {}), ...(f.resource.name.includes('/') ? { name: 'robot' } : {}) };
    const answer = await api[f.method](params);
    const stats = await control('GET', 'stats');
    await control('PUT', 'plan', { seed: 1, rules: [] });
    assert.equal(stats.requests, 2, `${f.method}: sent again after the lost response`);
    assert.equal(stats.faults.drop_after, 1);
    assert.ok(answer.status !== undefined, `${f.method} answered: ${JSON.stringify(answer)}`);
    assert.equal(answer.metadata?.annotations?.['k8sretry.dev/request-id'], undefined, `${f.method}: never stamped`);
    sent.push(f.method);
  }
  console.log(`resent after a lost response and answered: ${sent.join(', ')}`);
  assert.ok(sent.length >= 7);
});
