package k8sretry

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var configmaps = schema.GroupResource{Resource: "configmaps"}

// store is a fake server side: Create stores once, then answers AlreadyExists.
type store struct {
	objects map[string]*corev1.ConfigMap
	creates int
	faults  []error // returned by Create after it stored (lost responses) or before (never sent)
}

func (s *store) ops() CreateOps[*corev1.ConfigMap] {
	return CreateOps[*corev1.ConfigMap]{
		Create: func(_ context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
			s.creates++
			if _, ok := s.objects[cm.Name]; ok && cm.Name != "" {
				return nil, apierrors.NewAlreadyExists(configmaps, cm.Name)
			}
			stored := cm.DeepCopy()
			if stored.Name == "" {
				stored.Name = cm.GenerateName + "x"
			}
			s.objects[stored.Name] = stored
			if len(s.faults) > 0 {
				err := s.faults[0]
				s.faults = s.faults[1:]
				return nil, err
			}
			return stored.DeepCopy(), nil
		},
		Get: func(_ context.Context, name string) (*corev1.ConfigMap, error) {
			if cm, ok := s.objects[name]; ok {
				return cm.DeepCopy(), nil
			}
			return nil, apierrors.NewNotFound(configmaps, name)
		},
		List: func(_ context.Context, selector string) ([]*corev1.ConfigMap, error) {
			var out []*corev1.ConfigMap
			for _, cm := range s.objects {
				if RequestID+"="+cm.Labels[RequestID] == selector {
					out = append(out, cm.DeepCopy())
				}
			}
			return out, nil
		},
	}
}

func TestCreateIdempotentRecoversALostResponse(t *testing.T) {
	s := &store{objects: map[string]*corev1.ConfigMap{}, faults: []error{syscall.ECONNRESET}}
	in := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "lost"}}
	got, err := CreateIdempotent(context.Background(), fastPolicy(t, ""), in, s.ops())
	if err != nil || got.Name != "lost" || got.Annotations[RequestID] == "" {
		t.Fatalf("%v %+v", err, got)
	}
	if s.creates != 2 || len(s.objects) != 1 || in.Annotations != nil {
		t.Fatalf("creates %d objects %d, caller's object stamped: %v", s.creates, len(s.objects), in.Annotations)
	}
}

func TestCreateIdempotentGenerateNameLooksBeforeRetrying(t *testing.T) {
	s := &store{objects: map[string]*corev1.ConfigMap{}, faults: []error{syscall.ECONNRESET}}
	in := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-"}}
	got, err := CreateIdempotent(context.Background(), fastPolicy(t, ""), in, s.ops())
	if err != nil || got.Name != "gen-x" || s.creates != 1 || len(s.objects) != 1 {
		t.Fatalf("%v %+v creates %d objects %d", err, got, s.creates, len(s.objects))
	}
}

func TestCreateIdempotentNeverAdoptsAForeignObject(t *testing.T) {
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}}
	s := &store{objects: map[string]*corev1.ConfigMap{"theirs": foreign}}
	_, err := CreateIdempotent(context.Background(), fastPolicy(t, ""), foreign.DeepCopy(), s.ops())
	if !apierrors.IsAlreadyExists(err) || s.creates != 1 {
		t.Fatalf("first-attempt 409: %v (%d creates)", err, s.creates)
	}
	ops := s.ops()
	create := ops.Create
	first := true
	ops.Create = func(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
		if first {
			first = false
			return nil, syscall.ECONNRESET // ambiguous: then AlreadyExists from somebody else's object
		}
		return create(ctx, cm)
	}
	_, err = CreateIdempotent(context.Background(), fastPolicy(t, ""), foreign.DeepCopy(), ops)
	var e *Error
	if !apierrors.IsAlreadyExists(err) || !errors.As(err, &e) || e.Reason != GiveUpNonRetryable {
		t.Fatalf("after a reset: %v", err)
	}
}

func TestDeleteIdempotentAndRetryOnConflict(t *testing.T) {
	calls := 0
	err := DeleteIdempotent(context.Background(), fastPolicy(t, ""), false, func(context.Context) error {
		calls++
		if calls == 1 {
			return syscall.ECONNRESET
		}
		return apierrors.NewNotFound(configmaps, "gone")
	})
	if err != nil || calls != 2 {
		t.Fatalf("%v after %d calls", err, calls)
	}
	if err := DeleteIdempotent(context.Background(), fastPolicy(t, ""), false, func(context.Context) error {
		return apierrors.NewNotFound(configmaps, "never")
	}); !apierrors.IsNotFound(err) {
		t.Fatalf("a first-attempt 404 is raised: %v", err)
	}
	writes := 0
	err = RetryOnConflict(context.Background(), nil, func(context.Context) error {
		writes++
		if writes < 3 {
			return apierrors.NewConflict(configmaps, "cm", errors.New("stale"))
		}
		return nil
	})
	if err != nil || writes != 3 {
		t.Fatalf("%v after %d writes", err, writes)
	}
}

func TestCreateIdempotentReadBackHasItsOwnRetries(t *testing.T) {
	s := &store{objects: map[string]*corev1.ConfigMap{}, faults: []error{syscall.ECONNRESET}}
	ops := s.ops()
	get, reads := ops.Get, 0
	ops.Get = func(ctx context.Context, name string) (*corev1.ConfigMap, error) {
		if reads++; reads <= 2 {
			return nil, apierrors.NewServiceUnavailable("etcd leader change")
		}
		return get(ctx, name)
	}
	// The create stores and loses its response, the resend gets AlreadyExists (one retry used),
	// and the read-back fails twice before it finds ours: with max_retries 2 that passes only
	// because the read-back's retries are its own.
	got, err := CreateIdempotent(context.Background(), fastPolicy(t, `, "max_retries": 2`), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mine"}}, ops)
	if err != nil || got.Name != "mine" || reads != 3 || s.creates != 2 {
		t.Fatalf("%v %v reads %d creates %d", err, got, reads, s.creates)
	}
	ops.Get = func(context.Context, string) (*corev1.ConfigMap, error) {
		return nil, apierrors.NewServiceUnavailable("down")
	}
	s.faults = []error{syscall.ECONNRESET}
	_, err = CreateIdempotent(context.Background(), fastPolicy(t, ""), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unknown"}}, ops)
	var e *Error
	if !errors.As(err, &e) || e.Reason != GiveUpOutcomeUnknown || !apierrors.IsAlreadyExists(err) {
		t.Fatalf("a read-back failing past its retries: %v", err)
	}
}

// objects is a fake apiserver holding one ConfigMap with a resourceVersion.
type versioned struct {
	cm      *corev1.ConfigMap
	updates int
	lose    int // responses to lose after the update landed
}

func (v *versioned) ops() UpdateOps[*corev1.ConfigMap] {
	return UpdateOps[*corev1.ConfigMap]{
		Update: func(_ context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
			v.updates++
			if cm.ResourceVersion != v.cm.ResourceVersion {
				return nil, apierrors.NewConflict(configmaps, cm.Name, errors.New("stale"))
			}
			v.cm = cm.DeepCopy()
			v.cm.ResourceVersion += "1"
			if v.lose > 0 {
				v.lose--
				return nil, syscall.ECONNRESET
			}
			return v.cm.DeepCopy(), nil
		},
		Get: func(context.Context, string) (*corev1.ConfigMap, error) { return v.cm.DeepCopy(), nil },
	}
}

func TestUpdateIdempotentReadsBackAConflictAfterALostResponse(t *testing.T) {
	v := &versioned{cm: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", ResourceVersion: "7"}}, lose: 1}
	in := v.cm.DeepCopy()
	in.Data = map[string]string{"k": "v"}
	got, err := UpdateIdempotent(context.Background(), fastPolicy(t, ""), in, v.ops())
	if err != nil || got.Data["k"] != "v" || v.updates != 2 || in.Annotations != nil {
		t.Fatalf("%v %+v updates %d, caller's object stamped: %v", err, got, v.updates, in.Annotations)
	}
	// Somebody else's update in between: the Conflict is theirs, and is returned.
	v.lose = 1
	in = v.cm.DeepCopy()
	ops := v.ops()
	update := ops.Update
	ops.Update = func(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
		if v.lose == 0 {
			v.cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", ResourceVersion: "other"}}
		}
		return update(ctx, cm)
	}
	_, err = UpdateIdempotent(context.Background(), fastPolicy(t, ""), in, ops)
	if !apierrors.IsConflict(err) {
		t.Fatalf("a foreign update must give the Conflict: %v", err)
	}
}

func TestPatchByType(t *testing.T) {
	for _, tc := range []struct {
		pt    types.PatchType
		calls int
	}{{types.MergePatchType, 2}, {types.StrategicMergePatchType, 2}, {types.ApplyPatchType, 2}, {types.JSONPatchType, 1}} {
		calls := 0
		_, err := Patch(context.Background(), fastPolicy(t, ""), tc.pt, func(context.Context) (int, error) {
			if calls++; calls == 1 {
				return 0, syscall.ECONNRESET
			}
			return calls, nil
		})
		var e *Error
		if calls != tc.calls || (tc.calls == 1 && (!errors.As(err, &e) || e.Reason != GiveUpNotIdempotent)) {
			t.Fatalf("%s: %d calls, %v", tc.pt, calls, err)
		}
	}
}

func TestRetryOnConflictNeverRerunsAfterALostResponse(t *testing.T) {
	increments := 0
	err := RetryOnConflict(context.Background(), nil, func(context.Context) error {
		increments++
		return syscall.ECONNRESET // the PUT may have landed
	})
	var e *Error
	if increments != 1 || !errors.As(err, &e) || e.Reason != GiveUpNotIdempotent || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("%d increments, %v", increments, err)
	}
}

func TestChoosePlan(t *testing.T) {
	for _, tc := range []struct {
		req      Request
		recovery Recovery
		stamp    Stamp
	}{
		{Request{Verb: VerbPost, Named: true, CanGet: true}, RecoveryCreate, StampAnnotation},
		{Request{Verb: VerbPost, GenerateName: true, CanList: true}, RecoveryCreateGenerated, StampAnnotationAndLabel},
		{Request{Verb: VerbPost, Resource: "SelfSubjectAccessReview"}, RecoveryIdempotent, StampNone},
		{Request{Verb: VerbPost, Named: true}, RecoveryNone, StampNone},
		{Request{Verb: VerbPut, ResourceVersion: true, CanGet: true}, RecoveryReplaceStamped, StampAnnotation},
		{Request{Verb: VerbPatch, Patch: PatchJSON}, RecoveryNone, StampNone},
		{Request{Verb: VerbPatch, Patch: PatchMerge}, RecoveryIdempotent, StampNone},
	} {
		recovery, stamp, err := ChoosePlan(tc.req)
		if err != nil || recovery != tc.recovery || stamp != tc.stamp {
			t.Errorf("%+v: %v %v %v", tc.req, recovery, stamp, err)
		}
	}
	if _, _, err := ChoosePlan(Request{Verb: 99}); err == nil {
		t.Error("a bad verb is an error")
	}
}

func TestStepsOutOfOrder(t *testing.T) {
	call, err := Begin(fastPolicy(t, ""), "steps", VerbPost, RecoveryCreate)
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	if _, err := call.OnReadBack(ReadOurs, Failure{}); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("a read-back nobody asked for: %v", err)
	}
}

// A cancel while the engine expects a read-back (the sleep before a generateName look-up) is
// one outcome: one Cancelled give-up event and one Cancelled metric, and no look-up is made.
func TestCancelDuringAPendingReadBackIsCountedOnce(t *testing.T) {
	names, stop := eventsOf("CreateIdempotent")
	defer stop()
	before := strings.Count(MetricsText(), `k8sretry_giveups_total{function="CreateIdempotent",reason="Cancelled"} 1`)
	s := &store{objects: map[string]*corev1.ConfigMap{}, faults: []error{syscall.ECONNRESET}}
	ops := s.ops()
	lists := 0
	list := ops.List
	ops.List = func(ctx context.Context, selector string) ([]*corev1.ConfigMap, error) {
		lists++
		return list(ctx, selector)
	}
	p, err := PolicyFromJSON(`{"initial_delay": 5, "jitter": "none", "budget": null}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	in := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-"}}
	_, err = CreateIdempotent(ctx, p, in, ops)
	var e *Error
	if !errors.As(err, &e) || e.Reason != GiveUpCancelled || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a Cancelled give-up: %v", err)
	}
	if lists != 0 || s.creates != 1 {
		t.Fatalf("nothing more is sent: %d lists, %d creates", lists, s.creates)
	}
	want := []string{"k8s_api_call_failed_retrying/None", "k8s_api_call_failed_non_retryable/Cancelled"}
	if got := names(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the reset's retry, then one give-up event: %v", got)
	}
	if !strings.Contains(MetricsText(), `k8sretry_giveups_total{function="CreateIdempotent",reason="Cancelled"} 1`) || before != 0 {
		t.Fatalf("one Cancelled give-up counted:\n%s", MetricsText())
	}
}

// A Do inside a Do's attempt (or a WrapTransport client called with the attempt's context)
// makes one attempt: the outer call retries, attempts never multiply.
func TestNestedCallsMakeOneAttempt(t *testing.T) {
	p := fastPolicy(t, `, "max_retries": 3`)
	inner := 0
	err := Do(context.Background(), p, func(ctx context.Context) error {
		if !Nested(ctx) {
			t.Error("the attempt's context is marked")
		}
		err := Do(ctx, p, func(context.Context) error {
			inner++
			return apierrors.NewServiceUnavailable("down")
		}, WithVerb(VerbGet), WithName("nested_inner"))
		var e *Error
		if !errors.As(err, &e) || e.Reason != GiveUpNested || e.Attempts != 1 {
			t.Errorf("inner: %v", err)
		}
		return err
	}, WithVerb(VerbGet), WithName("nested_outer"))
	var e *Error
	if !errors.As(err, &e) || e.Reason != GiveUpMaxRetries || e.Attempts != 4 || inner != 4 {
		t.Fatalf("outer: %v, %d inner attempts (want 4, not 16)", err, inner)
	}
	if strings.Contains(MetricsText(), `function="nested_inner"`) {
		t.Fatalf("a nested call records nothing:\n%s", MetricsText())
	}
	if Nested(context.Background()) {
		t.Fatal("a plain context is not nested")
	}
}
