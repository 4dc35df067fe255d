import { native } from './native';
import type { NativeCallSite, NativePolicy, NativeRecorder } from './native-types';
import { PolicyError } from './errors';

/**
 * First-attempt successes are counted in JavaScript and handed to the engine in batches: one napi
 * call per success would cost more than all the rest of the success path. They are flushed before
 * any failure is decided (so the retry budget has them), when metrics are read, and every 100 ms
 * (well inside the budget's slots: a tenth of its window). @internal
 */
export interface SuccessCounter {
  readonly name: string;
  readonly native: NativeRecorder;
  pending: number;
  /** Counts one success and passes the value on: the `then` handler of every first attempt of
   * this function, made once instead of a closure per call. */
  readonly pass: <T>(value: T) => T;
  /** The native call sites of this function, by verb and recovery (made when a call first fails). */
  sites: Map<string, NativeCallSite> | undefined;
}

const dirty: SuccessCounter[] = [];
let ticker: ReturnType<typeof setInterval> | undefined;
let coarse = 0;

function tick(): void {
  coarse = performance.now();
  flushSuccesses();
}

function startTicker(): void {
  coarse = performance.now();
  ticker = setInterval(tick, 100);
  ticker.unref(); // never keeps the process alive
}

/** @internal performance.now() to within the ticker's 100 ms: when a call started, read without a
 * clock call (a clock read costs as much as the rest of the success path). The engine only uses
 * it for the deadline, which is in seconds. */
export function coarseNow(): number {
  if (ticker === undefined) startTicker();
  return coarse;
}

/** Counts one first-attempt success. */
function countSuccess(counter: SuccessCounter): void {
  if (counter.pending++ === 0) {
    dirty.push(counter);
    if (ticker === undefined) startTicker();
  }
}

/** @internal Hands every counted success to the engine. */
export function flushSuccesses(): void {
  for (const counter of dirty) {
    const n = counter.pending;
    counter.pending = 0;
    counter.native.recordMany(n);
  }
  dirty.length = 0;
}

/** The preset names every k8sretry binding knows. */
export const presets: readonly string[] = Object.freeze(native.presetNames());

export interface PolicyOptions {
  preset?: string;
  maxRetries?: number;
  initialDelay?: number;
  maxDelay?: number;
  exponentialBase?: number;
  /** A number is proportional jitter (0.5 = ±50%); or 'none' | 'full' | 'equal' | 'decorrelated'. */
  jitter?: number | string;
  retryAfterCap?: number;
  deadline?: number;
  retryStatuses?: number[];
  seed?: number;
  /** false: no retry budget; default: the process-wide one. */
  budget?: false | { ratio?: number; minPerSecond?: number; ttl?: number };
  breaker?: { failureThreshold?: number; openFor?: number };
}

function nativeOrThrow(make: () => NativePolicy): NativePolicy {
  try {
    return make();
  } catch (err) {
    throw new PolicyError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/** An immutable retry policy: `Policy.preset('runner_hooks')`, `Policy.fromJson(text)`, or options. */
export class Policy {
  /** @internal */
  readonly native: NativePolicy;

  constructor(options: PolicyOptions = {}) {
    const config: Record<string, unknown> = { preset: options.preset ?? 'runner_hooks' };
    const keys: [keyof PolicyOptions, string][] = [
      ['maxRetries', 'max_retries'],
      ['initialDelay', 'initial_delay'],
      ['maxDelay', 'max_delay'],
      ['exponentialBase', 'exponential_base'],
      ['jitter', 'jitter'],
      ['retryAfterCap', 'retry_after_cap'],
      ['deadline', 'deadline'],
      ['retryStatuses', 'retry_statuses'],
      ['seed', 'seed'],
    ];
    for (const [from, to] of keys) if (options[from] !== undefined) config[to] = options[from];
    if (options.budget === false) config.budget = null;
    else if (options.budget) {
      const { ratio, minPerSecond, ttl } = options.budget;
      config.budget = { ratio, min_per_second: minPerSecond, ttl };
    }
    if (options.breaker) {
      config.breaker = { failure_threshold: options.breaker.failureThreshold, open_for: options.breaker.openFor };
    }
    const text = JSON.stringify(config);
    this.native = nativeOrThrow(() => native.NativePolicy.fromJson(text));
  }

  /** The preset named `name` (see `presets`). */
  static preset(name: string): Policy {
    return Policy.wrap(nativeOrThrow(() => native.NativePolicy.preset(name)));
  }

  /** A policy from the JSON every k8sretry binding reads (snake_case keys). */
  static fromJson(text: string): Policy {
    return Policy.wrap(nativeOrThrow(() => native.NativePolicy.fromJson(text)));
  }

  /** @internal */
  static wrap(nativePolicy: NativePolicy): Policy {
    const policy = Object.create(Policy.prototype) as { native: NativePolicy };
    policy.native = nativePolicy;
    return policy as Policy;
  }

  /** @internal The success counter of `name` under this policy, prepared once. */
  successes(name: string): SuccessCounter {
    // Most call sites use one name again and again: remember the last one before the map.
    if (this.last !== undefined && this.last.name === name) return this.last;
    const counters = (this.counters ??= new Map());
    let counter = counters.get(name);
    if (counter === undefined) {
      const made: SuccessCounter = {
        name,
        native: this.native.recorder(name),
        pending: 0,
        sites: undefined,
        pass: (value) => {
          countSuccess(made);
          return value;
        },
      };
      counter = made;
      counters.set(name, counter);
    }
    this.last = counter;
    return counter;
  }

  private counters?: Map<string, SuccessCounter>;
  private last?: SuccessCounter;

  get maxRetries(): number {
    return this.native.maxRetries;
  }

  get name(): string {
    return this.native.name;
  }
}

let runnerHooks: Policy | undefined;

/** The default policy of the Node binding: the `runner_hooks` preset (its values: docs/design.md §6). */
export function defaultPolicy(): Policy {
  runnerHooks ??= Policy.preset('runner_hooks');
  return runnerHooks;
}
