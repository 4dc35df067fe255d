// withRetryClient over the real @kubernetes/client-node 1.4 CoreV1Api, against the fake apiserver.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import * as k8s from '@kubernetes/client-node';

import { Policy, REQUEST_ID, deleteIdempotent, withRetryClient } from '../dist/esm/index.mjs';

const FAST = new Policy({ initialDelay: 0.001, maxDelay: 0.002, budget: false, maxRetries: 4 });
const options = { policy: FAST, logger: null };
const cm = (name, generateName) => ({ metadata: name ? { name } : { generateName }, data: { k: 'v' } });

let api;
before(async () => {
  const { startApiServer } = await import('./fake-apiserver.mjs');
  api = await startApiServer();
});
after(() => api.close());
beforeEach(() => {
  api.objects.clear();
  api.requests.length = 0;
  api.bodies.length = 0;
});

test('ApiException from client-node: 503/429 with Retry-After and a dropped connection are retried', async () => {
  api.objects.set('default/a', { metadata: { name: 'a', namespace: 'default' } });
  api.fault('GET', { status: 503, retryAfter: 0 }, { status: 429 }, 'drop_before');
  const core = withRetryClient(api.core, options);
  const got = await core.readNamespacedConfigMap({ name: 'a', namespace: 'default' });
  assert.equal(got.metadata.name, 'a');
  assert.equal(api.requests.length, 4);
});

test('the real ApiException shape: numeric code, raw JSON body, lower-case headers', async () => {
  api.fault('GET', { status: 429, retryAfter: 2 });
  const err = await api.core.readNamespacedConfigMap({ name: 'x', namespace: 'default' }).catch((e) => e);
  assert.ok(err instanceof k8s.ApiException);
  assert.equal(err.code, 429);
  assert.equal(typeof err.body, 'string');
  assert.equal(err.headers['retry-after'], '2');
  const { classify, retryAfterDelay } = await import('../dist/esm/index.mjs');
  assert.equal(classify(err), 'Throttled');
  assert.equal(retryAfterDelay(err, 0, FAST), 2000);
});

test('a lost create response is recovered through the request id', async () => {
  api.fault('POST', 'drop_after');
  const core = withRetryClient(api.core, options);
  const created = await core.createNamespacedConfigMap({ namespace: 'default', body: cm('lost') });
  assert.equal(created.metadata.name, 'lost');
  assert.equal(api.objects.size, 1);
  assert.equal(api.objects.get('default/lost').metadata.annotations[REQUEST_ID], created.metadata.annotations[REQUEST_ID]);
  assert.deepEqual(api.requests, [
    'POST /api/v1/namespaces/default/configmaps',
    'POST /api/v1/namespaces/default/configmaps',
    'GET /api/v1/namespaces/default/configmaps/lost',
  ]);
});

test('a lost generateName create is found by its label, not created twice', async () => {
  api.fault('POST', 'drop_after');
  const core = withRetryClient(api.core, options);
  const created = await core.createNamespacedConfigMap({ namespace: 'default', body: cm(undefined, 'gen-') });
  assert.ok(created.metadata.name.startsWith('gen-'));
  assert.equal(created.metadata.labels[REQUEST_ID], created.metadata.annotations[REQUEST_ID]);
  assert.equal(api.objects.size, 1);
  assert.deepEqual(api.requests, ['POST /api/v1/namespaces/default/configmaps', 'GET /api/v1/namespaces/default/configmaps']);
});

test('a generateName create that never arrived is sent again after the check', async () => {
  api.fault('POST', 'drop_before');
  const core = withRetryClient(api.core, options);
  await core.createNamespacedConfigMap({ namespace: 'default', body: cm(undefined, 'again-') });
  assert.equal(api.objects.size, 1);
  assert.deepEqual(api.requests, [
    'POST /api/v1/namespaces/default/configmaps',
    'GET /api/v1/namespaces/default/configmaps',
    'POST /api/v1/namespaces/default/configmaps',
  ]);
});

test('a failed read-back is decided on, not reported as somebody else\'s object', async () => {
  api.fault('POST', 'drop_after');
  api.fault('GET', { status: 503 });
  const core = withRetryClient(api.core, options);
  const created = await core.createNamespacedConfigMap({ namespace: 'default', body: cm('reread') });
  assert.equal(created.metadata.name, 'reread');
  assert.equal(api.objects.size, 1);
  // After the failed read, the read is repeated, not the create.
  assert.deepEqual(api.requests.map((r) => r.split('/').at(-1)), ['configmaps', 'configmaps', 'reread', 'reread']);
});

test("somebody else's object is never adopted", async () => {
  api.objects.set('default/taken', { metadata: { name: 'taken', namespace: 'default' } });
  const core = withRetryClient(api.core, options);
  await assert.rejects(core.createNamespacedConfigMap({ namespace: 'default', body: cm('taken') }), (e) => e.code === 409);
  assert.equal(api.requests.length, 1, 'a first-attempt 409 is a real conflict');
  api.requests.length = 0;
  api.fault('POST', 'drop_before');
  await assert.rejects(core.createNamespacedConfigMap({ namespace: 'default', body: cm('taken') }), (e) => e.code === 409);
  assert.deepEqual(api.requests.at(-1), 'GET /api/v1/namespaces/default/configmaps/taken', 'read back, then refused');
  const adopting = withRetryClient(api.core, { ...options, ownership: false });
  const adopted = await adopting.createNamespacedConfigMap({ namespace: 'default', body: cm('taken') });
  assert.equal(adopted.metadata.name, 'taken');
});

test('a lost delete response finishes as done', async () => {
  api.objects.set('default/gone', { metadata: { name: 'gone', namespace: 'default' } });
  api.fault('DELETE', 'drop_after');
  const core = withRetryClient(api.core, options);
  assert.equal(await core.deleteNamespacedConfigMap({ name: 'gone', namespace: 'default' }), undefined);
  assert.equal(api.objects.size, 0);
  await assert.rejects(core.deleteNamespacedConfigMap({ name: 'gone', namespace: 'default' }), (e) => e.code === 404);
  const done = await deleteIdempotent(() => api.core.deleteNamespacedConfigMap({ name: 'gone', namespace: 'default' }), { ...options, missingOk: true });
  assert.equal(done, undefined);
});

test('a retry sends the original request even if the caller mutates its objects meanwhile', async () => {
  api.fault('POST', { status: 503 });
  const body = cm('snap');
  const core = withRetryClient(api.core, {
    ...options,
    sleep: async () => {
      body.data.k = 'mutated';
      body.metadata.name = 'other';
    },
  });
  await core.createNamespacedConfigMap({ namespace: 'default', body });
  assert.deepEqual(api.bodies.map((b) => [b.metadata.name, b.data.k]), [['snap', 'v'], ['snap', 'v']]);
  assert.ok(api.objects.has('default/snap'));
});

test('properties pass through, this is the raw client, streams are untouched', async () => {
  const core = withRetryClient(api.core, options);
  assert.equal(core.configuration, api.core.configuration);
  class Fake {
    constructor() {
      this.label = 'raw';
    }
    async readThing() {
      return this;
    }
  }
  const raw = new Fake();
  assert.equal(await withRetryClient(raw, options).readThing(), raw);
  const watch = new k8s.Watch(api.kc);
  assert.equal(withRetryClient(watch, options), watch);
  api.fault('GET', { status: 503 });
  await assert.rejects(core.listNamespacedConfigMap({ namespace: 'default', watch: true }));
  assert.equal(api.requests.length, 1, 'a watch is never retried');
});
