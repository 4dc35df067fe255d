// The boundary of a decision: the failure packed into the scratch array and one string, the
// answer as one number (lib/wire.ts, lib/decide.ts, src/wire.rs, src/call.rs), the steps of a call
// in and out of order, and native.plan.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const { native } = require('../dist/cjs/native.js');
const { decide, readBack, decodeDecision } = require('../dist/cjs/decide.js');

const policy = native.NativePolicy.fromJson('{"budget": null, "jitter": "none", "initial_delay": 0.25}');
const begin = (verb = 'GET', listening = true, recovery = 'none') =>
  native.beginCall(policy, 'f', verb, recovery, 0, listening);
const RESET = { codes: ['ECONNRESET'] };
const EXISTS = { status: 409, reason: 'AlreadyExists' };

test('the wire format comes from the addon: flags, actions, ten give-up reasons, read outcomes', () => {
  const format = native.wireFormat();
  assert.deepEqual(format.actions, ['retry', 'read_back', 'done', 'recovered', 'give_up', 'wait']);
  assert.equal(format.giveUpReasons.length, 10);
  assert.equal(format.giveUpReasons[7], 'OutcomeUnknown');
  assert.equal(format.giveUpReasons[8], 'RetryAfterTooLong');
  assert.equal(format.giveUpReasons[9], 'Nested');
  assert.deepEqual(format.readOutcomes, ['ours', 'not_ours', 'missing', 'failed']);
  assert.deepEqual(format.flags, { timeout: 1, cancelled: 2, userRetryable: 4, keepBody: 8, sameBody: 16 });
  assert.equal(format.scratchLength, 4);
});

test('text fields arrive whole: the separator inside one is replaced, and the last (message) keeps it', () => {
  const call = begin();
  const d = decide(call, { codes: ['ECONNRESET'], errorType: 'Fetch\0Error', message: 'reset\0by peer' });
  assert.deepEqual(d, { action: 'retry', delayMs: 250, reason: null });
  const [event] = native.takeEvents(call);
  assert.equal(event.code, 'ECONNRESET');
  assert.equal(event.error_type, 'Fetch\uFFFDError');
  // The message reached the engine whole (a separator-replaced field would read 'reset\uFFFDby'),
  // and events carry it by the engine's rule (DESIGN §7): control characters become spaces.
  assert.equal(event.error, 'reset by peer');
});

test('numbers and flags: status, Retry-After seconds, cancelled, timeout, user-retryable', () => {
  const hinted = decide(begin(), { status: 503, retryAfterSeconds: 2 }).delayMs;
  assert.ok(hinted >= 2000 && hinted <= 2400, `${hinted}: the hint, spread by at most 20%`);
  assert.deepEqual(decide(begin(), { status: 503, cancelled: true }), { action: 'give_up', delayMs: 0, reason: 'Cancelled' });
  assert.equal(decide(begin(), { timeout: true }).action, 'retry');
  assert.deepEqual(decide(begin('POST'), { timeout: true }), { action: 'give_up', delayMs: 0, reason: 'NotIdempotent' });
  assert.equal(decide(begin(), { status: 404 }).reason, 'NonRetryable');
  assert.equal(decide(begin(), { status: 400, userRetryable: true }).action, 'retry');
});

test('the Status body is read by the engine', () => {
  const body = JSON.stringify({ kind: 'Status', code: 429, reason: 'TooManyRequests', details: { retryAfterSeconds: 3 } });
  const delay = decide(begin(), { body }).delayMs;
  assert.ok(delay >= 3000 && delay <= 3600, `${delay}: the hint, spread by at most 20%`);
});

test('a kept body reads as the body sent: the same text again, another in between, one too long to keep', () => {
  const status = (code, reason, seconds) =>
    JSON.stringify({ kind: 'Status', code, reason, details: seconds ? { retryAfterSeconds: seconds } : {} });
  const reasonOf = (body) => {
    const call = begin();
    decide(call, { body });
    return native.takeEvents(call)[0].reason;
  };
  const busy = status(429, 'TooManyRequests', 3);
  // Equal text in another string (as every response's body is) is the same body.
  const again = JSON.parse(JSON.stringify(busy));
  assert.equal(reasonOf(busy), 'TooManyRequests');
  assert.equal(reasonOf(again), 'TooManyRequests');
  const delay = decide(begin(), { body: again }).delayMs;
  assert.ok(delay >= 3000 && delay <= 3600, `${delay}: the kept body's hint`);
  assert.equal(reasonOf(status(503, 'ServiceUnavailable')), 'ServiceUnavailable');
  assert.equal(reasonOf(busy), 'TooManyRequests');
  // Longer than the addon keeps: sent whole every time.
  const long = JSON.stringify({ kind: 'Status', code: 500, reason: 'InternalError', message: 'x'.repeat(native.wireFormat().keepBodyMaxChars) });
  assert.equal(reasonOf(long), 'InternalError');
  assert.equal(reasonOf(long), 'InternalError');
  assert.equal(reasonOf(busy), 'TooManyRequests');
  // A step that threw (a released call) kept nothing the next step relies on.
  const released = begin();
  native.releaseCall(released);
  assert.throws(() => decide(released, { body: status(500, 'InternalError') }), { code: 'K8SRETRY_CALL_FINISHED' });
  assert.equal(reasonOf(status(500, 'InternalError')), 'InternalError');
  assert.equal(reasonOf(busy), 'TooManyRequests');
});

test('a call nobody listens to builds no events', () => {
  const call = begin('GET', false);
  assert.equal(decide(call, { status: 503, message: 'x' }, false).action, 'retry');
  assert.deepEqual(native.takeEvents(call), []);
});

test('every answer decodes to a known action', () => {
  assert.deepEqual(decodeDecision(0 + 8 * 1500), { action: 'retry', delayMs: 1.5, reason: null });
  assert.deepEqual(decodeDecision(1 + 8 * 2000), { action: 'read_back', delayMs: 2, reason: null });
  assert.deepEqual(decodeDecision(2), { action: 'done', delayMs: 0, reason: null });
  assert.deepEqual(decodeDecision(3), { action: 'recovered', delayMs: 0, reason: null });
  assert.deepEqual(decodeDecision(4 + 8 * 7), { action: 'give_up', delayMs: 0, reason: 'OutcomeUnknown' });
});

test('a read-back: asked for, answered ours / not ours / failed, with its own retries and events', () => {
  const ours = begin('POST', true, 'create');
  assert.equal(decide(ours, RESET).action, 'retry');
  assert.deepEqual(decide(ours, EXISTS), { action: 'read_back', delayMs: 0, reason: null });
  native.takeEvents(ours);
  assert.equal(readBack(ours, 'ours').action, 'recovered');
  assert.deepEqual(native.takeEvents(ours).map((e) => e.event), ['k8s_api_call_recovered_lost_response']);

  const theirs = begin('POST', true, 'create');
  decide(theirs, RESET);
  decide(theirs, EXISTS);
  assert.deepEqual(readBack(theirs, 'not_ours'), { action: 'give_up', delayMs: 0, reason: 'NonRetryable' });

  const failing = begin('POST', true, 'create');
  decide(failing, RESET);
  decide(failing, EXISTS);
  native.takeEvents(failing);
  const d = readBack(failing, 'failed', { status: 503, message: 'read failed' });
  assert.deepEqual(d, { action: 'read_back', delayMs: 250, reason: null });
  const [event] = native.takeEvents(failing);
  assert.equal(event.function, 'f/read_back');
  assert.equal(event.status_code, 503);
  assert.equal(readBack(failing, 'failed', { status: 403 }).reason, 'OutcomeUnknown');
});

test('steps out of order throw an Error with a code, and leave the call as it was', () => {
  const call = begin('POST', true, 'create');
  assert.throws(
    () => readBack(call, 'ours'),
    (err) => err instanceof Error && err.code === 'K8SRETRY_OUT_OF_ORDER' && /none was asked for/.test(err.message),
  );
  decide(call, RESET);
  assert.equal(decide(call, EXISTS).action, 'read_back');
  assert.throws(() => decide(call, RESET), (err) => err.code === 'K8SRETRY_OUT_OF_ORDER' && /read-back/.test(err.message));
  assert.equal(readBack(call, 'ours').action, 'recovered', 'the read-back is still expected');
  assert.throws(() => decide(call, RESET), (err) => err.code === 'K8SRETRY_CALL_FINISHED');
  assert.throws(() => readBack(call, 'missing'), (err) => err.code === 'K8SRETRY_CALL_FINISHED');
});

test('bad input is an Error with a code, never a crash', () => {
  const invalid = (err) => err instanceof Error && err.code === 'K8SRETRY_INVALID_ARGUMENT';
  assert.throws(() => native.decide({}), (err) => err instanceof Error && typeof err.code === 'string');
  assert.throws(() => native.bindScratch(new Float64Array(2)), (err) => invalid(err) && new RegExp(`${native.wireFormat().scratchLength} elements`).test(err.message));
  assert.throws(() => native.readBack(begin(), 'maybe'), (err) => invalid(err) && /maybe/.test(err.message));
  assert.throws(() => begin('POTS'), (err) => invalid(err) && /POTS/.test(err.message));
  assert.throws(() => begin('POST', true, 'retry_harder'), (err) => invalid(err) && /retry_harder/.test(err.message));
  assert.throws(() => native.plan({ verb: 'FETCH' }), invalid);
});

test('native.plan answers from the facts', () => {
  const plan = (request) => native.plan(request);
  const base = { verb: 'POST', resource: 'createNamespacedConfigMap', canGet: true, canList: true };
  assert.deepEqual(plan({ ...base, named: true }), { recovery: 'create', stamp: 'annotation' });
  assert.deepEqual(plan({ ...base, generateName: true }), { recovery: 'create_generated', stamp: 'annotation_and_label' });
  assert.deepEqual(plan({ ...base, named: true, adoptExisting: true }), { recovery: 'create_adopt', stamp: 'none' });
  assert.deepEqual(plan({ ...base, named: true, canGet: false }), { recovery: 'none', stamp: 'none' });
  assert.deepEqual(plan({ verb: 'POST', resource: 'createSelfSubjectAccessReview' }), { recovery: 'idempotent', stamp: 'none' });
  assert.deepEqual(plan({ verb: 'PUT', resourceVersion: true, canGet: true }), { recovery: 'replace_stamped', stamp: 'annotation' });
  assert.equal(plan({ verb: 'PUT' }).recovery, 'none');
  for (const type of ['application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml']) {
    assert.equal(plan({ verb: 'PATCH', patch: type }).recovery, 'idempotent', type);
  }
  assert.equal(plan({ verb: 'PATCH', patch: 'application/json-patch+json' }).recovery, 'none');
  assert.equal(plan({ verb: 'PATCH' }).recovery, 'none');
  assert.equal(plan({ verb: 'DELETE', missingOk: true }).recovery, 'delete_missing_ok');
  assert.equal(native.REQUEST_ID, 'k8sretry.dev/request-id');
});
