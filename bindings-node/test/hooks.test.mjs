// What the runner container hooks met when they adopted k8sretry (issue 13), against the fake
// apiserver with the real client-node 1.4: the permission check's 13 concurrent reviews from one
// shared body, the log lines a maintainer reads, missingOk for a racing prune, the loader's
// message when the native file is missing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';

import * as k8s from '@kubernetes/client-node';

import { Policy, formatEvent, levelOf, withRetry, withRetryClient } from '../dist/esm/index.mjs';

const require = createRequire(import.meta.url);
const FAST = new Policy({ initialDelay: 0.001, maxDelay: 0.002, budget: false, maxRetries: 4 });
const cm = (name) => ({ metadata: { name }, data: { k: 'v' } });

let api;
before(async () => {
  const { startApiServer } = await import('./fake-apiserver.mjs');
  api = await startApiServer();
});
after(() => api.close());
beforeEach(() => api.reset());

/** A logger that keeps every line with its level. */
function recorder() {
  const lines = [];
  return {
    lines,
    at: (level) => lines.filter((l) => l.level === level).map((l) => l.message),
    logger: {
      warn: (message) => lines.push({ level: 'warn', message }),
      info: (message) => lines.push({ level: 'info', message }),
      debug: (message) => lines.push({ level: 'debug', message }),
    },
  };
}

// The hooks' isAuthPermissionsOK: one V1SelfSubjectAccessReview object, its spec replaced for
// each of the 13 checks, every create in flight at once.
const PERMISSIONS = [
  { group: '', verbs: ['get', 'list', 'create', 'delete'], resource: 'pods', subresource: '' },
  { group: '', verbs: ['get', 'create'], resource: 'pods', subresource: 'exec' },
  { group: '', verbs: ['get', 'list', 'watch'], resource: 'pods', subresource: 'log' },
  { group: '', verbs: ['create', 'delete', 'get', 'list'], resource: 'secrets', subresource: '' },
];
function permissionChecks(authz) {
  const sar = new k8s.V1SelfSubjectAccessReview();
  const asked = [];
  const answers = [];
  for (const permission of PERMISSIONS) {
    for (const verb of permission.verbs) {
      sar.spec = new k8s.V1SelfSubjectAccessReviewSpec();
      sar.spec.resourceAttributes = new k8s.V1ResourceAttributes();
      Object.assign(sar.spec.resourceAttributes, { verb, namespace: 'default', ...permission });
      delete sar.spec.resourceAttributes.verbs;
      asked.push(`${verb} ${permission.resource}/${permission.subresource}`);
      answers.push(authz.createSelfSubjectAccessReview({ body: sar }));
    }
  }
  return { asked, answers: Promise.all(answers) };
}

for (const adoptExisting of [false, true]) {
  test(`13 concurrent reviews from one shared body, under resets and 503s, adoptExisting ${adoptExisting}: never stamped, each answered for its own spec`, async () => {
    api.fault('POST', 'drop_after', { status: 503 }, 'drop_before', 'drop_after', { status: 503 });
    const log = recorder();
    const authz = withRetryClient(api.authorization, { policy: FAST, adoptExisting, logger: log.logger });
    const { asked, answers } = permissionChecks(authz);
    const got = await answers;
    assert.equal(got.length, 13);
    assert.deepEqual(
      got.map((r) => `${r.spec.resourceAttributes.verb} ${r.spec.resourceAttributes.resource}/${r.spec.resourceAttributes.subresource}`),
      asked,
      'a resend sends the spec of its own call, not the shared object as it is later',
    );
    assert.ok(got.every((r) => r.status.allowed));
    assert.equal(api.requests.length, 13 + 5, 'each fault cost one resend');
    for (const body of api.bodies) assert.equal(body.metadata, undefined, 'no metadata: the apiserver would answer 422');
    assert.equal(log.at('warn').length, 5, log.lines.map((l) => l.message).join('\n'));
    assert.ok(!log.lines.some((l) => /read_back/.test(l.message)), 'a review is never read back');
  });
}

test('a review that fails past its retries rejects with its own error, never a TypeError of ours', async () => {
  api.fault('POST', ...Array.from({ length: 5 }, () => 'drop_before'));
  const authz = withRetryClient(api.authorization, { policy: FAST, logger: null });
  const review = { spec: { resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'default' } } };
  const err = await authz.createSelfSubjectAccessReview({ body: review }).catch((e) => e);
  assert.ok(!(err instanceof TypeError), String(err));
  assert.equal(api.requests.length, 5);
  assert.equal(err.code, 'ECONNRESET', String(err));
  assert.equal(err.k8sretry.reason, 'MaxRetries');
  assert.equal(err.k8sretry.readErrors.length, 0);
});

test('log lines: function, attempt of max, status, reason, code and delay; a first-attempt 404 or 409 is no warning', async () => {
  api.objects.set('default/taken', { metadata: { name: 'taken', namespace: 'default' } });
  const log = recorder();
  const core = withRetryClient(api.core, { policy: FAST, logger: log.logger });
  await assert.rejects(core.readNamespacedConfigMap({ name: 'missing', namespace: 'default' }), (e) => e.code === 404);
  await assert.rejects(core.createNamespacedConfigMap({ namespace: 'default', body: cm('taken') }), (e) => e.code === 409);
  assert.deepEqual(log.at('warn'), []);
  assert.deepEqual(log.at('debug'), [
    'k8s_api_call_failed_non_retryable function=readNamespacedConfigMap attempt=1/5 give_up=NonRetryable status=404 reason=NotFound',
    'k8s_api_call_failed_non_retryable function=createNamespacedConfigMap attempt=1/5 give_up=NonRetryable status=409 reason=AlreadyExists',
  ]);

  log.lines.length = 0;
  api.objects.set('default/a', { metadata: { name: 'a', namespace: 'default' } });
  api.fault('GET', { status: 503 }, 'drop_before');
  await core.readNamespacedConfigMap({ name: 'a', namespace: 'default' });
  const [first, second] = log.at('warn');
  assert.match(first, /^k8s_api_call_failed_retrying function=readNamespacedConfigMap attempt=1\/5 status=503 reason=ServiceUnavailable delay_seconds=0\.00\d$/);
  assert.match(second, /^k8s_api_call_failed_retrying function=readNamespacedConfigMap attempt=2\/5 code=ECONNRESET delay_seconds=0\.00\d error="request to http:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/default\/configmaps\/a failed, reason: [^"]+"$/);
  assert.deepEqual(log.at('info'), ['k8s_api_call_succeeded_after_retry function=readNamespacedConfigMap attempt=3/5']);

  // A lost create: the read-back's retries are named as the read-back of that call.
  log.lines.length = 0;
  api.fault('POST', 'drop_after');
  api.fault('GET', { status: 503 });
  await core.createNamespacedConfigMap({ namespace: 'default', body: cm('lost') });
  assert.deepEqual(
    log.lines.map((l) => `${l.level} ${l.message.replace(/delay_seconds=\S+/, 'delay').replace(/reason: [^"]+"/, 'reason: REASON"')}`),
    [
      'warn k8s_api_call_failed_retrying function=createNamespacedConfigMap attempt=1/5 code=ECONNRESET delay error="request to ' +
        `${api.url}/api/v1/namespaces/default/configmaps failed, reason: REASON"`,
      'warn k8s_api_call_failed_retrying function=createNamespacedConfigMap/read_back attempt=1/17 status=503 reason=ServiceUnavailable delay',
      'info k8s_api_call_recovered_lost_response function=createNamespacedConfigMap attempt=2/5',
    ],
  );

  // After retries a refusal is a warning: somebody else's object holds the name.
  log.lines.length = 0;
  api.fault('POST', 'drop_before');
  await assert.rejects(core.createNamespacedConfigMap({ namespace: 'default', body: cm('taken') }), (e) => e.code === 409);
  assert.deepEqual(log.at('warn').at(-1), 'k8s_api_call_failed_non_retryable function=createNamespacedConfigMap attempt=2/5 give_up=NonRetryable status=409 reason=AlreadyExists');
});

test('levels are the engine\'s, lines plain functions of the event; a logger without error/debug/info is fine; a throwing logger changes nothing', async () => {
  const base = { function: 'f', attempt: 1, max_retries: 3 };
  assert.equal(levelOf({ ...base, event: 'k8s_api_call_failed_non_retryable', level: 'error' }), 'error');
  // Each event goes to the logger method of the level the engine gave it.
  const lines = [];
  const logger = Object.fromEntries(['debug', 'info', 'warn', 'error'].map((l) => [l, (m) => lines.push(`${l} ${m.split(' ')[0]}`)]));
  const lost = async () => {
    throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  };
  const missing = async () => {
    throw Object.assign(new Error('HTTP-Code: 404'), { code: 404 });
  };
  await assert.rejects(withRetry(lost, { policy: FAST, verb: 'POST', logger }));
  await assert.rejects(withRetry(missing, { policy: FAST, verb: 'GET', logger }));
  assert.deepEqual(lines, ['error k8s_api_call_failed_non_retryable', 'debug k8s_api_call_failed_non_retryable']);
  // A logger without `error` gets the outcome-unknown line at `warn`.
  const warnedOnly = [];
  await assert.rejects(withRetry(lost, { policy: FAST, verb: 'POST', logger: { warn: (m) => warnedOnly.push(m) } }));
  assert.equal(warnedOnly.length, 1);
  assert.equal(
    formatEvent({ ...base, event: 'k8s_api_call_failed_max_retries', attempt: 4, give_up: 'MaxRetries', status_code: 503, reason: 'ServiceUnavailable' }),
    'k8s_api_call_failed_max_retries function=f attempt=4/4 give_up=MaxRetries status=503 reason=ServiceUnavailable',
  );
  const warned = [];
  let n = 0;
  const flaky = async () => {
    n += 1;
    if (n < 3) throw Object.assign(new Error('HTTP-Code: 503'), { code: 503 });
    return 'ok';
  };
  assert.equal(await withRetry(flaky, { policy: FAST, logger: { warn: (m) => warned.push(m) } }), 'ok');
  assert.equal(warned.length, 2);
  n = 0;
  const throwing = { warn: () => { throw new Error('logger broke'); } };
  const warnings = [];
  const onWarning = (w) => warnings.push(w.message);
  process.on('warning', onWarning);
  assert.equal(await withRetry(flaky, { policy: FAST, logger: throwing }), 'ok');
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  assert.ok(warnings.some((w) => w.includes('logger broke')));
});

test('missingOk: a prune racing another deleter resolves; without it the first-attempt 404 is raised', async () => {
  for (const name of ['a', 'b', 'c']) api.objects.set(`default/${name}`, { metadata: { name, namespace: 'default', labels: { runner: 'r1' } } });
  const core = withRetryClient(api.core, { policy: FAST, logger: null });
  const pruner = withRetryClient(api.core, { policy: FAST, logger: null, missingOk: true });
  const listed = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'runner=r1' });
  api.objects.delete('default/b'); // the other deleter was faster
  const results = await Promise.all(listed.items.map((o) => pruner.deleteNamespacedConfigMap({ name: o.metadata.name, namespace: 'default' })));
  assert.equal(results[1], undefined);
  assert.equal(api.objects.size, 0);
  await assert.rejects(core.deleteNamespacedConfigMap({ name: 'b', namespace: 'default' }), (e) => e.code === 404);
});

test('a missing native file: one error naming the platform, every path tried and K8SRETRY_NATIVE_PATH', () => {
  const { loadNative, native, nativeFileNames, NATIVE_PATH_ENV } = require('../dist/cjs/native.js');
  const empty = mkdtempSync(join(tmpdir(), 'k8sretry-no-native-'));
  const err = (() => {
    try {
      loadNative({}, empty);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err, 'no error');
  assert.equal(err.code, 'K8SRETRY_NATIVE_NOT_FOUND');
  assert.match(err.message, new RegExp(`no native engine for ${process.platform}-${process.arch}`));
  assert.ok(err.message.includes(join(empty, nativeFileNames()[0])), err.message);
  assert.ok(err.message.includes(join(empty, 'native', nativeFileNames()[0])), err.message);
  assert.ok(err.message.includes(NATIVE_PATH_ENV));
  assert.ok(!/wasm|wasi|optional dependencies/i.test(err.message), err.message);
  assert.deepEqual(err.tried.slice(0, 2), [join(empty, nativeFileNames()[0]), join(empty, 'native', nativeFileNames()[0])]);

  const bogus = join(empty, 'nothing.node');
  assert.throws(() => loadNative({ [NATIVE_PATH_ENV]: bogus }, empty), (e) => e.code === 'K8SRETRY_NATIVE_NOT_FOUND' && e.message.includes(bogus));
  const real = join(new URL('..', import.meta.url).pathname, 'native', nativeFileNames()[0]);
  assert.equal(loadNative({ [NATIVE_PATH_ENV]: real }, empty), native, 'one opening per file and process');

  // The whole package, run with the variable pointing nowhere: the import fails with that message.
  const out = (() => {
    try {
      execFileSync(process.execPath, ['-e', "require('./dist/cjs/index.js')"], {
        cwd: new URL('..', import.meta.url).pathname,
        env: { ...process.env, [NATIVE_PATH_ENV]: bogus },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      return e.stderr;
    }
    return '';
  })();
  assert.match(out, /cannot load its native engine from K8SRETRY_NATIVE_PATH=/);
});
