// The engine's decision on one failed attempt, asked through native.decide. The failure's
// numbers go through a scratch Float64Array and its text (when there is any) as one packed
// string; the answer comes back as one number. napi-rs reads every argument, object property and
// array element through a separate engine call (tens of ns each here, microseconds for an
// object), so the hot path passes none. Encoding only: the engine decides. @internal
import { native } from './native';
import type { ExternalObject, FailureInit } from '../native/index';

/** @internal A call begun with native.beginCall. */
export type NativeCall = ExternalObject<'Call'>;

export interface Decision {
  /** `retry`, `check_then_retry`, `read_back`, `done` or `give_up`. */
  action: string;
  /** For `retry` / `check_then_retry`. */
  delayMs: number;
  /** For `give_up`: the reason (MaxRetries, NonRetryable, ...). */
  reason: string | null;
}

const ACTIONS = native.actionNames();
const REASONS = native.giveUpReasonNames();
const GIVE_UP = ACTIONS.indexOf('give_up');

// [status, flags, retryAfterSeconds]: the layout in src/scratch.rs; this thread's own array.
const scratch = new Float64Array(new ArrayBuffer(3 * Float64Array.BYTES_PER_ELEMENT));
native.bindScratch(scratch);

// Bits of the flags (src/failure.rs).
const TIMEOUT = 1;
const CANCELLED = 2;
const USER_RETRYABLE = 4;

/** @internal Decodes the answer `action + 8 * payload` (see decision_code in src/call.rs). */
export function decodeDecision(code: number): Decision {
  const action = code % 8;
  const payload = (code - action) / 8;
  if (action === GIVE_UP) return { action: ACTIONS[action], delayMs: 0, reason: REASONS[payload] };
  return { action: ACTIONS[action], delayMs: payload / 1000, reason: null };
}

/** A field of the packed string: the separator cannot occur inside it. */
function field(value: string | undefined): string {
  if (value === undefined) return '';
  return value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value;
}

/** The text fields joined as Parts::packed (src/failure.rs) reads them, or '' for none. `withText`
 * false leaves out the error type and message, which only events use. */
function packedText(f: FailureInit, withText: boolean): string {
  const codes = f.codes === undefined || f.codes.length === 0 ? undefined : f.codes.join('\n');
  const errorType = withText ? f.errorType : undefined;
  const message = withText ? f.message : undefined;
  if (
    f.reason === undefined &&
    f.body === undefined &&
    f.retryAfter === undefined &&
    codes === undefined &&
    f.verb === undefined &&
    errorType === undefined &&
    message === undefined
  ) {
    return '';
  }
  return `${field(f.reason)}\0${field(f.body)}\0${field(f.retryAfter)}\0${field(codes)}\0${field(f.verb)}\0${field(errorType)}\0${message ?? ''}`;
}

/** @internal The engine's decision on `f` for `call`; `withText` false when nobody receives events. */
export function decide(call: NativeCall, f: FailureInit, withText = true): Decision {
  scratch[0] = f.status ?? 0;
  scratch[1] = (f.timeout ? TIMEOUT : 0) | (f.cancelled ? CANCELLED : 0) | (f.userRetryable ? USER_RETRYABLE : 0);
  scratch[2] = f.retryAfterSeconds ?? Number.NaN;
  const text = packedText(f, withText);
  return decodeDecision(text === '' ? native.decide(call) : native.decideWith(call, text));
}
