package k8sretry

/*
#include <k8sretry.h>
*/
import "C"

import (
	"context"
	"math"
	"runtime"
	"runtime/cgo"
	"time"
)

// Recovery says how a call recovers a write whose outcome is unknown.
type Recovery uint32

// Recoveries.
const (
	RecoveryNone            Recovery = C.K8SRETRY_RECOVERY_NONE
	RecoveryCreate          Recovery = C.K8SRETRY_RECOVERY_CREATE
	RecoveryCreateAdopt     Recovery = C.K8SRETRY_RECOVERY_CREATE_ADOPT
	RecoveryDelete          Recovery = C.K8SRETRY_RECOVERY_DELETE
	RecoveryDeleteMissingOK Recovery = C.K8SRETRY_RECOVERY_DELETE_MISSING_OK
	RecoveryIdempotent      Recovery = C.K8SRETRY_RECOVERY_IDEMPOTENT
	RecoveryRetryConflict   Recovery = C.K8SRETRY_RECOVERY_RETRY_CONFLICT
	RecoveryCreateGenerated Recovery = C.K8SRETRY_RECOVERY_CREATE_GENERATED
	RecoveryReplaceStamped  Recovery = C.K8SRETRY_RECOVERY_REPLACE_STAMPED
	RecoveryNotIdempotent   Recovery = C.K8SRETRY_RECOVERY_NOT_IDEMPOTENT
)

// Action is what to do after a failed attempt or a read-back.
type Action int

// Actions.
const (
	// ActionRetry: sleep Delay, then send the request again.
	ActionRetry Action = C.K8SRETRY_ACTION_RETRY
	// ActionReadBack: sleep Delay, read the object back (by name, or by the request-id label
	// for a generateName create) and report what was found with OnReadBack.
	ActionReadBack Action = C.K8SRETRY_ACTION_READ_BACK
	// ActionDone: the call succeeded with nothing to return (a delete found its object gone).
	ActionDone Action = C.K8SRETRY_ACTION_DONE
	// ActionRecovered: the call succeeded; return the object the last read-back found.
	ActionRecovered Action = C.K8SRETRY_ACTION_RECOVERED
	// ActionGiveUp: return the request's last error (never a read-back's); Reason says why.
	ActionGiveUp Action = C.K8SRETRY_ACTION_GIVE_UP
	// ActionWait: the retry budget deferred the retry: sleep Delay, send nothing, then ask
	// Resume for the next decision.
	ActionWait Action = C.K8SRETRY_ACTION_WAIT
)

// ReadOutcome is what a read-back found.
type ReadOutcome uint32

// Read-back outcomes.
const (
	ReadOurs    ReadOutcome = C.K8SRETRY_READ_OURS     // an object with this call's request id
	ReadNotOurs ReadOutcome = C.K8SRETRY_READ_NOT_OURS // an object without it
	ReadMissing ReadOutcome = C.K8SRETRY_READ_MISSING  // no such object
	ReadFailed  ReadOutcome = C.K8SRETRY_READ_FAILED   // the read failed (pass its Failure)
)

// GiveUpReason says why a call gave up.
type GiveUpReason int

// Give-up reasons.
const (
	GiveUpNone            GiveUpReason = C.K8SRETRY_GIVE_UP_NONE
	GiveUpCancelled       GiveUpReason = C.K8SRETRY_GIVE_UP_CANCELLED
	GiveUpNonRetryable    GiveUpReason = C.K8SRETRY_GIVE_UP_NON_RETRYABLE
	GiveUpNotIdempotent   GiveUpReason = C.K8SRETRY_GIVE_UP_NOT_IDEMPOTENT
	GiveUpMaxRetries      GiveUpReason = C.K8SRETRY_GIVE_UP_MAX_RETRIES
	GiveUpCircuitOpen     GiveUpReason = C.K8SRETRY_GIVE_UP_CIRCUIT_OPEN
	GiveUpDeadline        GiveUpReason = C.K8SRETRY_GIVE_UP_DEADLINE
	GiveUpBudgetExhausted GiveUpReason = C.K8SRETRY_GIVE_UP_BUDGET_EXHAUSTED
	// GiveUpOutcomeUnknown: the read-back that would tell whether the write landed failed.
	GiveUpOutcomeUnknown GiveUpReason = C.K8SRETRY_GIVE_UP_OUTCOME_UNKNOWN
	// GiveUpRetryAfterTooLong: the server asked to wait longer than the policy's retry_after_cap
	// (the engine never retries sooner than asked); RetryAfter is the server's hint.
	GiveUpRetryAfterTooLong GiveUpReason = C.K8SRETRY_GIVE_UP_RETRY_AFTER_TOO_LONG
	// GiveUpNested: the call ran inside an attempt of another k8sretry call (a Do inside a Do, a
	// WrapTransport client inside Do): it made one attempt and left the retries to the outer call.
	GiveUpNested GiveUpReason = C.K8SRETRY_GIVE_UP_NESTED
)

// String is the reason's name as libk8sretry gives it (MaxRetries, ...).
func (r GiveUpReason) String() string {
	return C.GoString(C.k8sretry_give_up_reason_name(C.uint32_t(r)))
}

// Class is the classification of a failure (DESIGN §2).
type Class int

// String is the class's name as libk8sretry gives it (Throttled, ...; None, Unknown).
func (c Class) String() string {
	if c < 0 {
		return "Unknown"
	}
	return C.GoString(C.k8sretry_class_name(C.uint32_t(c)))
}

// Decision is the engine's answer to a failed attempt or a read-back.
type Decision struct {
	Action Action
	Delay  time.Duration // with ActionRetry, ActionReadBack and ActionWait
	Reason GiveUpReason  // with ActionGiveUp
}

func decisionOf(d C.k8sretry_decision) Decision {
	return Decision{Action: Action(d.action), Delay: time.Duration(d.delay_nanos), Reason: GiveUpReason(d.give_up_reason)}
}

// Call is one logical call driven step by step (the API every binding is built on).
// A Call belongs to one goroutine at a time; Close it when done.
type Call struct {
	ptr    *C.k8sretry_call
	policy *Policy
	ctx    context.Context // whose logger gets the call's events (nil: the event handler only)
	sink   cgo.Handle      // of a *callSink for ctx, made at the first failure
}

// Begin starts a call before its first attempt.
func Begin(policy *Policy, name string, verb Verb, recovery Recovery) (*Call, error) {
	var ptr *C.k8sretry_call
	s, n := cstr(name)
	err := check(C.k8sretry_call_begin(policy.ptr, s, n, C.uint32_t(verb), C.uint32_t(recovery), &ptr))
	runtime.KeepAlive(policy)
	if err != nil {
		return nil, err
	}
	return &Call{ptr: ptr, policy: policy}, nil
}

// BeginContext starts a call whose events also go to the logger ctx carries (see
// ContextWithLogger); ctx is used for nothing else. The caller can read back and the call is not
// nested: BeginCall says otherwise.
func BeginContext(ctx context.Context, policy *Policy, name string, verb Verb, recovery Recovery) (*Call, error) {
	c, err := Begin(policy, name, verb, recovery)
	if err == nil {
		c.ctx = ctx
	}
	return c, err
}

// CallOptions say how to begin a call (BeginCall). The zero value is the safe request: verb
// unknown, no recovery, no reader, not nested.
type CallOptions struct {
	Verb     Verb
	Recovery Recovery
	// HasReader: the caller can read the object back when asked (ActionReadBack). Without a
	// reader the engine never asks: where a read-back would tell whether an uncertain write
	// landed the call gives up GiveUpOutcomeUnknown.
	HasReader bool
	// Nested: the call runs inside an attempt of another k8sretry call (see Nested): it makes one
	// attempt, gives up GiveUpNested on its first failure and records nothing.
	Nested bool
	// Elapsed is time already spent on the call (a first attempt made before it began).
	Elapsed time.Duration
}

// BeginCall starts a call as opts say; its events also go to the logger ctx carries.
func BeginCall(ctx context.Context, policy *Policy, name string, opts CallOptions) (*Call, error) {
	var ptr *C.k8sretry_call
	s, n := cstr(name)
	o := C.k8sretry_call_options{
		verb: C.uint32_t(opts.Verb), recovery: C.uint32_t(opts.Recovery),
		has_reader: C.bool(opts.HasReader), nested: C.bool(opts.Nested),
		elapsed_nanos: C.uint64_t(max(opts.Elapsed, 0)),
	}
	err := check(C.k8sretry_call_begin_with(policy.ptr, s, n, &o, &ptr))
	runtime.KeepAlive(policy)
	if err != nil {
		return nil, err
	}
	return &Call{ptr: ptr, policy: policy, ctx: ctx}, nil
}

// nestedKey marks a context as the one an attempt of a k8sretry call runs with.
type nestedKey struct{}

// Nested reports whether ctx is the context of an attempt of a k8sretry call (Do, the helpers,
// WrapTransport): a call begun with it makes one attempt (the nesting rule is the engine's; the
// context is how Go says "the same logical task").
func Nested(ctx context.Context) bool { return ctx.Value(nestedKey{}) != nil }

// attemptContext is ctx marked as an attempt's.
func attemptContext(ctx context.Context) context.Context {
	if Nested(ctx) {
		return ctx
	}
	return context.WithValue(ctx, nestedKey{}, true)
}

// sinkFor returns the sink handle to report a step with: made on first use when the call has a
// context, and kept for later steps (success after retries).
func (c *Call) sinkFor(create bool) uintptr {
	if c.sink == 0 && create && c.ctx != nil {
		registerCallback()
		c.sink = cgo.NewHandle(&callSink{ctx: c.ctx})
	}
	return uintptr(c.sink)
}

// OnFailure reports a failed attempt and returns the decision.
func (c *Call) OnFailure(f Failure) (Decision, error) {
	cf, err := f.toC()
	defer C.k8sretry_failure_free(cf)
	if err != nil {
		return Decision{}, err
	}
	var d C.k8sretry_decision
	if err := check(callOnFailure(c.ptr, cf, &d, c.sinkFor(true))); err != nil {
		return Decision{}, err
	}
	return decisionOf(d), nil
}

// OnReadBack reports what the read-back asked for by ActionReadBack found; f is the read's own
// failure with ReadFailed and ignored otherwise. Out of order (no read-back was asked for) it
// returns a *StatusError.
func (c *Call) OnReadBack(outcome ReadOutcome, f Failure) (Decision, error) {
	var cf *C.k8sretry_failure
	if outcome == ReadFailed {
		var err error
		cf, err = f.toC()
		defer C.k8sretry_failure_free(cf)
		if err != nil {
			return Decision{}, err
		}
	}
	var d C.k8sretry_decision
	if err := check(callOnReadBack(c.ptr, outcome, cf, &d, c.sinkFor(true))); err != nil {
		return Decision{}, err
	}
	return decisionOf(d), nil
}

// Resume asks for the next decision after an ActionWait has been slept (nothing was sent):
// ActionRetry with no delay (send now), ActionWait again, ActionReadBack or ActionGiveUp. Out of
// order (the call is not waiting) it returns a *StatusError. A cancel during the wait is reported
// with OnCancelled, as in any other state.
func (c *Call) Resume() (Decision, error) {
	var d C.k8sretry_decision
	if err := check(callResume(c.ptr, &d, c.sinkFor(true))); err != nil {
		return Decision{}, err
	}
	return decisionOf(d), nil
}

// OnCancelled reports that the caller cancelled the call, whatever it was doing (an attempt, a
// sleep, a wait, a read-back): the call gives up GiveUpCancelled with one outcome, one event and
// one metric. After the end it returns a *StatusError.
func (c *Call) OnCancelled() (Decision, error) {
	var d C.k8sretry_decision
	if err := check(callOnCancelled(c.ptr, &d, c.sinkFor(true))); err != nil {
		return Decision{}, err
	}
	return decisionOf(d), nil
}

// OnSuccess reports that the current attempt succeeded.
func (c *Call) OnSuccess() error { return check(callOnSuccess(c.ptr, c.sinkFor(false))) }

// Attempts is the number of attempts started so far.
func (c *Call) Attempts() int {
	var n C.uint32_t
	C.k8sretry_call_attempts(c.ptr, &n)
	return int(n)
}

// RetryAfter is, after the call gave up on a retryable failure, when to try the whole call again
// (the server's hint or the next backoff); false after any other end.
func (c *Call) RetryAfter() (time.Duration, bool) {
	var found C.bool
	var nanos C.uint64_t
	if check(C.k8sretry_call_retry_after(c.ptr, &found, &nanos)) != nil || !bool(found) {
		return 0, false
	}
	return time.Duration(nanos), true
}

// Close frees the call.
func (c *Call) Close() {
	C.k8sretry_call_free(c.ptr)
	c.ptr = nil
	if c.sink != 0 {
		c.sink.Delete()
		c.sink = 0
	}
}

// Classify returns the class of f under policy.
func Classify(policy *Policy, f Failure) Class {
	cf, _ := f.toC() // a failure that could not be built fully is classified as far as it was
	defer C.k8sretry_failure_free(cf)
	var out uint32 // enum k8sretry_class
	C.k8sretry_classify(policy.ptr, cf, &out)
	runtime.KeepAlive(policy)
	return Class(out)
}

// IsRetryable reports whether f is retryable at all under policy.
func IsRetryable(policy *Policy, f Failure) bool {
	cf, _ := f.toC() // a failure that could not be built fully is classified as far as it was
	defer C.k8sretry_failure_free(cf)
	var out C.bool
	C.k8sretry_is_retryable(policy.ptr, cf, &out)
	runtime.KeepAlive(policy)
	return bool(out)
}

// ParseRetryAfter returns how long a Retry-After value asks to wait at now; false when it is
// no hint (missing, garbage, zero or past).
func ParseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	var found C.bool
	var seconds C.double
	s, n := cstr(value)
	unix := float64(now.UnixNano()) / 1e9
	if check(C.k8sretry_parse_retry_after(s, n, C.double(unix), &found, &seconds)) != nil || !bool(found) {
		return 0, false
	}
	return secondsToDuration(float64(seconds)), true
}

// secondsToDuration converts, saturating at the largest Duration (a hint can be centuries away).
func secondsToDuration(seconds float64) time.Duration {
	if seconds >= float64(math.MaxInt64)/float64(time.Second) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(seconds * float64(time.Second))
}

// RetryDelay is the delay before the retry after 0-based attempt: max(capped hint, backoff).
func RetryDelay(policy *Policy, f Failure, attempt int) time.Duration {
	cf, _ := f.toC() // a failure that could not be built fully is classified as far as it was
	defer C.k8sretry_failure_free(cf)
	var nanos C.uint64_t
	C.k8sretry_retry_delay(policy.ptr, cf, C.uint32_t(attempt), &nanos)
	runtime.KeepAlive(policy)
	return time.Duration(nanos)
}
