package k8sretry

import (
	"context"
	"time"
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
	name string
	verb Verb
}

// WithName names the call in events and metrics (default "k8sretry.Do").
func WithName(name string) Option { return func(o *doOptions) { o.name = name } }

// WithVerb declares the request's verb; without it the caller vouches that repeating fn is safe.
func WithVerb(verb Verb) Option { return func(o *doOptions) { o.verb = verb } }

// Do calls fn until it succeeds or the policy gives up, sleeping between attempts. A cancelled
// ctx stops a sleep at once and is never retried. On give-up the result is an *Error that
// unwraps to fn's last error.
func Do(ctx context.Context, policy *Policy, fn func(context.Context) error, opts ...Option) error {
	o := doOptions{name: "k8sretry.Do", verb: VerbUnknown}
	for _, opt := range opts {
		opt(&o)
	}
	_, err := run(ctx, policy, o.name, o.verb, RecoveryNone, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	}, nil)
	return err
}
