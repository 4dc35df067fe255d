// withRetryClient over the real @kubernetes/client-node 1.4 CoreV1Api, against the fake apiserver.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import * as k8s from '@kubernetes/client-node';

import { Policy, REQUEST_ID, apply, createIdempotent, deleteIdempotent, withRetryClient } from '../dist/esm/index.mjs';

const FAST = new Policy({ initialDelay: 0.001, maxDelay: 0.002, budget: false, maxRetries: 4 });
const options = { policy: FAST, logger: null };
const cm = (name, generateName) => ({ metadata: name ? { name } : { generateName }, data: { k: 'v' } });

let api;
before(async () => {
  const { startApiServer } = await import('./fake-apiserver.mjs');
  api = await startApiServer();
});
after(() => api.close());
beforeEach(() => api.reset());
const mergePatch = () => k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const put = (name, data) => api.objects.set(`default/${name}`, { metadata: { name, namespace: 'default', resourceVersion: '1' }, data });
const last = (list) => list.map((r) => r.split('/').at(-1));

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
  assert.equal(api.queries[1].get('labelSelector'), `${REQUEST_ID}=${created.metadata.labels[REQUEST_ID]}`);
});

test('a generateName create that never arrived is sent again after two checks a second apart', async () => {
  api.fault('POST', 'drop_before');
  const core = withRetryClient(api.core, options);
  const started = performance.now();
  await core.createNamespacedConfigMap({ namespace: 'default', body: cm(undefined, 'again-') });
  assert.equal(api.objects.size, 1);
  // The engine's READ_BACK_CONFIRM_DELAY (1 s) between the lists: a write still pending when the
  // first list was answered lands before the second.
  assert.deepEqual(api.requests, [
    'POST /api/v1/namespaces/default/configmaps',
    'GET /api/v1/namespaces/default/configmaps',
    'GET /api/v1/namespaces/default/configmaps',
    'POST /api/v1/namespaces/default/configmaps',
  ]);
  assert.ok(performance.now() - started >= 990, `${performance.now() - started} ms`);
});

test('a read-back that fails twice is read again (not the create) and then finds ours', async () => {
  api.fault('POST', 'drop_after');
  api.fault('GET', { status: 503 }, 'drop_before');
  const events = [];
  const core = withRetryClient(api.core, { ...options, onEvent: (e) => events.push(e) });
  const created = await core.createNamespacedConfigMap({ namespace: 'default', body: cm('reread') });
  assert.equal(created.metadata.name, 'reread');
  assert.equal(api.objects.size, 1);
  assert.deepEqual(last(api.requests), ['configmaps', 'configmaps', 'reread', 'reread', 'reread']);
  assert.deepEqual(
    events.map((e) => [e.event, e.function]),
    [
      ['k8s_api_call_failed_retrying', 'createNamespacedConfigMap'],
      ['k8s_api_call_failed_retrying', 'createNamespacedConfigMap/read_back'],
      ['k8s_api_call_failed_retrying', 'createNamespacedConfigMap/read_back'],
      ['k8s_api_call_recovered_lost_response', 'createNamespacedConfigMap'],
    ],
  );
});

test('a read-back failing past its retries rejects with the request\'s error: outcome unknown', async () => {
  api.fault('POST', 'drop_after');
  // The read and its 16 retries: a read-back gets 4 x max_retries of its own (DESIGN §4).
  api.fault('GET', ...Array.from({ length: 17 }, () => ({ status: 503 })));
  const core = withRetryClient(api.core, options);
  const err = await core.createNamespacedConfigMap({ namespace: 'default', body: cm('unknown') }).catch((e) => e);
  // The request's last error (the resend's AlreadyExists), never a read's 503.
  assert.ok(err instanceof k8s.ApiException, String(err));
  assert.equal(err.code, 409);
  assert.equal(err.k8sretry.reason, 'OutcomeUnknown');
  assert.equal(err.k8sretry.attempts, 2);
  assert.equal(err.k8sretry.earlier.length, 1);
  assert.equal(err.k8sretry.earlier[0].code, 'ECONNRESET');
  assert.deepEqual(err.k8sretry.readErrors.map((e) => e.code), Array(17).fill(503));
  assert.equal(api.requests.filter((r) => r.startsWith('POST')).length, 2, 'never created a third time');
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
  const adopting = withRetryClient(api.core, { ...options, adoptExisting: true });
  const adopted = await adopting.createNamespacedConfigMap({ namespace: 'default', body: cm('taken') });
  assert.equal(adopted.metadata.name, 'taken');
});

test('a replace with resourceVersion whose response was lost: Conflict on resend, read back, ours', async () => {
  put('rv', { v: '1' });
  api.fault('PUT', 'drop_after');
  const core = withRetryClient(api.core, options);
  const body = { metadata: { name: 'rv', resourceVersion: '1' }, data: { v: '2' } };
  const got = await core.replaceNamespacedConfigMap({ name: 'rv', namespace: 'default', body });
  assert.deepEqual(got.data, { v: '2' });
  assert.deepEqual(last(api.requests), ['rv', 'rv', 'rv']);
  assert.deepEqual(api.requests.map((r) => r.split(' ')[0]), ['PUT', 'PUT', 'GET']);
  const stored = api.objects.get('default/rv');
  assert.equal(stored.metadata.annotations[REQUEST_ID], got.metadata.annotations[REQUEST_ID]);
  assert.equal(api.bodies[0].metadata.annotations[REQUEST_ID], api.bodies[1].metadata.annotations[REQUEST_ID]);
  assert.equal(body.metadata.annotations, undefined, "the caller's body is not stamped");
});

test("a replace with resourceVersion that lost to somebody else's write rejects with the Conflict", async () => {
  put('raced', { v: '1' });
  api.fault('PUT', 'drop_before');
  const core = withRetryClient(api.core, {
    ...options,
    // Between the lost attempt and the resend, somebody else writes.
    sleep: () => void api.objects.set('default/raced', { metadata: { name: 'raced', namespace: 'default', resourceVersion: '7' }, data: { v: 'theirs' } }),
  });
  const body = { metadata: { name: 'raced', resourceVersion: '1' }, data: { v: '2' } };
  await assert.rejects(core.replaceNamespacedConfigMap({ name: 'raced', namespace: 'default', body }), (e) => {
    assert.equal(e.code, 409);
    assert.equal(e.k8sretry.reason, 'NonRetryable');
    return true;
  });
  assert.deepEqual(api.objects.get('default/raced').data, { v: 'theirs' });
});

test('a replace without resourceVersion is resent unstamped, as given', async () => {
  put('plain', { v: '1' });
  api.fault('PUT', 'drop_after');
  const core = withRetryClient(api.core, options);
  const got = await core.replaceNamespacedConfigMap({ name: 'plain', namespace: 'default', body: { metadata: { name: 'plain' }, data: { v: '2' } } });
  assert.deepEqual(got.data, { v: '2' });
  assert.deepEqual(api.requests.map((r) => r.split(' ')[0]), ['PUT', 'PUT']);
  assert.equal(api.bodies[1].metadata.annotations, undefined);
});

test('a JSON patch (the client-node default) whose response was lost is not resent: NotIdempotent', async () => {
  put('list', { items: '' });
  api.objects.get('default/list').metadata.finalizers = ['a'];
  api.fault('PATCH', 'drop_after');
  const core = withRetryClient(api.core, options);
  const body = [{ op: 'add', path: '/metadata/finalizers/-', value: 'b' }];
  const err = await core.patchNamespacedConfigMap({ name: 'list', namespace: 'default', body }).catch((e) => e);
  assert.equal(err.code, 'ECONNRESET', String(err));
  assert.equal(err.k8sretry.reason, 'NotIdempotent');
  assert.deepEqual(api.contentTypes, ['application/json-patch+json']);
  assert.deepEqual(api.objects.get('default/list').metadata.finalizers, ['a', 'b'], 'applied once');
  // A JSON patch refused before it was sent (429) is still retried.
  api.reset();
  put('list', {});
  api.fault('PATCH', { status: 429 });
  await core.patchNamespacedConfigMap({ name: 'list', namespace: 'default', body: [{ op: 'add', path: '/data/k', value: 'v' }] });
  assert.equal(api.requests.length, 2);
});

test('a JSON patch of an object body whose response was lost is resent: nothing was applied (the engine\'s object-body rule)', async () => {
  put('obj', { a: '1' });
  api.fault('PATCH', 'drop_after');
  const core = withRetryClient(api.core, options);
  const err = await core.patchNamespacedConfigMap({ name: 'obj', namespace: 'default', body: { data: { b: '2' } } }).catch((e) => e);
  assert.equal(err.code, 400, String(err));
  assert.deepEqual(api.contentTypes, ['application/json-patch+json', 'application/json-patch+json']);
  assert.deepEqual(api.objects.get('default/obj').data, { a: '1' });
});

test('merge and strategic merge patches whose response was lost are resent', async () => {
  const core = withRetryClient(api.core, options);
  for (const type of [k8s.PatchStrategy.MergePatch, k8s.PatchStrategy.StrategicMergePatch]) {
    api.reset();
    put('m', { a: '1' });
    api.fault('PATCH', 'drop_after');
    const got = await core.patchNamespacedConfigMap(
      { name: 'm', namespace: 'default', body: { data: { b: '2' } } },
      k8s.setHeaderOptions('Content-Type', type),
    );
    assert.deepEqual(got.data, { a: '1', b: '2' }, type);
    assert.deepEqual(api.contentTypes, [type, type]);
  }
});

test("the caller's own middleware and options still apply to a patch, and a prepend merge leaves the type unknown", async () => {
  put('opts', {});
  const seen = [];
  // client-node 1.x middleware answers with its Observable stub (an object with toPromise()).
  const observable = (value) => ({ toPromise: () => Promise.resolve(value) });
  const tracing = { pre: (ctx) => (seen.push(ctx.getUrl()), observable(ctx)), post: observable };
  const core = withRetryClient(api.core, options);
  api.fault('PATCH', 'drop_after');
  const opts = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch, { middleware: [tracing], middlewareMergeStrategy: 'append' });
  await core.patchNamespacedConfigMap({ name: 'opts', namespace: 'default', body: { data: { x: '1' } } }, opts);
  assert.equal(seen.length, 2, 'their middleware ran on both attempts');
  assert.equal(opts.middleware.length, 2, "the caller's options are not changed");
  api.reset();
  put('opts', {});
  api.fault('PATCH', 'drop_after');
  const prepend = { ...opts, middlewareMergeStrategy: 'prepend' };
  const err = await core.patchNamespacedConfigMap({ name: 'opts', namespace: 'default', body: { data: { x: '2' } } }, prepend).catch((e) => e);
  assert.equal(err.k8sretry.reason, 'NotIdempotent');
});

test('apply: server-side apply with fieldManager and force, resent after a lost response', async () => {
  api.fault('PATCH', 'drop_after');
  const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied' }, data: { k: 'v' } };
  const got = await apply(api.core, 'patchNamespacedConfigMap', { name: 'applied', namespace: 'default', body, fieldManager: 'tests' }, options);
  assert.deepEqual(got.data, { k: 'v' });
  assert.deepEqual(api.contentTypes, ['application/apply-patch+yaml', 'application/apply-patch+yaml']);
  assert.deepEqual(api.queries.map((q) => [q.get('fieldManager'), q.get('force')]), [['tests', 'true'], ['tests', 'true']]);
  await assert.rejects(apply(api.core, 'patchNamespacedConfigMap', { name: 'a', body }), (e) => e.code === 'K8SRETRY_INVALID_ARGUMENT');
  await assert.rejects(apply(api.core, 'readNamespacedConfigMap', { name: 'a', body, fieldManager: 'x' }), (e) => e.code === 'K8SRETRY_INVALID_ARGUMENT');
});

test('a SelfSubjectAccessReview is sent unstamped and resent after a reset', async () => {
  const authz = withRetryClient(api.authorization, options);
  api.fault('POST', 'drop_before', 'drop_after');
  const review = { spec: { resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'default' } } };
  const got = await authz.createSelfSubjectAccessReview({ body: review });
  assert.equal(got.status.allowed, true);
  assert.equal(api.requests.length, 3);
  for (const body of api.bodies) assert.equal(body.metadata, undefined, JSON.stringify(body));
});

test('a method whose verb its name does not tell: retried on ECONNREFUSED, not after ECONNRESET', async () => {
  const net = (code) => Object.assign(new Error(`connect ${code}`), { code });
  class Fake {
    constructor(failures) {
      this.failures = failures;
      this.calls = 0;
    }
    async approveThing() {
      this.calls += 1;
      const failure = this.failures.shift();
      if (failure) throw net(failure);
      return 'approved';
    }
    describe() {
      return `sync ${this.calls}`;
    }
  }
  const refused = new Fake(['ECONNREFUSED', 'ECONNREFUSED']);
  assert.equal(await withRetryClient(refused, options).approveThing(), 'approved');
  assert.equal(refused.calls, 3);
  const reset = new Fake(['ECONNRESET']);
  const err = await withRetryClient(reset, options).approveThing().catch((e) => e);
  assert.equal(err.code, 'ECONNRESET');
  assert.equal(err.k8sretry.reason, 'NotIdempotent');
  assert.equal(reset.calls, 1);
  const wrapped = withRetryClient(new Fake([]), options);
  assert.equal(wrapped.describe(), 'sync 0', 'a synchronous method stays synchronous');
  assert.equal(typeof wrapped.toString(), 'string');
  assert.equal(wrapped.hasOwnProperty('calls'), false, 'Object methods are not wrapped');
});

test('a create the client cannot read back, and a patch it cannot see the type of, are not resent', async () => {
  const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  class Bare {
    calls = [];
    async createNamespacedPodEviction(params) {
      this.calls.push(params);
      throw reset();
    }
    async patchThing(params) {
      this.calls.push(params);
      throw reset();
    }
  }
  const bare = new Bare();
  const wrapped = withRetryClient(bare, options);
  const eviction = { namespace: 'default', name: 'p', body: { metadata: { name: 'p' } } };
  const err = await wrapped.createNamespacedPodEviction(eviction).catch((e) => e);
  assert.equal(err.code, 'ECONNRESET', String(err));
  assert.equal(err.k8sretry.reason, 'NotIdempotent');
  assert.equal(bare.calls[0].body.metadata.annotations, undefined, 'nothing to read back by: not stamped');
  const patched = await wrapped.patchThing({ name: 'x', body: { a: 1 } }).catch((e) => e);
  assert.equal(patched.k8sretry.reason, 'NotIdempotent');
  assert.equal(bare.calls.length, 2);
});

test('createIdempotent: a named body is read back; a generateName body is listed before the resend', async () => {
  const read = (name) => api.core.readNamespacedConfigMap({ name, namespace: 'default' });
  const list = (labelSelector) => api.core.listNamespacedConfigMap({ namespace: 'default', labelSelector });
  const create = (body) => api.core.createNamespacedConfigMap({ namespace: 'default', body });
  api.fault('POST', 'drop_after');
  const named = await createIdempotent({ create, read, body: cm('ci') }, options);
  assert.equal(named.metadata.name, 'ci');
  api.reset();
  api.fault('POST', 'drop_after');
  const generated = await createIdempotent({ create, read, list, body: cm(undefined, 'ci-') }, options);
  assert.ok(generated.metadata.name.startsWith('ci-'));
  assert.equal(api.objects.size, 1);
  assert.deepEqual(api.requests.map((r) => r.split(' ')[0]), ['POST', 'GET']);
  // Nothing to read back with: not resent after a lost response, and no TypeError of ours.
  api.reset();
  api.fault('POST', 'drop_after');
  const err = await createIdempotent({ create, body: cm(undefined, 'blind-') }, options).catch((e) => e);
  assert.equal(err.code, 'ECONNRESET');
  assert.equal(err.k8sretry.reason, 'NotIdempotent');
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
  const missingOk = withRetryClient(api.core, { ...options, missingOk: true });
  assert.equal(await missingOk.deleteNamespacedConfigMap({ name: 'gone', namespace: 'default' }), undefined);
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

test('every verb retries the params as they were at call time, not as the caller left them', async () => {
  // A caller that reuses one params object (a loop over names, a review body filled in again)
  // changes it while the first attempt's 503 is being waited out: the retry must still send the
  // original request (it would delete a different object otherwise).
  const mutate = [];
  const core = withRetryClient(api.core, { ...options, sleep: async () => mutate.shift()?.() });
  const calls = [
    ['GET', () => {
      const p = { name: 'a', namespace: 'default' };
      mutate.push(() => Object.assign(p, { name: 'b' }));
      return core.readNamespacedConfigMap(p);
    }],
    ['GET', () => {
      const p = { namespace: 'default', labelSelector: 'app=a' };
      mutate.push(() => Object.assign(p, { labelSelector: 'app=b', namespace: 'other' }));
      return core.listNamespacedConfigMap(p);
    }],
    ['DELETE', () => {
      const p = { name: 'a', namespace: 'default', body: { gracePeriodSeconds: 1 } };
      mutate.push(() => { p.name = 'b'; p.body.gracePeriodSeconds = 9; });
      return core.deleteNamespacedConfigMap(p);
    }],
    ['PATCH', () => {
      const p = { name: 'a', namespace: 'default', body: { data: { k: 'original' } } };
      mutate.push(() => { p.name = 'b'; p.body.data.k = 'mutated'; });
      return core.patchNamespacedConfigMap(p, mergePatch());
    }],
    ['PUT', () => {
      const p = { name: 'a', namespace: 'default', body: { metadata: { name: 'a' }, data: { k: 'original' } } };
      mutate.push(() => { p.name = 'b'; p.body.data.k = 'mutated'; });
      return core.replaceNamespacedConfigMap(p);
    }],
    ['PUT', () => {
      // A replace with resourceVersion: stamped, also from the call-time copy.
      const p = { name: 'a', namespace: 'default', body: { metadata: { name: 'a', resourceVersion: '1' }, data: { k: 'original' } } };
      mutate.push(() => { p.name = 'b'; p.body.data.k = 'mutated'; });
      return core.replaceNamespacedConfigMap(p);
    }],
  ];
  for (const [method, call] of calls) {
    api.reset();
    put('a', { k: 'v' });
    put('b', { k: 'v' });
    api.fault(method, { status: 503 });
    await call();
    assert.equal(api.requests.length, 2, String(api.requests));
    assert.equal(api.requests[1], api.requests[0], `${method}: the retry went to ${api.requests[1]}`);
    assert.equal(String(api.queries[1]), String(api.queries[0]), method);
    assert.deepEqual(api.bodies[1]?.data, api.bodies[0]?.data, method);
    assert.equal(api.bodies[1]?.gracePeriodSeconds, api.bodies[0]?.gracePeriodSeconds, method);
    assert.ok(api.objects.has('default/b'), `${method}: b untouched`);
    if (method === 'PATCH' || method === 'PUT') assert.equal(api.objects.get('default/a').data.k, 'original', method);
    if (method === 'DELETE') assert.ok(!api.objects.has('default/a'), 'a deleted');
  }
});

test('the call-time copy keeps Dates, Buffers and client-node model classes; functions pass as they are', async () => {
  const seen = [];
  const fake = {
    readNamespacedThing(p) {
      seen.push(p);
      if (seen.length === 1) return Promise.reject(Object.assign(new Error('unavailable'), { code: 503 }));
      return Promise.resolve('ok');
    },
  };
  const when = new Date('2026-01-02T03:04:05Z');
  const pod = Object.assign(new k8s.V1Pod(), { metadata: { name: 'p' } });
  const hook = () => 'hook';
  const p = { name: 'a', when, raw: Buffer.from('abc'), pod, hook };
  const client = withRetryClient(fake, { ...options, sleep: async () => {
    p.name = 'b';
    when.setTime(0);
    p.raw[0] = 0x7a;
    pod.metadata.name = 'q';
  } });
  assert.equal(await client.readNamespacedThing(p), 'ok');
  const [first, second] = seen;
  assert.equal(second.name, 'a');
  assert.ok(second.when instanceof Date && second.when.toISOString() === '2026-01-02T03:04:05.000Z');
  assert.ok(Buffer.isBuffer(second.raw) && second.raw.toString() === 'abc');
  assert.ok(second.pod instanceof k8s.V1Pod && second.pod.metadata.name === 'p');
  assert.equal(second.hook, hook);
  assert.equal(first, second, 'every attempt sends the same copy');
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
