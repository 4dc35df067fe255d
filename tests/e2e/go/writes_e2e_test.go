package e2e

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	k8sretry "k8sretry.dev/go"
)

// Updates with a resourceVersion, merge / strategic patches and server-side applies under lost
// responses land exactly once; a JSON patch whose response was lost is not resent (NotIdempotent,
// the original error) and its item is on the list once; a read-modify-write whose PUT response
// was lost is not run again.
func TestWritesExactlyOnce(t *testing.T) {
	ctx := context.Background()
	direct, faulted := clientset(t, env["KUBECONFIG"]), clientset(t, env["KUBECONFIG_PROXY"])
	ns := namespace(t, direct)
	plan(t, 1)
	directAPI, api := direct.CoreV1().ConfigMaps(ns), faulted.CoreV1().ConfigMaps(ns)
	for i := 0; i < 10; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("w-%d", i)}, Data: map[string]string{"v": "0"}}
		if _, err := directAPI.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	policy := fast(t)
	plan(t, 5,
		map[string]any{"method": "PUT", "path": "/configmaps/w-", "fault": "drop_after", "probability": 0.5},
		map[string]any{"method": "PATCH", "path": "/configmaps/w-", "fault": "drop_after", "probability": 0.5},
		map[string]any{"method": "GET", "path": "/configmaps/w-", "fault": "503", "probability": 0.2},
	)
	updateOps := k8sretry.UpdateOps[*corev1.ConfigMap]{
		Update: func(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
			return api.Update(ctx, cm, metav1.UpdateOptions{})
		},
		Get: func(ctx context.Context, name string) (*corev1.ConfigMap, error) {
			return api.Get(ctx, name, metav1.GetOptions{})
		},
	}
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("w-%d", i)
		var current *corev1.ConfigMap
		err := k8sretry.Do(ctx, policy, func(ctx context.Context) (err error) {
			current, err = api.Get(ctx, name, metav1.GetOptions{})
			return err
		}, k8sretry.WithVerb(k8sretry.VerbGet))
		if err != nil {
			t.Fatal(err)
		}
		current.Data["v"] = "1"
		if _, err := k8sretry.UpdateIdempotent(ctx, policy, current, updateOps); err != nil {
			t.Fatalf("update with resourceVersion: %v", err)
		}
		for _, p := range []struct {
			pt   types.PatchType
			body string
		}{{types.MergePatchType, `{"data":{"merge":"yes"}}`}, {types.StrategicMergePatchType, `{"metadata":{"labels":{"strategic":"yes"}}}`}} {
			if _, err := k8sretry.Patch(ctx, policy, p.pt, func(ctx context.Context) (*corev1.ConfigMap, error) {
				return api.Patch(ctx, name, p.pt, []byte(p.body), metav1.PatchOptions{})
			}); err != nil {
				t.Fatalf("%s patch: %v", p.pt, err)
			}
		}
		applied := corev1ac.ConfigMap(name, ns).WithData(map[string]string{"applied": "yes"})
		if _, err := k8sretry.Apply(ctx, policy, func(ctx context.Context) (*corev1.ConfigMap, error) {
			return api.Apply(ctx, applied, metav1.ApplyOptions{FieldManager: "k8sretry-e2e", Force: true})
		}); err != nil {
			t.Fatalf("apply: %v", err)
		}
		opsDone += 4
	}
	var log []struct{ Method, Fault string }
	proxyCall(t, "GET", "log", nil, &log)
	lost := map[string]bool{}
	for _, e := range log {
		if e.Fault == "drop_after" {
			lost[e.Method] = true
		}
	}
	if !lost["PUT"] || !lost["PATCH"] {
		t.Fatalf("the plan lost no PUT or no PATCH response: %v", log)
	}
	for i := 0; i < 10; i++ {
		got, err := directAPI.Get(ctx, fmt.Sprintf("w-%d", i), metav1.GetOptions{})
		if err != nil || got.Data["v"] != "1" || got.Data["merge"] != "yes" || got.Data["applied"] != "yes" || got.Labels["strategic"] != "yes" {
			t.Fatalf("w-%d: %v %v %v", i, err, got.Data, got.Labels)
		}
	}

	// JSON patches that append to a list: the first two lose their responses.
	list := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "list", Finalizers: []string{"k8sretry.dev/start"}}}
	if _, err := directAPI.Create(ctx, list, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plan(t, 1, map[string]any{"method": "PATCH", "path": "/configmaps/list$", "fault": "drop_after", "count": 2})
	unknown := 0
	for i := 0; i < 6; i++ {
		add := fmt.Sprintf(`[{"op":"add","path":"/metadata/finalizers/-","value":"k8sretry.dev/f-%d"}]`, i)
		_, err := k8sretry.Patch(ctx, policy, types.JSONPatchType, func(ctx context.Context) (*corev1.ConfigMap, error) {
			return api.Patch(ctx, "list", types.JSONPatchType, []byte(add), metav1.PatchOptions{})
		})
		var e *k8sretry.Error
		switch {
		case err == nil:
		case errors.As(err, &e) && e.Reason == k8sretry.GiveUpNotIdempotent && e.Attempts == 1:
			unknown++
		default:
			t.Fatalf("JSON patch %d: %v", i, err)
		}
		opsDone++
	}
	got, _ := directAPI.Get(ctx, "list", metav1.GetOptions{})
	for i := 0; i < 6; i++ {
		n := 0
		for _, f := range got.Finalizers {
			if f == fmt.Sprintf("k8sretry.dev/f-%d", i) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("finalizer f-%d %d times: %v", i, n, got.Finalizers)
		}
	}
	if unknown != 2 {
		t.Fatalf("%d JSON patches gave up with the outcome unknown, want the 2 whose responses were lost", unknown)
	}

	// A read-modify-write whose PUT response is lost runs once and returns the error.
	once := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "once"}, Data: map[string]string{"n": "0"}}
	if _, err := directAPI.Create(ctx, once, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plan(t, 1, map[string]any{"method": "PUT", "path": "/configmaps/once$", "fault": "drop_after", "count": 1})
	runs := 0
	err := k8sretry.RetryOnConflict(ctx, nil, func(ctx context.Context) error {
		runs++
		cm, err := api.Get(ctx, "once", metav1.GetOptions{})
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(cm.Data["n"])
		cm.Data["n"] = strconv.Itoa(n + 1)
		_, err = api.Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
	var e *k8sretry.Error
	final, _ := directAPI.Get(ctx, "once", metav1.GetOptions{})
	if !errors.As(err, &e) || e.Reason != k8sretry.GiveUpNotIdempotent || runs != 1 || final.Data["n"] != "1" {
		t.Fatalf("RetryOnConflict after a lost PUT: %v, %d runs, counter %s", err, runs, final.Data["n"])
	}
	opsDone++
	plan(t, 1)
}
