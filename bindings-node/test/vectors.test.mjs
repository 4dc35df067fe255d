// Every conformance vector in tests/vectors/, through the Node binding.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';

import { levelOf, parseRetryAfter } from '../dist/esm/index.mjs';

const require = createRequire(import.meta.url);
const { native } = require('../dist/cjs/native.js');
// The retry loop's own path to the engine: native.decide / decideWith / readBack and the
// one-number answer.
const { decide, readBack, resume, cancelled } = require('../dist/cjs/decide.js');
const load = (name) => JSON.parse(readFileSync(new URL(`../../tests/vectors/${name}`, import.meta.url), 'utf8'));

const failure = (f) => ({
  status: f.status,
  reason: f.reason,
  body: f.body,
  retryAfter: f.retry_after,
  retryAfterSeconds: f.retry_after_seconds,
  codes: f.codes,
  timeout: f.timeout,
  cancelled: f.cancelled,
  userRetryable: f.user_retryable,
  verb: f.verb,
});

test('classification vectors', () => {
  const { cases } = load('classification.json');
  for (const c of cases) {
    const policy = native.NativePolicy.fromJson(c.policy_json ?? '{}');
    assert.equal(policy.classify(failure(c.failure)), c.class, c.name);
    assert.equal(policy.isRetryable(failure(c.failure)), c.retryable, c.name);
  }
});

test('Retry-After vectors', () => {
  const { now, cases } = load('retry_after.json');
  for (const c of cases) {
    const got = parseRetryAfter(c.value, now * 1000);
    if (c.seconds === null) assert.equal(got, null, c.name);
    else assert.ok(Math.abs(got / 1000 - c.seconds) <= 1e-9 * Math.max(1, c.seconds), `${c.name}: ${got}`);
  }
});

/** Runs one step and compares its answer with `expected` (an `error` is a thrown Error with a code). */
function expect(at, expected, step) {
  if (expected.decision === 'error') {
    assert.throws(step, (err) => err instanceof Error && /^K8SRETRY_(OUT_OF_ORDER|CALL_FINISHED)$/.test(err.code), at);
    return;
  }
  const d = step();
  assert.equal(d.action, expected.decision, at);
  if (d.action === 'retry' || d.action === 'read_back' || d.action === 'wait') {
    assert.ok(Math.abs(d.delayMs / 1000 - expected.delay) <= 1e-6, `${at}: ${d.delayMs}`);
  }
  if (d.action === 'give_up') assert.equal(d.reason, expected.reason, at);
}

/** Runs the steps of `scenario`; returns the events its calls emitted. */
function run(scenario) {
  const events = [];
  const clock = new native.ManualClock(scenario.start_unix);
  const policy = native.NativePolicy.fromJson(scenario.policy_json ?? '{}', clock);
  const calls = new Map();
  scenario.steps.forEach((step, i) => {
    const at = `${scenario.name}: step ${i}`;
    const id = step.call ?? 'a';
    const call = calls.get(id);
    switch (step.op) {
      case 'begin':
        calls.set(
          id,
          native.beginCall(policy, step.function, step.verb, step.recovery, 0, true, step.reader ?? true, step.nested ?? false),
        );
        break;
      case 'cancel':
        expect(at, step.expect, () => cancelled(call));
        break;
      case 'fail':
        expect(at, step.expect, () => decide(call, failure(step.failure)));
        events.push(...native.takeEvents(call));
        break;
      case 'resume':
        expect(at, step.expect, () => resume(call));
        events.push(...native.takeEvents(call));
        break;
      case 'read_back':
        expect(at, step.expect, () =>
          readBack(call, step.outcome, step.failure === undefined ? undefined : failure(step.failure)),
        );
        events.push(...native.takeEvents(call));
        break;
      case 'succeed':
        if (step.attempts !== undefined) assert.equal(native.attempts(call), step.attempts, at);
        events.push(...native.onSuccess(call));
        break;
      case 'advance':
        clock.advance(step.seconds);
        break;
      default:
        assert.fail(`${at}: unknown op ${step.op}`);
    }
  });
  return events;
}

test('delay vectors', () => {
  for (const s of load('delays.json').scenarios) run(s);
});

test('decision vectors', () => {
  const { scenarios } = load('decisions.json');
  const ops = new Set(scenarios.flatMap((s) => s.steps.map((step) => step.op)));
  const expected = new Set(scenarios.flatMap((s) => s.steps.map((step) => step.expect?.decision)));
  // The runner must meet every kind of step and answer, or a vector is not tested.
  for (const op of ['read_back', 'fail', 'succeed', 'advance', 'resume']) assert.ok(ops.has(op), op);
  for (const d of ['retry', 'read_back', 'done', 'recovered', 'give_up', 'error', 'wait']) assert.ok(expected.has(d), d);
  for (const s of scenarios) run(s);
});

test('event vectors: the events of each call with the engine\'s level, the logger method it goes to', () => {
  const { scenarios } = load('events.json');
  assert.ok(scenarios.length >= 15);
  for (const s of scenarios) {
    const got = run(s);
    const fields = got.map((e) => ({
      function: e.function,
      event: e.event,
      attempt: e.attempt,
      level: e.level,
      give_up: e.give_up ?? null,
    }));
    assert.deepEqual(fields, s.events, s.name);
    for (const e of got) assert.equal(levelOf(e), e.level, s.name);
  }
});

test('plan vectors: every row of the per-verb table', () => {
  const { cases } = load('plans.json');
  assert.ok(cases.length >= 40);
  for (const c of cases) {
    const r = c.request;
    const answer = native.plan({
      verb: r.verb,
      resource: r.resource,
      named: r.named,
      generateName: r.generate_name,
      resourceVersion: r.resource_version,
      patch: r.patch ?? r.content_type,
      objectBody: r.object_body,
      adoptExisting: r.adopt_existing,
      canGet: r.can_get,
      canList: r.can_list,
      missingOk: r.missing_ok,
    });
    assert.deepEqual(answer, { recovery: c.recovery, stamp: c.stamp }, c.name);
  }
});
