package k8sretry

import (
	"context"
	"errors"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
