// The retry loop: call, extract, ask the engine, sleep, call again. No decisions here.
import { native, type RetryEvent } from './native';
import { ArgumentError, abortReason } from './errors';
import { decide } from './decide';
import { failureFrom } from './extract';
import { Policy, coarseNow, defaultPolicy, flushSuccesses, type SuccessCounter } from './policy';

export type { RetryEvent };

/** Where retry and give-up events are written (default: `console`). */
export interface Logger {
  warn(message: string, event: RetryEvent): void;
}

export interface RetryOptions {
  /** A Policy or a preset name (default `runner_hooks`). */
  policy?: Policy | string;
  /** Aborting rejects at once with the signal's reason (an AbortError), also mid-sleep. */
  signal?: AbortSignal;
  /** Receives every event (field names as in every k8sretry language). */
  onEvent?: (event: RetryEvent) => void;
  /** Gets retries and give-ups; `null` silences. Default `console`. */
  logger?: Logger | null;
  /** Replaces the sleep between attempts (tests); receives milliseconds. */
  sleep?: (ms: number) => Promise<void> | void;
  /** The name in events and metrics (default: the function's name). */
  name?: string;
  /** The HTTP verb, when known; without it the caller vouches that repeating `fn` is safe. */
  verb?: string;
}

/** What k8sretry attaches to an error it gave up on (non-enumerable property `k8sretry`). */
export interface GiveUpInfo {
  attempts: number;
  reason: string | null;
  earlier: unknown[];
}

const LOGGED = new Set([
  'k8s_api_call_failed_retrying',
  'k8s_api_call_failed_max_retries',
  'k8s_api_call_failed_non_retryable',
  'k8s_api_call_budget_exhausted',
  'k8s_api_call_circuit_open',
  'k8s_api_call_deadline_exceeded',
]);

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

function sleepFor(ms: number, signal: AbortSignal | undefined, sleep: RetryOptions['sleep']): Promise<void> {
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
    else timer = setTimeout(done, ms);
  });
}

function attachInfo(err: unknown, info: GiveUpInfo): void {
  if (typeof err === 'object' && err !== null && Object.isExtensible(err)) {
    Object.defineProperty(err, 'k8sretry', { value: info, enumerable: false, configurable: true, writable: true });
  }
}

export type ReadBack = (err: unknown) => Promise<unknown>;

/** The first attempt and the success path shared by `Retrier.run` and `withRetry`: one `then` on
 * the attempt's promise (an async frame here would cost more than the rest of the path). */
function firstAttempt<T>(
  attempt: (n: number) => Promise<T> | T,
  successes: SuccessCounter,
  afterFailure: (err: unknown) => Promise<T>,
): Promise<T> {
  let first: Promise<T>;
  try {
    first = Promise.resolve(attempt(0));
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
    readonly recovery: string = 'none',
    readonly readBack?: ReadBack,
  ) {
    this.policy = resolvePolicy(options.policy);
    this.successes = this.policy.successes(name);
    this.listening = options.onEvent !== undefined || options.logger !== null;
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new ArgumentError('signal must be an AbortSignal');
    }
  }

  private emit(events: RetryEvent[]): void {
    const { onEvent, logger = console } = this.options;
    for (const event of events) {
      if (logger && LOGGED.has(event.event)) {
        const delay = event.delay_seconds === undefined ? '' : ` delay_seconds=${event.delay_seconds.toFixed(3)}`;
        logger.warn(`${event.event} function=${event.function} attempt=${event.attempt}${delay}`, event);
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

  /** Runs `attempt(0)`, then retries as the engine decides. The success path chains one
   * `then` on the attempt's promise: an async frame here would cost more than the rest of it. */
  run<T>(attempt: (n: number) => Promise<T> | T): Promise<T> {
    const signal = this.options.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const started = coarseNow();
    return firstAttempt(attempt, this.successes, (err) => this.afterFailure(attempt, err, started));
  }

  /** @internal The loop after a failed first attempt. */
  async afterFailure<T>(attempt: (n: number) => Promise<T> | T, first: unknown, started: number): Promise<T> {
    const { signal } = this.options;
    flushSuccesses(); // the budget must have every first attempt before it decides
    const call = native.beginCall(
      this.policy.native,
      this.name,
      this.verb,
      this.recovery,
      performance.now() - started,
      this.listening,
    );
    const earlier: unknown[] = [];
    let err = first;
    // Set when a read-back failed: the pending request is then the read, not the call.
    let readingFor: unknown = undefined;
    for (;;) {
      // No verb: the call was begun with it.
      const failure = failureFrom(err);
      if (signal?.aborted) failure.cancelled = true;
      const decision = decide(call, failure, this.listening);
      if (this.listening) this.emit(native.takeEvents(call));
      if (decision.action === 'retry' || decision.action === 'check_then_retry') {
        earlier.push(err);
        try {
          await sleepFor(decision.delayMs, signal, this.options.sleep);
        } catch (abort) {
          decide(call, { cancelled: true, errorType: 'AbortError', message: 'aborted' }, this.listening);
          if (this.listening) this.emit(native.takeEvents(call));
          throw abort;
        }
        // A generateName create that may have written, or a read-back that failed: look first.
        if (this.readBack && (readingFor !== undefined || decision.action === 'check_then_retry')) {
          let found: unknown;
          try {
            found = await this.readBack(err);
          } catch (readErr) {
            err = readErr;
            continue;
          }
          if (found !== undefined && found !== null) {
            this.emit(native.onRecovered(call));
            return found as T;
          }
          if (readingFor !== undefined) {
            this.emit(native.onNotOurs(call));
            attachInfo(readingFor, { attempts: native.attempts(call), reason: 'NonRetryable', earlier });
            throw readingFor;
          }
        }
        try {
          const value = await attempt(native.attempts(call) - 1);
          this.emit(native.onSuccess(call));
          return value;
        } catch (next) {
          err = next;
          continue;
        }
      }
      if (decision.action === 'done') return undefined as T;
      if (decision.action === 'read_back' && this.readBack) {
        let found: unknown;
        try {
          found = await this.readBack(err);
        } catch (readErr) {
          // The read itself failed: the engine decides on that failure, and a retry repeats the read.
          readingFor = err;
          err = readErr;
          continue;
        }
        if (found !== undefined && found !== null) {
          this.emit(native.onRecovered(call));
          return found as T;
        }
        this.emit(native.onNotOurs(call));
      }
      const raised = readingFor ?? err;
      attachInfo(raised, { attempts: native.attempts(call), reason: decision.reason ?? 'NonRetryable', earlier });
      throw raised;
    }
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
    new Retrier(options, name, options.verb ?? 'UNKNOWN').afterFailure(fn, err, started),
  );
}
