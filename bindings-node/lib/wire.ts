// The wire format of the hot path, the TypeScript half of src/wire.rs and the only TypeScript
// that knows it: a failure's numbers go through a scratch Float64Array, its text as one packed
// string, and the engine answers with one number. napi-rs reads every argument, object property
// and array element through a separate engine call (tens of ns each here, microseconds for an
// object), so a decision passes none. The flag values and the names of actions, give-up reasons
// and read-back outcomes come from the addon (wireFormat()), never repeated here. @internal
import { native } from './native';
import type { FailureInit } from './native';

/** What the engine tells the loop to do next. */
export type Action = 'retry' | 'read_back' | 'done' | 'recovered' | 'give_up' | 'wait';

/** What a read-back found. */
export type ReadOutcome = 'ours' | 'not_ours' | 'missing' | 'failed';

export interface Decision {
  action: Action;
  /** For `retry`, `read_back` and `wait`: how long to wait first (for `wait`: then send
   * nothing and ask `resume`). */
  delayMs: number;
  /** For `give_up`: the reason (MaxRetries, NonRetryable, OutcomeUnknown, ...). */
  reason: string | null;
}

const FORMAT = native.wireFormat();
const ACTIONS = FORMAT.actions as Action[];
const REASONS = FORMAT.giveUpReasons;
const GIVE_UP = ACTIONS.indexOf('give_up');
const {
  timeout: TIMEOUT,
  cancelled: CANCELLED,
  userRetryable: USER_RETRYABLE,
  keepBody: KEEP_BODY,
  sameBody: SAME_BODY,
} = FORMAT.flags;
const KEEP_BODY_MAX_CHARS = FORMAT.keepBodyMaxChars;
const SEPARATOR = FORMAT.separator;

/** The outcomes the addon's readBack takes. */
export const READ_OUTCOMES: readonly string[] = Object.freeze(FORMAT.readOutcomes);

// [status (0 = none), flags, retryAfterSeconds (NaN = none), body token]: this thread's own array.
const scratch = new Float64Array(new ArrayBuffer(FORMAT.scratchLength * Float64Array.BYTES_PER_ELEMENT));
native.bindScratch(scratch);

// The body the addon keeps (src/wire.rs "The kept body"): an outage's failures all carry the same
// Status text, and sending it again costs more than the decision. `sent` is the body of the step
// being asked, taken as kept (`kept()`) only once that step has returned.
let keptBody: string | undefined;
let keptToken = 0;
let sentBody: string | undefined;

/** The step that carried the last `writeFailure` returned: the addon keeps its body now. */
export function kept(): void {
  if (sentBody !== undefined) {
    keptBody = sentBody;
    sentBody = undefined;
  }
}

/** Decodes the answer `action + 8 * payload`. */
export function decodeDecision(code: number): Decision {
  const action = code % 8;
  const payload = (code - action) / 8;
  if (action === GIVE_UP) return { action: 'give_up', delayMs: 0, reason: REASONS[payload] };
  return { action: ACTIONS[action], delayMs: payload / 1000, reason: null };
}

/** A field of the packed string: the separator cannot occur inside it. */
function field(value: string | undefined): string {
  if (value === undefined) return '';
  return value.includes(SEPARATOR) ? value.replaceAll(SEPARATOR, '\uFFFD') : value;
}

/**
 * Writes `f`'s numbers into the scratch array and returns its text fields packed (reason, body,
 * Retry-After, codes joined by newlines, verb, error type, message), or '' when it has none.
 * `withText` false leaves out the error type and message, which only events use.
 */
export function writeFailure(f: FailureInit, withText: boolean): string {
  let flags = (f.timeout ? TIMEOUT : 0) | (f.cancelled ? CANCELLED : 0) | (f.userRetryable ? USER_RETRYABLE : 0);
  let body = f.body;
  sentBody = undefined;
  if (body !== undefined && body.length > 0 && body.length <= KEEP_BODY_MAX_CHARS) {
    if (body === keptBody) {
      flags |= SAME_BODY;
      body = undefined;
    } else {
      flags |= KEEP_BODY;
      keptToken += 1;
      sentBody = body;
    }
    scratch[3] = keptToken;
  }
  scratch[0] = f.status ?? 0;
  scratch[1] = flags;
  scratch[2] = f.retryAfterSeconds ?? Number.NaN;
  const codes = f.codes === undefined || f.codes.length === 0 ? undefined : f.codes.join('\n');
  const errorType = withText ? f.errorType : undefined;
  const message = withText ? f.message : undefined;
  if (
    f.reason === undefined &&
    body === undefined &&
    f.retryAfter === undefined &&
    codes === undefined &&
    f.verb === undefined &&
    errorType === undefined &&
    message === undefined
  ) {
    return '';
  }
  const s = SEPARATOR;
  return `${field(f.reason)}${s}${field(body)}${s}${field(f.retryAfter)}${s}${field(codes)}${s}${field(f.verb)}${s}${field(errorType)}${s}${message ?? ''}`;
}
