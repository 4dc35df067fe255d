/** Base class of the errors k8sretry itself throws (bad configuration). The errors of the calls it
 * retries are rethrown unchanged, never wrapped. Every one carries a stable `code`. */
export class K8sRetryError extends Error {
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A policy is invalid: unknown preset, unknown JSON key, or an out-of-range value. */
export class PolicyError extends K8sRetryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'K8SRETRY_INVALID_POLICY', options);
  }
}

/** An argument has the wrong type (not a function, not an AbortSignal, ...). */
export class ArgumentError extends K8sRetryError {
  constructor(message: string) {
    super(message, 'K8SRETRY_INVALID_ARGUMENT');
  }
}

/** What an aborted signal rejects with: its reason, or a DOMException named AbortError. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
