// withRetry, the helpers, and the extraction of what real clients throw.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ArgumentError,
  Policy,
  PolicyError,
  classify,
  isRetryableError,
  metricsText,
  parseRetryAfter,
  presets,
  retryAfterDelay,
  retryOnConflict,
  withRetry,
} from '../dist/esm/index.mjs';

const quiet = { logger: null };
const noSleep = (delays) => ({ ...quiet, sleep: (ms) => void delays.push(ms) });
function apiError(code, headers = {}, body) {
  const err = new Error(`HTTP-Code: ${code}`);
  err.code = code;
  err.headers = headers;
  err.body = body;
  return err;
}

test('runner_hooks: 3 retries = 4 calls, 1 s·2^n ±50%, the original error rethrown', async () => {
  const delays = [];
  const errors = [];
  const attempts = [];
  await assert.rejects(
    withRetry(async (attempt) => {
      attempts.push(attempt);
      const err = apiError(503);
      errors.push(err);
      throw err;
      // The preset without the process-wide budget: that is shared with every other test in
      // this process, whose failures (no time passes with noSleep) may leave its episode spent.
    }, { ...noSleep(delays), policy: new Policy({ preset: 'runner_hooks', budget: false }) }),
    (err) => err === errors[3] && err.k8sretry.attempts === 4 && err.k8sretry.reason === 'MaxRetries',
  );
  assert.deepEqual(attempts, [0, 1, 2, 3]);
  delays.forEach((ms, n) => assert.ok(ms >= 500 * 2 ** n && ms <= 1500 * 2 ** n, `delay ${n}: ${ms}`));
});

test('Retry-After on 429 is honoured, never shortened: a hint above the cap gives up', async () => {
  const delays = [];
  let n = 0;
  const result = await withRetry(async () => {
    n += 1;
    if (n === 1) throw apiError(429, { 'retry-after': '7' });
    return 'ok';
  }, noSleep(delays));
  assert.equal(result, 'ok');
  assert.ok(delays[0] >= 7000, `${delays[0]}`);
  n = 0;
  const tooLong = withRetry(async () => {
    n += 1;
    throw apiError(429, { 'retry-after': '3600' });
  }, noSleep(delays));
  await assert.rejects(tooLong, (e) => e.k8sretry.reason === 'RetryAfterTooLong');
  assert.equal(n, 1);
  assert.equal(delays.length, 1);
  const hinted = retryAfterDelay(apiError(429, { 'retry-after': '20' }), 0);
  assert.ok(hinted >= 20000 && hinted <= 24000, `${hinted}: the hint, spread by at most 20%`);
  const d = retryAfterDelay(apiError(503), 2);
  assert.ok(d >= 2000 && d <= 6000, `${d}`);
});

test('the cause chain stays intact and undici/node-fetch errors are understood', async () => {
  const socket = Object.assign(new Error('other side closed'), { name: 'SocketError', code: 'UND_ERR_SOCKET' });
  const fetchFailed = new TypeError('fetch failed', { cause: socket });
  assert.equal(classify(fetchFailed), 'NetworkAmbiguous');
  const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED', errno: -111 }) });
  assert.equal(classify(refused), 'NetworkNotSent');
  const nodeFetch = Object.assign(new Error('request to x failed, reason: socket hang up'), { name: 'FetchError', type: 'system', code: 'ECONNRESET', errno: 'ECONNRESET' });
  assert.equal(classify(nodeFetch), 'NetworkAmbiguous');
  const premature = Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
  assert.ok(isRetryableError(premature));
  const timeout = Object.assign(new Error('network timeout'), { name: 'FetchError', type: 'request-timeout' });
  assert.equal(classify(timeout), 'NetworkAmbiguous');
  assert.equal(classify(new AggregateError([new Error('a'), Object.assign(new Error('b'), { code: 'ECONNREFUSED' })])), 'NetworkNotSent');

  let n = 0;
  const err = await withRetry(async () => {
    n += 1;
    throw fetchFailed;
  }, noSleep([])).catch((e) => e);
  assert.equal(err, fetchFailed);
  assert.equal(err.cause, socket, 'cause untouched');
  assert.equal(n, 4);
});

test('cyclic and deep cause chains end; non-Error throwables are not retried', async () => {
  const a = new Error('a');
  const b = new Error('b', { cause: a });
  a.cause = b;
  assert.equal(classify(a), 'Fatal');
  let deep = Object.assign(new Error('root'), { code: 'ECONNRESET' });
  for (let i = 0; i < 100; i += 1) deep = new Error(`level ${i}`, { cause: deep });
  assert.equal(classify(deep), 'Fatal', 'past 16 links the reset is not seen');
  for (const thrown of ['a string', 42, null, undefined, { weird: true }]) {
    let calls = 0;
    await assert.rejects(withRetry(async () => { calls += 1; throw thrown; }, noSleep([])), (e) => e === thrown);
    assert.equal(calls, 1);
  }
});

test('AbortSignal: aborting mid-sleep rejects at once with an AbortError', async () => {
  const controller = new AbortController();
  let calls = 0;
  const started = Date.now();
  const pending = withRetry(async () => {
    calls += 1;
    throw apiError(503);
  }, { ...quiet, signal: controller.signal, policy: new Policy({ initialDelay: 3600, maxDelay: 3600, budget: false }) });
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(pending, (e) => e.name === 'AbortError');
  assert.ok(Date.now() - started < 2000);
  assert.equal(calls, 1);
  await assert.rejects(withRetry(async () => 'never', { signal: AbortSignal.abort() }), (e) => e.name === 'AbortError');
  await assert.rejects(withRetry(async () => 1, { signal: 'nope' }), (e) => e instanceof ArgumentError && e.code === 'K8SRETRY_INVALID_ARGUMENT');
});

test('events go to onEvent and retries/give-ups to the logger', async () => {
  const events = [];
  const logged = [];
  let n = 0;
  await withRetry(async () => {
    n += 1;
    if (n === 1) throw apiError(503, {}, '{"kind":"Status","reason":"ServiceUnavailable","code":503}');
    return 'ok';
  }, { name: 'node_events', sleep: () => {}, onEvent: (e) => events.push(e), logger: { warn: (m) => logged.push(m) } });
  assert.deepEqual(events.map((e) => e.event), ['k8s_api_call_failed_retrying', 'k8s_api_call_succeeded_after_retry']);
  assert.equal(events[0].status_code, 503);
  assert.equal(events[0].reason, 'ServiceUnavailable');
  assert.equal(events[0].max_retries, 3);
  assert.equal(logged.length, 1);
  assert.match(logged[0], /^k8s_api_call_failed_retrying function=node_events attempt=1/);
  assert.match(metricsText(), /k8sretry_calls_total\{function="node_events",outcome="success_after_retry"\} 1/);
});

test('policies, presets, parsing and conflicts', async () => {
  assert.deepEqual([...presets].slice(0, 5), ['default', 'mutation', 'read', 'connection', 'runner_hooks']);
  assert.throws(() => Policy.fromJson('{"max_retrys": 1}'), (e) => e instanceof PolicyError && e.code === 'K8SRETRY_INVALID_POLICY' && /max_retrys/.test(e.message));
  assert.throws(() => Policy.preset('fast'), PolicyError);
  assert.throws(() => new Policy({ maxDelay: -1 }), PolicyError);
  assert.equal(parseRetryAfter('Tue, 14 Nov 2023 22:13:30 GMT', 1_700_000_000_000), 10000);
  assert.equal(parseRetryAfter('soon'), null);
  let n = 0;
  const out = await retryOnConflict(async () => {
    n += 1;
    if (n < 3) throw apiError(409, {}, '{"kind":"Status","reason":"Conflict","code":409}');
    return 'written';
  }, quiet);
  assert.equal(out, 'written');
});

test('retryOnConflict re-runs on Conflict but never after a lost response', async () => {
  let n = 0;
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  const err = await retryOnConflict(async () => {
    n += 1;
    throw reset;
  }, quiet).catch((e) => e);
  assert.equal(err, reset);
  assert.equal(err.k8sretry.reason, 'NotIdempotent');
  assert.equal(n, 1);
});

test('an abort while waiting to read back ends the call as cancelled', async () => {
  const { createIdempotent } = await import('../dist/esm/index.mjs');
  const controller = new AbortController();
  const events = [];
  let lists = 0;
  const pending = createIdempotent(
    {
      create: async () => {
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      },
      list: async () => {
        lists += 1;
        return { items: [] };
      },
      body: { metadata: { generateName: 'x-' } },
    },
    {
      logger: null,
      signal: controller.signal,
      onEvent: (e) => events.push(e),
      policy: new Policy({ initialDelay: 3600, maxDelay: 3600, budget: false }),
    },
  );
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(pending, (e) => e.name === 'AbortError');
  assert.equal(lists, 0);
  assert.equal(events.at(-1).give_up, 'Cancelled');
});

test('a verb that is no verb is an error with a code, not a silent UNKNOWN', async () => {
  await assert.rejects(
    withRetry(async () => {
      throw apiError(503);
    }, { ...quiet, verb: 'POTS' }),
    (e) => e.code === 'K8SRETRY_INVALID_ARGUMENT' && /POTS/.test(e.message),
  );
});

test('DESIGN §7: no bearer token, Secret data or request body in any log line or event', async () => {
  const token = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpjaSJ9.c2lnbmF0dXJlLW5vdC1yZWFs';
  const secret = 'c3VwZXItc2VjcmV0LXBhc3N3b3JkLTQy';
  const body = 'request-body-canary';
  const leaky =
    'Put "https://127.0.0.1:6443/api/v1/namespaces/default/secrets/db": ' +
    `Authorization: Bearer ${token}; data.password=${secret}; request body: ` +
    `{"kind":"Secret","data":{"password":"${secret}"},"stringData":{"note":"${body}"}}\n` +
    `response body: ${body} ${secret}`;
  const lines = [];
  const events = [];
  const log = (message, event) => lines.push(`${message} ${JSON.stringify(event)}`);
  const options = {
    policy: new Policy({ initialDelay: 0.001, maxDelay: 0.002, budget: false, maxRetries: 1 }),
    logger: { warn: log, info: log, debug: log },
    onEvent: (event) => events.push(event),
    sleep: () => {},
    name: 'replace_secret',
  };
  // A connection error (no status: its text is in the log line) and an API error with a status.
  for (const make of [() => Object.assign(new Error(leaky), { code: 'ECONNREFUSED' }), () => apiError(503, {}, leaky)]) {
    const errors = [];
    await assert.rejects(
      withRetry(async () => {
        const err = make();
        if (err.code === 503) err.message = leaky;
        errors.push(err);
        throw err;
      }, options),
      (err) => err === errors[1] && err.message === leaky,
    );
  }
  assert.equal(lines.length, 4, lines.join('\n'));
  assert.equal(events.length, 4);
  for (const text of [...lines, ...events.map((e) => JSON.stringify(e))]) {
    for (const gone of [token, secret, body, '\\"kind\\"', 'stringData']) assert.ok(!text.includes(gone), `${gone} in ${text}`);
    assert.ok(text.includes('secrets/db') && text.includes('Bearer [redacted]'), text);
  }
  assert.ok(Buffer.byteLength(events[0].error) <= 256);
});

// A budget that allows one retry per failure episode and nothing else.
const ONE_RETRY = { ratio: 0, burst: 0, min_per_second: 0, min_per_episode: 1, ttl: 10 };
const waiting = (extra) =>
  Policy.fromJson(
    JSON.stringify({ initial_delay: 0.01, max_delay: 0.02, jitter: 'none', max_retries: 50, budget: ONE_RETRY, ...extra }),
  );

test('a retry the budget refuses waits when the call has a deadline and goes once the server is back', async () => {
  const policy = waiting({ deadline: 10 });
  const delays = [];
  const events = [];
  let attempts = 0;
  const result = await withRetry(
    async () => {
      attempts += 1;
      if (attempts < 3) throw apiError(503);
      return 'done';
    },
    {
      policy,
      logger: null,
      onEvent: (e) => events.push(e.event),
      sleep: async (ms) => {
        delays.push(ms);
        // During the wait the server answers another call a second after the last failure (a
        // success sooner does not end the failure episode): the episode is over.
        if (delays.length === 2) {
          await new Promise((resolve) => setTimeout(resolve, 1100));
          await withRetry(async () => 'ok', { policy, logger: null });
        }
      },
    },
  );
  assert.equal(result, 'done');
  assert.equal(attempts, 3, 'the refused retry was not sent');
  assert.deepEqual(delays, [10, 20, 0], 'a retry, a wait, then the deferred retry at once');
  assert.deepEqual(events, [
    'k8s_api_call_failed_retrying',
    'k8s_api_call_retry_deferred',
    'k8s_api_call_failed_retrying',
    'k8s_api_call_succeeded_after_retry',
  ]);

  attempts = 0;
  const noDeadline = withRetry(
    async () => {
      attempts += 1;
      throw apiError(503);
    },
    { ...noSleep([]), policy: waiting({}) },
  );
  await assert.rejects(noDeadline, (e) => e.k8sretry.reason === 'BudgetExhausted');
  assert.equal(attempts, 2);
});

test('an abort during a wait rejects at once and the engine counts a cancelled call', async () => {
  // The second slot's backoff is 10 s: the wait the refused retry gets.
  const policy = waiting({ deadline: 100, exponential_base: 1000, max_delay: 10 });
  const controller = new AbortController();
  const events = [];
  let attempts = 0;
  const started = Date.now();
  const pending = withRetry(
    async () => {
      attempts += 1;
      throw apiError(503);
    },
    { policy, logger: null, signal: controller.signal, onEvent: (e) => events.push(e) },
  );
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(pending, (e) => e.name === 'AbortError');
  assert.ok(Date.now() - started < 5000);
  assert.equal(attempts, 2);
  assert.equal(events.at(-2).event, 'k8s_api_call_retry_deferred');
  assert.equal(events.at(-1).give_up, 'Cancelled');
});

test('a withRetry inside another one makes one attempt: the engine says Nested, attempts never multiply', async () => {
  let inner = 0;
  const outer = withRetry(
    async () => {
      // Begun as the attempt starts (before its first await): nested.
      await withRetry(
        async () => {
          inner += 1;
          throw apiError(503);
        },
        { ...noSleep([]), name: 'nested_inner_node' },
      );
    },
    { ...noSleep([]), name: 'nested_outer_node' },
  );
  await assert.rejects(outer, (err) => err.code === 503 && err.k8sretry.attempts === 4 && err.k8sretry.reason === 'MaxRetries');
  assert.equal(inner, 4, '4 attempts, not 4 x 4');
  assert.ok(!metricsText().includes('function="nested_inner_node"'), 'a nested call records nothing');
  // Outside any attempt, a call retries on its own again.
  let alone = 0;
  await assert.rejects(
    withRetry(
      async () => {
        alone += 1;
        throw apiError(503);
      },
      { ...noSleep([]), name: 'nested_inner_node' },
    ),
  );
  assert.equal(alone, 4);
});
