//go:build cgo

package k8sretry

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Error is returned when a call gives up. It unwraps to the last attempt's original error
// (so apierrors.IsNotFound and errors.Is keep working) and, after a cancelled sleep, to the
// context's error.
type Error struct {
	Err      error        // the last attempt's error, unchanged
	Attempts int          // attempts made
	Reason   GiveUpReason // why the call gave up
	Earlier  []error      // errors of earlier attempts, oldest first
	Context  error        // ctx.Err() when the context ended the call
	// RetryAfter is, after a give-up on a retryable failure (retries, breaker, deadline or budget
	// used up), when to try the whole call again: a reconciler's RequeueAfter. Zero otherwise.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the original error and, if set, the context's error.
func (e *Error) Unwrap() []error {
	if e.Context != nil {
		return []error{e.Err, e.Context}
	}
	return []error{e.Err}
}

// Option configures Do.
type Option func(*doOptions)

type doOptions struct {
	name       string
	verb       Verb
	verbSet    bool
	idempotent bool
	retryIf    func(error) bool
}

// ErrNoVerb is returned by Do, before fn is called, when neither WithVerb nor WithIdempotent
// says what fn does: without them the engine cannot know whether repeating fn is safe.
var ErrNoVerb = errors.New("k8sretry.Do: say what fn does: pass k8sretry.WithVerb(k8sretry.VerbGet, VerbList, VerbPost, VerbPut, VerbPatch, VerbDelete or VerbWatch), or k8sretry.WithIdempotent() if running fn again is always safe")

// WithName names the call in events and metrics (default "k8sretry.Do").
func WithName(name string) Option { return func(o *doOptions) { o.name = name } }

// WithVerb declares the request fn sends. A POST or a PATCH is not resent after a lost response
// (its outcome is unknown: the error comes back with Reason GiveUpNotIdempotent); reads are.
func WithVerb(verb Verb) Option { return func(o *doOptions) { o.verb, o.verbSet = verb, true } }

// WithIdempotent says that running fn again is always safe, whatever it sends (fn checks before
// it writes, or its writes are idempotent): it is retried after lost responses too.
func WithIdempotent() Option { return func(o *doOptions) { o.idempotent = true } }

// WithRetryIf adds the caller's own rule: an error for which retryIf returns true is retried
// (as a user-retryable failure, within the policy's retries, delays, budget and deadline) even
// when the engine would not retry it by itself. A cancelled context is still never retried, and
// the rule does not make resending a POST or PATCH safe (it may have been carried out): add
// WithIdempotent when it is.
func WithRetryIf(retryIf func(error) bool) Option { return func(o *doOptions) { o.retryIf = retryIf } }

// Do calls fn until it succeeds or the policy gives up, sleeping between attempts. Pass
// WithVerb or WithIdempotent: without either Do returns ErrNoVerb at once and never calls fn. A
// cancelled ctx stops a sleep at once and is never retried. On give-up the result is an *Error
// that unwraps to fn's last error. Events of the call go to the logger ctx carries (see
// ContextWithLogger).
func Do(ctx context.Context, policy *Policy, fn func(context.Context) error, opts ...Option) error {
	o := doOptions{name: "k8sretry.Do", verb: VerbUnknown}
	for _, opt := range opts {
		opt(&o)
	}
	recovery := RecoveryNone
	switch {
	case o.idempotent:
		recovery = RecoveryIdempotent
	case !o.verbSet:
		return ErrNoVerb
	}
	_, err := run(ctx, policy, o.name, o.verb, recovery, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	}, nil, o.retryIf)
	return err
}

// RequeueAfter says when a reconciler should try again after err: the engine's Error.RetryAfter
// (from Do, the helpers, or WrapTransport's *TransportError), else the delay a Kubernetes Status
// error suggests (WrapTransport keeps the engine's answer there when it hands back a response).
// False when err says nothing about when: a NotFound, a Conflict, an unknown outcome.
func RequeueAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	if seconds, ok := apierrors.SuggestsClientDelay(err); ok && seconds > 0 {
		return time.Duration(seconds) * time.Second, true
	}
	return 0, false
}
