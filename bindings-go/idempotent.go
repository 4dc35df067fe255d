//go:build cgo

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
	"k8s.io/apimachinery/pkg/types"
)

// RequestID is the annotation (and, for generateName, label) that marks a write as ours.
const RequestID = "k8sretry.dev/request-id"

// Object is what the idempotent helpers work on: a typed Kubernetes object (*corev1.ConfigMap, ...).
type Object interface {
	metav1.Object
	k8sruntime.Object
}

// CreateOps are the client calls CreateIdempotent needs. Get reads a named object back; List is
// used for generateName objects. Without the one a create needs, a lost response is not resent.
type CreateOps[T Object] struct {
	Create func(ctx context.Context, obj T) (T, error)
	Get    func(ctx context.Context, name string) (T, error)
	List   func(ctx context.Context, labelSelector string) ([]T, error)
}

// UpdateOps are the client calls UpdateIdempotent needs.
type UpdateOps[T Object] struct {
	Update func(ctx context.Context, obj T) (T, error)
	Get    func(ctx context.Context, name string) (T, error)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// stamped returns a copy of obj carrying a fresh request id as stamp says.
func stamped[T Object](obj T, stamp Stamp) (T, string, error) {
	copied, ok := obj.DeepCopyObject().(T)
	if !ok {
		var zero T
		return zero, "", errors.New("k8sretry: DeepCopyObject returned another type")
	}
	id := newRequestID()
	if stamp != StampNone {
		copied.SetAnnotations(with(copied.GetAnnotations(), RequestID, id))
	}
	if stamp == StampAnnotationAndLabel {
		copied.SetLabels(with(copied.GetLabels(), RequestID, id))
	}
	return copied, id, nil
}

// readByName is the read-back of a named object: ours when it carries id.
func readByName[T Object](get func(context.Context, string) (T, error), name, id string) readBack[T] {
	return func(ctx context.Context) (T, bool, bool, error) {
		found, err := get(ctx, name)
		if err != nil {
			return found, false, false, err // a NotFound counts as missing in the engine
		}
		return found, true, found.GetAnnotations()[RequestID] == id, nil
	}
}

// CreateIdempotent creates obj with retries. A copy is stamped with a request id; when a
// response is lost, the object is read back (by name, or listed by label for generateName) and
// returned only if it carries our id: somebody else's object is never adopted.
func CreateIdempotent[T Object](ctx context.Context, policy *Policy, obj T, ops CreateOps[T]) (T, error) {
	var zero T
	named := obj.GetName() != ""
	if !named && obj.GetGenerateName() != "" && ops.List == nil {
		return zero, errors.New("k8sretry: a generateName create needs CreateOps.List")
	}
	recovery, stamp, err := ChoosePlan(Request{
		Verb: VerbPost, Resource: obj.GetObjectKind().GroupVersionKind().Kind, Named: named,
		GenerateName: !named && obj.GetGenerateName() != "",
		CanGet:       ops.Get != nil, CanList: ops.List != nil,
	})
	if err != nil {
		return zero, err
	}
	sent, id, err := stamped(obj, stamp)
	if err != nil {
		return zero, err
	}
	var read readBack[T]
	switch recovery {
	case RecoveryCreate:
		read = readByName(ops.Get, sent.GetName(), id)
	case RecoveryCreateGenerated:
		read = func(ctx context.Context) (T, bool, bool, error) {
			items, err := ops.List(ctx, RequestID+"="+id)
			if err != nil {
				return zero, false, false, err
			}
			for _, item := range items {
				if item.GetAnnotations()[RequestID] == id {
					return item, true, true, nil
				}
			}
			return zero, false, false, nil
		}
	}
	return run(ctx, policy, "CreateIdempotent", VerbPost, recovery, func(ctx context.Context) (T, error) {
		return ops.Create(ctx, sent)
	}, read, nil)
}

// UpdateIdempotent replaces obj with retries. Without metadata.resourceVersion a replace is
// idempotent and is simply resent. With one, a copy is stamped with a request id; a Conflict after
// a lost response is read back, and the object is returned if it carries our id (our update
// landed), else the Conflict is returned.
func UpdateIdempotent[T Object](ctx context.Context, policy *Policy, obj T, ops UpdateOps[T]) (T, error) {
	var zero T
	recovery, stamp, err := ChoosePlan(Request{
		Verb: VerbPut, Resource: obj.GetObjectKind().GroupVersionKind().Kind, Named: obj.GetName() != "",
		ResourceVersion: obj.GetResourceVersion() != "", CanGet: ops.Get != nil,
	})
	if err != nil {
		return zero, err
	}
	sent, id, err := stamped(obj, stamp)
	if err != nil {
		return zero, err
	}
	var read readBack[T]
	if recovery == RecoveryReplaceStamped {
		read = readByName(ops.Get, sent.GetName(), id)
	}
	return run(ctx, policy, "UpdateIdempotent", VerbPut, recovery, func(ctx context.Context) (T, error) {
		return ops.Update(ctx, sent)
	}, read, nil)
}

// Patch sends a patch with retries decided by its type: merge, strategic merge and apply
// patches are idempotent and resent after a lost response; a JSON patch (RFC 6902) is not: after
// a lost response Patch returns the error with Reason GiveUpNotIdempotent (its outcome is unknown).
func Patch[T any](ctx context.Context, policy *Policy, pt types.PatchType, patch func(ctx context.Context) (T, error)) (T, error) {
	recovery, _, err := ChoosePlan(Request{Verb: VerbPatch, Patch: PatchTypeOf(pt)})
	if err != nil {
		var zero T
		return zero, err
	}
	return run(ctx, policy, "Patch", VerbPatch, recovery, patch, nil, nil)
}

// Apply runs a server-side apply (client-go's typed Apply(ctx, config, metav1.ApplyOptions{...}),
// or a Patch with types.ApplyPatchType) with retries: an apply is idempotent, so it is resent after
// every transient failure. The recommended create-or-update path for named objects.
func Apply[T any](ctx context.Context, policy *Policy, apply func(ctx context.Context) (T, error)) (T, error) {
	return Patch(ctx, policy, types.ApplyPatchType, apply)
}

// DeleteIdempotent deletes with retries; NotFound after a lost response (or any NotFound with
// missingOK) is success, and so is a failed UID precondition after a lost response (the object we
// meant is gone; a newer one of the same name is left alone).
func DeleteIdempotent(ctx context.Context, policy *Policy, missingOK bool, del func(ctx context.Context) error) error {
	recovery, _, err := ChoosePlan(Request{Verb: VerbDelete, MissingOK: missingOK})
	if err != nil {
		return err
	}
	_, err = run(ctx, policy, "DeleteIdempotent", VerbDelete, recovery, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, del(ctx)
	}, nil, nil)
	return err
}

// RetryOnConflict re-runs a read-modify-write on Conflict (client-go's retry.RetryOnConflict: the
// `conflict` preset, 5 attempts 10 ms apart). Pass nil for that preset. After a lost response
// (a reset, a timeout, a 5xx) fn is not run again: its write may have landed, and running it
// again would apply the change twice; the error is returned, as client-go's helper does.
func RetryOnConflict(ctx context.Context, policy *Policy, fn func(ctx context.Context) error) error {
	if policy == nil {
		var err error
		if policy, err = Preset("conflict"); err != nil {
			return err
		}
	}
	_, err := run(ctx, policy, "RetryOnConflict", VerbPut, RecoveryRetryConflict, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	}, nil, nil)
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

// readBack reads the object a lost write may have made: the object, whether one was found, and
// whether it carries this call's request id.
type readBack[T any] func(ctx context.Context) (value T, found, ours bool, err error)

// run is the loop behind Do and the helpers: it performs what the engine asks for (attempt, sleep
// then attempt, wait then resume, read back, return, give up) and reports what happened. No
// decision is made here. Attempts and reads run with ctx marked (Nested), so a k8sretry call
// inside them makes one attempt.
func run[T any](
	ctx context.Context, policy *Policy, name string, verb Verb, recovery Recovery,
	attempt func(context.Context) (T, error), read readBack[T], retryIf func(error) bool,
) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	call, err := BeginCall(ctx, policy, name, CallOptions{
		Verb: verb, Recovery: recovery, HasReader: read != nil, Nested: Nested(ctx),
	})
	if err != nil {
		return zero, err
	}
	defer call.Close()
	defer runtime.KeepAlive(policy)
	failureOf := func(err error, verb Verb) Failure {
		f := FailureFromError(err)
		f.Verb = verb
		if retryIf != nil && retryIf(err) {
			f.UserRetryable = true
		}
		if ctx.Err() != nil {
			f.Cancelled = true
		}
		return f
	}
	actx := attemptContext(ctx)
	value, last := attempt(actx)
	if last == nil {
		return value, call.OnSuccess()
	}
	var earlier []error
	var found T
	decision, err := call.OnFailure(failureOf(last, verb))
	for {
		if err != nil {
			return zero, err
		}
		switch decision.Action {
		case ActionWait, ActionRetry, ActionReadBack:
			if !sleep(ctx, decision.Delay) {
				// ctx ended during the sleep: the engine records the cancel.
				decision, err = call.OnCancelled()
				continue
			}
		}
		switch decision.Action {
		case ActionWait:
			decision, err = call.Resume()
		case ActionRetry:
			var next error
			if value, next = attempt(actx); next == nil {
				return value, call.OnSuccess()
			}
			earlier, last = append(earlier, last), next
			decision, err = call.OnFailure(failureOf(last, verb))
		case ActionReadBack:
			// Asked for only when there is a reader (HasReader).
			object, ok, ours, readErr := read(actx)
			switch {
			case readErr != nil:
				decision, err = call.OnReadBack(ReadFailed, failureOf(readErr, VerbGet))
			case !ok:
				decision, err = call.OnReadBack(ReadMissing, Failure{})
			case ours:
				found = object
				decision, err = call.OnReadBack(ReadOurs, Failure{})
			default:
				found = object
				decision, err = call.OnReadBack(ReadNotOurs, Failure{})
			}
		case ActionDone:
			return zero, nil
		case ActionRecovered:
			return found, nil
		default:
			var ctxErr error
			if decision.Reason == GiveUpCancelled {
				ctxErr = ctx.Err()
			}
			after, _ := call.RetryAfter()
			return zero, &Error{Err: last, Attempts: call.Attempts(), Reason: decision.Reason, Earlier: earlier, Context: ctxErr, RetryAfter: after}
		}
	}
}

// sleep waits d or until ctx ends; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
