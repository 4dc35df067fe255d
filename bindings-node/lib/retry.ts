// The retry loop: call, extract, ask the engine, carry out its answer (sleep and call again, sleep
// and read back, wait and ask again, return, or raise). No decisions here.
import { native, type FailureInit, type RetryEvent } from './native';
import type { NativeCallSite } from './native-types';
import { ArgumentError, abortReason } from './errors';
import { cancelled, decide, readBack, resume, type Decision, type NativeCall, type ReadOutcome } from './decide';
import { failureFrom } from './extract';
import { Policy, coarseNow, defaultPolicy, flushSuccesses, type SuccessCounter } from './policy';

export type { RetryEvent };

/**
 * Where events are written, one line each (see `formatEvent`), at the engine's level (`event.level`,
 * one rule for every language): retries and give-ups that return the error go to `warn`; a write
 * whose outcome is unknown (it may or may not have landed) to `error` (to `warn` when the logger has
 * no `error`); a first attempt's ordinary refusal (a 404 or 409 the caller handles) and a cancel to
 * `debug`; a success after retries and a recovered lost response to `info`. `info` and `debug` are
 * optional: a logger without them does not get those lines. `@actions/core` fits:
 * `{ warn: (m) => core.warning(m), error: (m) => core.error(m), info: (m) => core.info(m), debug: (m) => core.debug(m) }`.
 */
export interface Logger {
  warn(message: string, event: RetryEvent): void;
  error?(message: string, event: RetryEvent): void;
  info?(message: string, event: RetryEvent): void;
  debug?(message: string, event: RetryEvent): void;
}

/** The default logger: error, warn and info lines to stderr (`console.error` / `console.warn`: never
 * mixed into a program's stdout), no debug lines (pass `console` for those). */
export const defaultLogger: Logger = Object.freeze({
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
  info: (message: string) => console.warn(message),
});

export interface RetryOptions {
  /** A Policy or a preset name (default `runner_hooks`). */
  policy?: Policy | string;
  /** Aborting rejects at once with the signal's reason (an AbortError), also mid-sleep. */
  signal?: AbortSignal;
  /** Receives every event (field names as in every k8sretry language). */
  onEvent?: (event: RetryEvent) => void;
  /** Gets one line per event (retries and give-ups at `warn`); `null` silences. Default
   * `defaultLogger` (console, without debug lines). */
  logger?: Logger | null;
  /** Replaces the sleep between attempts (tests); receives milliseconds. */
  sleep?: (ms: number) => Promise<void> | void;
  /** The name in events and metrics (default: the function's name). */
  name?: string;
  /** The HTTP verb, when known (GET, LIST, POST, PUT, PATCH, DELETE); without it the caller
   * vouches that repeating `fn` is safe. Any other name is an error (K8SRETRY_INVALID_ARGUMENT). */
  verb?: string;
}

/** What k8sretry attaches to an error it gave up on (non-enumerable property `k8sretry`). */
export interface GiveUpInfo {
  attempts: number;
  /** NonRetryable, NotIdempotent, MaxRetries, OutcomeUnknown, ... */
  reason: string | null;
  /** The errors of the earlier attempts of the request, oldest first. */
  earlier: unknown[];
  /** The errors of read-backs that failed (a read-back's error is never the one raised). */
  readErrors: unknown[];
}

/** The level an event is logged at: the engine's (`event.level`), as a `Logger` method name. */
export function levelOf(event: RetryEvent): 'error' | 'warn' | 'info' | 'debug' {
  return event.level as 'error' | 'warn' | 'info' | 'debug';
}

/**
 * One line for an event, e.g. `k8s_api_call_failed_retrying function=createNamespacedPod
 * attempt=1/4 status=503 reason=ServiceUnavailable delay_seconds=0.673`: the function (a
 * read-back's is `<function>/read_back`), the attempt of at most max_retries + 1, the give-up
 * reason, HTTP status and Status reason, the network error code, the delay before the next
 * attempt, and the error (as the engine passes it on: DESIGN §7) when there is no status.
 */
export function formatEvent(event: RetryEvent): string {
  const parts = [event.event, `function=${event.function}`, `attempt=${event.attempt}/${event.max_retries + 1}`];
  if (event.give_up) parts.push(`give_up=${event.give_up}`);
  if (event.status_code !== undefined && event.status_code !== null) parts.push(`status=${event.status_code}`);
  if (event.reason) parts.push(`reason=${event.reason}`);
  if (event.code) parts.push(`code=${event.code}`);
  if (event.delay_seconds !== undefined && event.delay_seconds !== null) {
    parts.push(`delay_seconds=${event.delay_seconds.toFixed(3)}`);
  }
  if ((event.status_code === undefined || event.status_code === null) && event.error) {
    // Already one bounded line without bodies or credentials (the engine's rule, DESIGN §7).
    parts.push(`error=${JSON.stringify(event.error)}`);
  }
  return parts.join(' ');
}

/** Node's "same logical task" marker for the engine's nesting rule (docs/design.md "Nesting"): how
 * many attempts or read-backs of k8sretry calls are being started right now, synchronously. A
 * k8sretry call begun while one starts (`withRetry(() => client.readNamespacedPod(...))`, a
 * wrapped method calling another before its first `await`) is nested. A call begun after an
 * `await` inside the attempt is not seen: AsyncLocalStorage would see it, but once used it slows
 * every promise of the process (Node 20: a plain async call 48 -> 126 ns, withRetry's success
 * path 92 -> 236 ns, measured). */
let starting = 0;

/** Whether this code runs while an attempt of a k8sretry call starts: a call begun here is
 * nested (the engine makes it one attempt and leaves the retries to the enclosing call). */
export function nested(): boolean {
  return starting > 0;
}

/** Starts `attempt(n)` marked as an attempt. */
function marked<T>(attempt: (n: number) => Promise<T> | T, n: number): Promise<T> | T {
  starting += 1;
  try {
    return attempt(n);
  } finally {
    starting -= 1;
  }
}

const presetPolicies = new Map<string, Policy>();

export function resolvePolicy(policy: Policy | string | undefined): Policy {
  if (policy instanceof Policy) return policy;
  if (policy === undefined) return defaultPolicy();
  if (typeof policy !== 'string') throw new ArgumentError('policy must be a Policy or a preset name');
  // Presets are immutable: one Policy per name, not a native policy per call.
  let preset = presetPolicies.get(policy);
  if (preset === undefined) {
    preset = Policy.preset(policy);
    presetPolicies.set(policy, preset);
  }
  return preset;
}

/** Node's timers count whole milliseconds (the loop's clock), and keep one list per distinct
 * duration: the engine's jittered delays (1.0734 ms) would each make their own list, which under
 * many concurrent retries costs more than the rest of the retry. Sleeps are set to the whole
 * millisecond nearest the engine's delay (the custom `sleep` option gets the exact figure). */
function timerSleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, Math.round(ms)));
}

function sleepFor(ms: number, signal: AbortSignal | undefined, sleep: RetryOptions['sleep']): Promise<void> {
  if (signal === undefined && sleep === undefined) return timerSleep(ms);
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      if (timer !== undefined) clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    if (sleep) Promise.resolve(sleep(ms)).then(done, reject);
    else timer = setTimeout(done, Math.round(ms));
  });
}

function attachInfo(err: unknown, info: GiveUpInfo): void {
  if (typeof err === 'object' && err !== null && Object.isExtensible(err)) {
    Object.defineProperty(err, 'k8sretry', { value: info, enumerable: false, configurable: true, writable: true });
  }
}

/** What a read-back found: the object and whether it carries this call's request id; `undefined`
 * when there is nothing (a read by name may throw NotFound instead: the engine counts it as missing). */
export type Found = { object: unknown; ours: boolean } | undefined;

/** @internal Reads the object of a write back (GET by name, or LIST by the request-id label). */
export type Reader = () => Promise<Found>;

/** @internal How one call is recovered: a recovery name for native.beginCall (or a function that
 * gives it when the first attempt has failed), and the reader of its read-backs. */
export interface CallPlan {
  recovery: string | (() => string);
  reader?: Reader;
}

const NO_RECOVERY: CallPlan = { recovery: 'none' };

/** The first attempt and the success path shared by `Retrier.run` and `withRetry`: one `then` on
 * the attempt's promise (an async frame here would cost more than the rest of the path). */
function firstAttempt<T>(
  attempt: (n: number) => Promise<T> | T,
  successes: SuccessCounter,
  afterFailure: (err: unknown) => Promise<T>,
): Promise<T> {
  let first: Promise<T>;
  try {
    first = Promise.resolve(marked(attempt, 0));
  } catch (err) {
    return afterFailure(err);
  }
  return first.then(successes.pass, afterFailure);
}

/** One configured loop; `run` drives one call. */
export class Retrier {
  readonly policy: Policy;
  private readonly successes: SuccessCounter;
  /** Whether anybody receives events (they cost a native-to-JS conversion each). */
  private readonly listening: boolean;

  constructor(
    readonly options: RetryOptions,
    readonly name: string,
    readonly verb: string = 'UNKNOWN',
    readonly plan: CallPlan = NO_RECOVERY,
  ) {
    this.policy = resolvePolicy(options.policy);
    this.successes = this.policy.successes(name);
    this.listening = options.onEvent !== undefined || options.logger !== null;
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new ArgumentError('signal must be an AbortSignal');
    }
  }

  private emit(events: RetryEvent[]): void {
    const { onEvent, logger = defaultLogger } = this.options;
    for (const event of events) {
      if (logger) {
        const level = levelOf(event);
        const write = level === 'error' ? (logger.error ?? logger.warn) : logger[level];
        if (typeof write === 'function') {
          try {
            write.call(logger, formatEvent(event), event);
          } catch (err) {
            process.emitWarning(`k8sretry logger threw: ${String(err)}`);
          }
        }
      }
      if (onEvent) {
        try {
          onEvent(event);
        } catch (err) {
          // A broken event handler must not change the outcome of the call.
          process.emitWarning(`k8sretry onEvent threw: ${String(err)}`);
        }
      }
    }
  }

  /** The events of the call's last step, to whoever listens. */
  private emitStep(call: NativeCall): void {
    if (this.listening) this.emit(native.takeEvents(call));
  }

  /** Runs `attempt(0)`, then carries out what the engine decides. `plan` (default: the one the
   * Retrier was made with) says how this call is recovered. The success path chains one `then`
   * on the attempt's promise: an async frame here would cost more than the rest of it. */
  run<T>(attempt: (n: number) => Promise<T> | T, plan: CallPlan = this.plan): Promise<T> {
    const signal = this.options.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const started = coarseNow();
    const inside = starting > 0;
    return firstAttempt(attempt, this.successes, (err) => this.afterFailure(attempt, err, started, plan, inside));
  }

  /** The native call site of this function, verb and `recovery`, made once (policy.ts). */
  private site(recovery: string): NativeCallSite {
    const sites = (this.successes.sites ??= new Map());
    const key = recovery === 'none' ? this.verb : `${this.verb} ${recovery}`;
    let site = sites.get(key);
    if (site === undefined) {
      site = native.callSite(this.policy.native, this.name, this.verb, recovery);
      sites.set(key, site);
    }
    return site;
  }

  /** The engine's decision on the request's failure `err`. */
  private decideOn(call: NativeCall, err: unknown): Decision {
    // No verb: the call was begun with it.
    const failure = failureFrom(err);
    if (this.options.signal?.aborted) failure.cancelled = true;
    const decision = decide(call, failure, this.listening);
    this.emitStep(call);
    return decision;
  }

  /** The engine's decision on what a read-back found (or how the read failed). */
  private reported(call: NativeCall, outcome: ReadOutcome, readErr?: unknown): Decision {
    let failure: FailureInit | undefined;
    if (outcome === 'failed') {
      failure = failureFrom(readErr);
      if (this.options.signal?.aborted) failure.cancelled = true;
    }
    const decision = readBack(call, outcome, failure, this.listening);
    this.emitStep(call);
    return decision;
  }

  /** Sleeps `ms`; an abort meanwhile is reported to the engine (a cancel, taken in any state) and
   * rejects with the signal's reason. */
  private pause(call: NativeCall, ms: number): Promise<void> {
    // Nothing can cancel a sleep without a signal or a custom sleep: no frame to catch it in.
    if (this.options.signal === undefined && this.options.sleep === undefined) return timerSleep(ms);
    return this.cancellablePause(call, ms);
  }

  private async cancellablePause(call: NativeCall, ms: number): Promise<void> {
    try {
      await sleepFor(ms, this.options.signal, this.options.sleep);
    } catch (abort) {
      cancelled(call);
      this.emitStep(call);
      throw abort;
    }
  }

  /** @internal The loop after a failed first attempt: carries out each decision, never makes one. */
  async afterFailure<T>(
    attempt: (n: number) => Promise<T> | T,
    first: unknown,
    started: number,
    plan: CallPlan = this.plan,
    inside = false,
  ): Promise<T> {
    flushSuccesses(); // the budget must have every first attempt before it decides
    const recovery = typeof plan.recovery === 'function' ? plan.recovery() : plan.recovery;
    const call = native.beginCallAt(
      this.site(recovery),
      performance.now() - started,
      this.listening,
      plan.reader !== undefined,
      inside,
    );
    // Made when there is something to keep (most calls succeed on their first retry).
    let earlier: unknown[] | undefined;
    let readErrors: unknown[] | undefined;
    // Attempts of the request started (the engine counts the same: each `retry` it answered).
    let sent = 1;
    let released = false;
    let err = first;
    let found: unknown;
    // Every way out (a value, a give-up, an abort, a throw) frees the engine's call at once.
    try {
      let decision = this.decideOn(call, err);
      for (;;) {
        switch (decision.action) {
          case 'wait':
            // The budget deferred the retry: sleep, send nothing, ask again.
            await this.pause(call, decision.delayMs);
            flushSuccesses(); // successes meanwhile may have ended the failure episode
            decision = resume(call);
            this.emitStep(call);
            continue;
          case 'retry': {
            await this.pause(call, decision.delayMs);
            let value: T;
            try {
              value = await marked(attempt, sent++);
            } catch (next) {
              (earlier ??= []).push(err);
              err = next;
              decision = this.decideOn(call, err);
              continue;
            }
            const events = native.succeeded(call);
            released = true;
            if (events) this.emit(events);
            return value;
          }
          case 'read_back': {
            await this.pause(call, decision.delayMs);
            // Asked for only when there is a reader (beginCall was told).
            const reader = plan.reader as Reader;
            let result: Found;
            try {
              result = await marked(reader, 0);
            } catch (readErr) {
              // Never raised: the engine decides on it; kept for the give-up info.
              (readErrors ??= []).push(readErr);
              decision = this.reported(call, 'failed', readErr);
              continue;
            }
            if (result === undefined) {
              decision = this.reported(call, 'missing');
            } else {
              found = result.object;
              decision = this.reported(call, result.ours ? 'ours' : 'not_ours');
            }
            continue;
          }
          case 'done':
            return undefined as T;
          case 'recovered':
            return found as T;
          case 'give_up':
            // A nested call's error goes to the enclosing call as it is.
            if (decision.reason === 'Nested') throw err;
            return this.giveUp(call, err, decision.reason ?? 'NonRetryable', earlier ?? [], readErrors ?? []);
        }
      }
    } finally {
      if (!released) native.releaseCall(call);
    }
  }

  /** Raises the request's last error (never a read-back's) with what happened attached. */
  private giveUp(call: NativeCall, err: unknown, reason: string, earlier: unknown[], readErrors: unknown[]): never {
    attachInfo(err, { attempts: native.attempts(call), reason, earlier, readErrors });
    throw err;
  }
}

/**
 * Calls `fn(attempt)` (attempt is 0-based) until it resolves or the policy gives up; then
 * rejects with the last attempt's error itself (its `cause` chain untouched), carrying a
 * non-enumerable `k8sretry` property with the attempts made.
 */
export function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  // The success path without a Retrier or an async frame: most calls never need more.
  let counter: SuccessCounter;
  let name: string;
  let started: number;
  const inside = starting > 0;
  try {
    if (typeof fn !== 'function') throw new ArgumentError('withRetry needs a function');
    const policy = resolvePolicy(options.policy);
    name = options.name ?? (fn.name || 'withRetry');
    const signal = options.signal;
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) throw new ArgumentError('signal must be an AbortSignal');
      if (signal.aborted) throw abortReason(signal);
    }
    counter = policy.successes(name);
    started = coarseNow();
  } catch (err) {
    return Promise.reject(err);
  }
  return firstAttempt(fn, counter, (err) =>
    new Retrier(options, name, options.verb ?? 'UNKNOWN').afterFailure(fn, err, started, NO_RECOVERY, inside),
  );
}
