package k8sretry

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
)

// RequestID is the annotation (and, for generateName, label) that marks a create as ours.
const RequestID = "k8sretry.dev/request-id"

// Object is what the idempotent helpers work on: a typed Kubernetes object (*corev1.ConfigMap, ...).
type Object interface {
	metav1.Object
	k8sruntime.Object
}

// CreateOps are the client calls CreateIdempotent needs. List is used for generateName objects.
type CreateOps[T Object] struct {
	Create func(ctx context.Context, obj T) (T, error)
	Get    func(ctx context.Context, name string) (T, error)
	List   func(ctx context.Context, labelSelector string) ([]T, error)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// CreateIdempotent creates obj with retries. A copy is stamped with a request id; when a
// response is lost, the object is read back (by name, or listed by label for generateName) and
// returned only if it carries our id: somebody else's object is never adopted.
func CreateIdempotent[T Object](ctx context.Context, policy *Policy, obj T, ops CreateOps[T]) (T, error) {
	var zero T
	id := newRequestID()
	stamped, ok := obj.DeepCopyObject().(T)
	if !ok {
		return zero, errors.New("k8sretry: DeepCopyObject returned another type")
	}
	stamped.SetAnnotations(with(stamped.GetAnnotations(), RequestID, id))
	recovery := RecoveryCreate
	if stamped.GetName() == "" && stamped.GetGenerateName() != "" {
		if ops.List == nil {
			return zero, errors.New("k8sretry: a generateName create needs CreateOps.List")
		}
		stamped.SetLabels(with(stamped.GetLabels(), RequestID, id))
		recovery = RecoveryCreateGenerated
	}
	readBack := func(ctx context.Context) (T, bool, error) {
		if recovery == RecoveryCreate {
			found, err := ops.Get(ctx, stamped.GetName())
			if err != nil {
				return zero, false, err
			}
			return found, found.GetAnnotations()[RequestID] == id, nil
		}
		items, err := ops.List(ctx, RequestID+"="+id)
		if err != nil {
			return zero, false, err
		}
		for _, item := range items {
			if item.GetAnnotations()[RequestID] == id {
				return item, true, nil
			}
		}
		return zero, false, nil
	}
	return run(ctx, policy, "CreateIdempotent", VerbPost, recovery, func(ctx context.Context) (T, error) {
		return ops.Create(ctx, stamped)
	}, readBack)
}

// DeleteIdempotent deletes with retries; NotFound after a lost response (or any NotFound with
// missingOK) is success, and so is a failed UID precondition after a lost response (the object we
// meant is gone; a newer one of the same name is left alone).
func DeleteIdempotent(ctx context.Context, policy *Policy, missingOK bool, del func(ctx context.Context) error) error {
	recovery := RecoveryDelete
	if missingOK {
		recovery = RecoveryDeleteMissingOK
	}
	_, err := run(ctx, policy, "DeleteIdempotent", VerbDelete, recovery, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, del(ctx)
	}, nil)
	return err
}

// RetryOnConflict re-runs a read-modify-write on Conflict (client-go's retry.RetryOnConflict: the
// `conflict` preset, 5 attempts 10 ms apart). Pass nil for that preset.
func RetryOnConflict(ctx context.Context, policy *Policy, fn func(ctx context.Context) error) error {
	if policy == nil {
		var err error
		if policy, err = Preset("conflict"); err != nil {
			return err
		}
	}
	_, err := run(ctx, policy, "RetryOnConflict", VerbPut, RecoveryRetryConflict, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	}, nil)
	return err
}

func with(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for key, value := range m {
		out[key] = value
	}
	out[k] = v
	return out
}

// run is the loop behind Do and the helpers: call, extract, ask the engine, sleep, call again. A
// failed read-back is decided on like any attempt, and then the read is what is repeated.
func run[T any](
	ctx context.Context, policy *Policy, name string, verb Verb, recovery Recovery,
	attempt func(context.Context) (T, error), readBack func(context.Context) (T, bool, error),
) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	call, err := Begin(policy, name, verb, recovery)
	if err != nil {
		return zero, err
	}
	defer call.Close()
	defer runtime.KeepAlive(policy)
	var earlier []error
	var readingFor error // set when a read-back failed: the read is pending, not the call
	value, attemptErr := attempt(ctx)
	for {
		if attemptErr == nil {
			return value, call.OnSuccess()
		}
		failure := FailureFromError(attemptErr)
		failure.Verb = verb
		if ctx.Err() != nil {
			failure.Cancelled = true
		}
		decision, err := call.OnFailure(failure)
		if err != nil {
			return zero, err
		}
		giveUp := func(last error, reason GiveUpReason) (T, error) {
			var ctxErr error
			if failure.Cancelled {
				ctxErr = ctx.Err()
			}
			return zero, &Error{Err: last, Attempts: call.Attempts(), Reason: reason, Earlier: earlier, Context: ctxErr}
		}
		switch decision.Action {
		case ActionDone:
			return zero, nil
		case ActionReadBack:
			if readBack == nil {
				return giveUp(attemptErr, GiveUpNonRetryable)
			}
			found, ours, readErr := readBack(ctx)
			if readErr != nil {
				readingFor, attemptErr = attemptErr, readErr
				continue
			}
			if ours {
				return found, call.OnRecovered()
			}
			_ = call.OnNotOurs()
			return giveUp(attemptErr, GiveUpNonRetryable)
		case ActionRetry, ActionCheckThenRetry:
			timer := time.NewTimer(decision.Delay)
			select {
			case <-ctx.Done():
				timer.Stop()
				// Tell the engine, so events and metrics count a cancelled call.
				_, _ = call.OnFailure(Failure{Cancelled: true, ErrorType: "context", Message: ctx.Err().Error()})
				return zero, &Error{Err: attemptErr, Attempts: call.Attempts(), Reason: GiveUpCancelled, Earlier: earlier, Context: ctx.Err()}
			case <-timer.C:
			}
			earlier = append(earlier, attemptErr)
			if readBack != nil && (readingFor != nil || decision.Action == ActionCheckThenRetry) {
				found, ours, readErr := readBack(ctx)
				if readErr != nil {
					attemptErr = readErr
					continue
				}
				if ours {
					return found, call.OnRecovered()
				}
				if readingFor != nil {
					_ = call.OnNotOurs()
					return giveUp(readingFor, GiveUpNonRetryable)
				}
			}
			value, attemptErr = attempt(ctx)
		default:
			last := attemptErr
			if readingFor != nil {
				last = readingFor
			}
			return giveUp(last, decision.Reason)
		}
	}
}
