/**
 * k8sretry: retries and idempotent writes for Kubernetes API calls. The decisions are made by
 * the native k8sretry engine, the same behind the Python, Go, C and Rust bindings.
 */
import { native } from './native';
import { failureFrom } from './extract';
import { Policy, defaultPolicy, flushSuccesses } from './policy';
import { resolvePolicy } from './retry';

export { ArgumentError, K8sRetryError, PolicyError } from './errors';
export { Policy, presets, type PolicyOptions } from './policy';
export {
  defaultLogger,
  formatEvent,
  levelOf,
  withRetry,
  type GiveUpInfo,
  type Logger,
  type RetryEvent,
  type RetryOptions,
} from './retry';
export { NATIVE_PATH_ENV, NativeLoadError, type FailureInit } from './native';
export {
  REQUEST_ID,
  apply,
  createIdempotent,
  deleteIdempotent,
  retryOnConflict,
  withRetryClient,
  type ApplyParams,
  type ClientRetryOptions,
  type CreateIdempotentArgs,
} from './client';
export { failureFrom } from './extract';

/** Whether `err` is worth retrying (for an idempotent request) under the default policy. */
export function isRetryableError(err: unknown): boolean {
  return defaultPolicy().native.isRetryable(failureFrom(err));
}

/** The engine's class of `err` (`Throttled`, `Transient`, `NetworkAmbiguous`, ...). */
export function classify(err: unknown, policy?: Policy): string {
  return resolvePolicy(policy).native.classify(failureFrom(err));
}

/** Milliseconds to wait before retrying after 0-based `attempt`: max(Retry-After capped at 30 s,
 * the policy's backoff). Default policy `runner_hooks`. */
export function retryAfterDelay(err: unknown, attempt: number, policy?: Policy | string): number {
  return resolvePolicy(policy).native.retryDelayMs(failureFrom(err), Math.max(0, Math.floor(attempt)));
}

/** Milliseconds a Retry-After value asks to wait (delta-seconds or HTTP-date), or null. */
export function parseRetryAfter(value: string, nowMs: number = Date.now()): number | null {
  return native.parseRetryAfterMs(String(value), nowMs) ?? null;
}

/** All k8sretry metrics of this process in Prometheus text format. */
export function metricsText(): string {
  flushSuccesses();
  return native.metricsText();
}

/** The engine version. */
export const version: string = native.version();
