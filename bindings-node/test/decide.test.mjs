// The boundary of a decision: the failure packed into the scratch array and one string, the
// answer as one number (lib/decide.ts, src/call.rs, src/scratch.rs).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const native = require('../native/index.js');
const { decide, decodeDecision } = require('../dist/cjs/decide.js');

const policy = native.NativePolicy.fromJson('{"budget": null, "jitter": "none", "initial_delay": 0.25}');
const begin = (verb = 'GET', listening = true) => native.beginCall(policy, 'f', verb, 'none', 0, listening);

test('text fields arrive whole: the separator inside one is replaced, and the last (message) keeps it', () => {
  const call = begin();
  const d = decide(call, { codes: ['ECONNRESET'], errorType: 'Fetch\0Error', message: 'reset\0by peer' });
  assert.deepEqual(d, { action: 'retry', delayMs: 250, reason: null });
  const [event] = native.takeEvents(call);
  assert.equal(event.code, 'ECONNRESET');
  assert.equal(event.error_type, 'Fetch\uFFFDError');
  assert.equal(event.error, 'reset\0by peer');
});

test('numbers and flags: status, Retry-After seconds, cancelled, timeout', () => {
  assert.equal(decide(begin(), { status: 503, retryAfterSeconds: 2 }).delayMs, 2000);
  assert.deepEqual(decide(begin(), { status: 503, cancelled: true }), { action: 'give_up', delayMs: 0, reason: 'Cancelled' });
  assert.equal(decide(begin(), { timeout: true }).action, 'retry');
  assert.deepEqual(decide(begin('POST'), { timeout: true }), { action: 'give_up', delayMs: 0, reason: 'NotIdempotent' });
  assert.equal(decide(begin(), { status: 404 }).reason, 'NonRetryable');
});

test('the Status body is read by the engine', () => {
  const body = JSON.stringify({ kind: 'Status', code: 429, reason: 'TooManyRequests', details: { retryAfterSeconds: 3 } });
  assert.equal(decide(begin(), { body }).delayMs, 3000);
});

test('a call nobody listens to builds no events', () => {
  const call = begin('GET', false);
  assert.equal(decide(call, { status: 503, message: 'x' }, false).action, 'retry');
  assert.deepEqual(native.takeEvents(call), []);
});

test('every answer decodes to a known action', () => {
  assert.deepEqual(decodeDecision(0 + 8 * 1500), { action: 'retry', delayMs: 1.5, reason: null });
  assert.deepEqual(decodeDecision(3), { action: 'done', delayMs: 0, reason: null });
});

test('bad handles and a short scratch array are errors, not crashes', () => {
  assert.throws(() => native.decide({}), (err) => err instanceof Error && typeof err.code === 'string');
  assert.throws(() => native.bindScratch(new Float64Array(2)), (err) => err.code === 'InvalidArg' && /3 elements/.test(err.message));
});
