import { native } from './native';
import type { NativePolicy } from '../native/index';
import { PolicyError } from './errors';

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

  get maxRetries(): number {
    return this.native.maxRetries;
  }

  get name(): string {
    return this.native.name;
  }
}

let runnerHooks: Policy | undefined;

/** The default policy of the Node binding: `runner_hooks` (3 retries, 1 s·2^n ±50%, Retry-After ≤ 30 s). */
export function defaultPolicy(): Policy {
  runnerHooks ??= Policy.preset('runner_hooks');
  return runnerHooks;
}
