// The steps of one call, asked of the engine: a failed attempt (`decide`), what a read-back
// found (`readBack`) and a wait slept (`resume`). The encoding is lib/wire.ts's; the decisions are the engine's. A step the
// call did not ask for throws an Error with code K8SRETRY_OUT_OF_ORDER (K8SRETRY_CALL_FINISHED
// after the end). @internal
import { native } from './native';
import type { FailureInit } from './native-types';
import { decodeDecision, kept, writeFailure, type Decision, type ReadOutcome } from './wire';

export type { Action, Decision, ReadOutcome } from './wire';
export { decodeDecision } from './wire';

/** @internal A call begun with native.beginCall: a handle, valid until native.releaseCall. */
export type NativeCall = number;

/** @internal The engine's decision on the failed attempt `f`; `withText` false when nobody receives events. */
export function decide(call: NativeCall, f: FailureInit, withText = true): Decision {
  const text = writeFailure(f, withText);
  const code = text === '' ? native.decide(call) : native.decideWith(call, text);
  kept();
  return decodeDecision(code);
}

/** @internal The engine's decision after a `wait` has been slept (nothing was sent). */
export function resume(call: NativeCall): Decision {
  return decodeDecision(native.resume(call));
}

/** @internal The caller cancelled the call, whatever it was doing: `give_up` `Cancelled`. */
export function cancelled(call: NativeCall): Decision {
  return decodeDecision(native.onCancelled(call));
}

/** @internal The engine's decision on what the read-back it asked for found (`failed`: the read's own failure `f`). */
export function readBack(call: NativeCall, outcome: ReadOutcome, f?: FailureInit, withText = true): Decision {
  if (outcome !== 'failed') return decodeDecision(native.readBack(call, outcome));
  const code = native.readBack(call, outcome, writeFailure(f ?? {}, withText));
  kept();
  return decodeDecision(code);
}
