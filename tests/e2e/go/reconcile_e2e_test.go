package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	k8sretry "k8sretry.dev/go"
)

// ConfigMapReconciler is bindings-go/README.md's reconciler, as written there.
type ConfigMapReconciler struct {
	client.Client
}

func (r *ConfigMapReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cm corev1.ConfigMap
	if err := r.Get(ctx, req.NamespacedName, &cm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patch := client.MergeFrom(cm.DeepCopy())
	cm.Labels = map[string]string{"reconciled": "yes"}
	if err := r.Patch(ctx, &cm, patch); err != nil {
		if after, ok := k8sretry.RequeueAfter(err); ok {
			return ctrl.Result{RequeueAfter: after}, nil // the engine gave up on a retryable failure
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// Every line of the README's reconciler block is in this file.
func TestReadmeReconcilerIsThisOne(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "bindings-go", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("reconcile_e2e_test.go")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(readme), "```go\n")
	found := false
	for _, block := range blocks[1:] {
		block, _, _ = strings.Cut(block, "```")
		if !strings.Contains(block, "func (r *ConfigMapReconciler) Reconcile") {
			continue
		}
		found = true
		for _, line := range strings.Split(block, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "//") || strings.Contains(line, "cfg.WrapTransport") || strings.Contains(line, `Preset("reconcile")`) {
				continue // main's lines are in the test below
			}
			if !strings.Contains(string(self), line) {
				t.Errorf("README line not in reconcile_e2e_test.go: %s", line)
			}
		}
	}
	if !found {
		t.Fatal("no reconciler in bindings-go/README.md")
	}
}

// The README's reconciler against the real apiserver through WrapTransport with the reconcile
// preset: a PATCH answered 429 with Retry-After: 30 is sent once (not retried by the engine, past
// its 5 s deadline, nor by client-go) and requeued after 30 s; without faults it patches.
func TestReconcilerRequeuesWhenTheEngineGivesUp(t *testing.T) {
	ctx := context.Background()
	direct := clientset(t, env["KUBECONFIG"])
	ns := namespace(t, direct)
	if _, err := direct.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	policy, _ := k8sretry.Preset("reconcile")
	c, _ := crClient(t, k8sretry.WrapTransport(policy))
	r := &ConfigMapReconciler{Client: c}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "app"}}
	if err := c.Get(ctx, req.NamespacedName, &corev1.ConfigMap{}); err != nil { // discovery first
		t.Fatal(err)
	}
	plan(t, 1, map[string]any{"method": "PATCH", "path": "/configmaps/app$", "fault": "429", "retry_after": "30", "count": 1})
	start := time.Now()
	result, err := r.Reconcile(ctx, req)
	if err != nil || result.RequeueAfter != 30*time.Second || proxyRequests(t) != 2 || time.Since(start) > 5*time.Second {
		t.Fatalf("throttled: %+v %v, %d requests (GET + PATCH), %v", result, err, proxyRequests(t), time.Since(start))
	}
	result, err = r.Reconcile(ctx, req)
	got, _ := direct.CoreV1().ConfigMaps(ns).Get(ctx, "app", metav1.GetOptions{})
	if err != nil || result.RequeueAfter != 0 || got.Labels["reconciled"] != "yes" {
		t.Fatalf("then: %+v %v, labels %v", result, err, got.Labels)
	}
	opsDone += 2
	plan(t, 1)
}
