// client-go through k8sretry's Go binding, against the real kube-apiserver of tests/cluster behind
// the fault proxy (make test-e2e starts both).
package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	k8sretry "k8sretry.dev/go"
)

var (
	env     = map[string]string{}
	faults  = map[string]int{}
	opsDone int
)

func TestMain(m *testing.M) {
	f, err := os.Open(filepath.Join("..", "..", "cluster", ".run", "env"))
	if err != nil {
		fmt.Println("no cluster: run `make cluster-up` (make test-e2e does)")
		os.Exit(2)
	}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if k, v, ok := strings.Cut(scanner.Text(), "="); ok {
			env[k] = v
		}
	}
	f.Close()
	code := m.Run()
	collectFaults()
	var kinds []string
	total := 0
	for k, v := range faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, v))
		total += v
	}
	sort.Strings(kinds)
	fmt.Println("=== k8sretry e2e report (Go client-go) ===")
	fmt.Printf("operations: %d\nfaults injected: %d (%s)\n", opsDone, total, strings.Join(kinds, ", "))
	for _, line := range strings.Split(k8sretry.MetricsText(), "\n") {
		if strings.Contains(line, `outcome="recovered"`) {
			fmt.Println("recovered:", line)
		}
	}
	os.Exit(code)
}

var control = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

func proxyCall(t *testing.T, method, path string, body any, out any) {
	t.Helper()
	var reader *strings.Reader
	data, _ := json.Marshal(body)
	reader = strings.NewReader(string(data))
	req, _ := http.NewRequest(method, env["PROXY"]+"/__k8sretry/"+path, reader)
	resp, err := control.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
}

type fault struct {
	Fault string `json:"fault"`
}

func collectFaults() {
	req, _ := http.NewRequest("GET", env["PROXY"]+"/__k8sretry/log", nil)
	if resp, err := control.Do(req); err == nil {
		var log []fault
		_ = json.NewDecoder(resp.Body).Decode(&log)
		resp.Body.Close()
		for _, f := range log {
			faults[f.Fault]++
		}
	}
}

func plan(t *testing.T, seed int, rules ...map[string]any) {
	t.Helper()
	collectFaults()
	if rules == nil {
		rules = []map[string]any{}
	}
	proxyCall(t, "PUT", "plan", map[string]any{"seed": seed, "rules": rules}, nil)
}

func clientset(t *testing.T, kubeconfig string) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func namespace(t *testing.T, direct *kubernetes.Clientset) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-go-"}}
	created, err := direct.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created.Name
}

func fast(t *testing.T) *k8sretry.Policy {
	p, err := k8sretry.PolicyFromJSON(`{"max_retries": 8, "initial_delay": 0.05, "max_delay": 0.5, "retry_after_cap": 2, "budget": null}`)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func configMapOps(cs *kubernetes.Clientset, ns string) k8sretry.CreateOps[*corev1.ConfigMap] {
	api := cs.CoreV1().ConfigMaps(ns)
	return k8sretry.CreateOps[*corev1.ConfigMap]{
		Create: func(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
			return api.Create(ctx, cm, metav1.CreateOptions{})
		},
		Get: func(ctx context.Context, name string) (*corev1.ConfigMap, error) {
			return api.Get(ctx, name, metav1.GetOptions{})
		},
		List: func(ctx context.Context, selector string) ([]*corev1.ConfigMap, error) {
			list, err := api.List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				return nil, err
			}
			out := make([]*corev1.ConfigMap, len(list.Items))
			for i := range list.Items {
				out[i] = &list.Items[i]
			}
			return out, nil
		},
	}
}

func TestMixedOperationsUnderFaults(t *testing.T) {
	ctx := context.Background()
	direct, faulted := clientset(t, env["KUBECONFIG"]), clientset(t, env["KUBECONFIG_PROXY"])
	ns, policy := namespace(t, direct), fast(t)
	// No drops on GETs: client-go repeats a GET by itself after a reset (1 s apart).
	plan(t, 3,
		map[string]any{"method": "POST", "path": "/configmaps$", "fault": "drop_after", "probability": 0.2},
		map[string]any{"method": "POST", "path": "/configmaps$", "fault": "drop_before", "probability": 0.12},
		map[string]any{"method": "POST", "path": "/configmaps$", "fault": "503", "probability": 0.1},
		map[string]any{"method": "GET", "path": "/configmaps", "fault": "503", "probability": 0.25},
		map[string]any{"method": "GET", "path": "/configmaps", "fault": "429", "probability": 0.1},
		map[string]any{"method": "PUT", "path": "/configmaps/", "fault": "drop_after", "probability": 0.2},
		map[string]any{"method": "PUT", "path": "/configmaps/", "fault": "504", "probability": 0.1},
		map[string]any{"method": "PATCH", "path": "", "fault": "429", "probability": 0.3},
		map[string]any{"method": "DELETE", "path": "", "fault": "drop_after", "probability": 0.2},
		map[string]any{"method": "DELETE", "path": "", "fault": "drop_before", "probability": 0.1},
	)
	api := faulted.CoreV1().ConfigMaps(ns)
	ops := 0
	var want []string
	for i := 0; i < 45; i++ {
		name := fmt.Sprintf("cm-%d", i)
		in := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": "1"}}
		if _, err := k8sretry.CreateIdempotent(ctx, policy, in, configMapOps(faulted, ns)); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		do := func(verb k8sretry.Verb, fn func(context.Context) error) {
			if err := k8sretry.Do(ctx, policy, fn, k8sretry.WithVerb(verb)); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		do(k8sretry.VerbGet, func(ctx context.Context) error {
			_, err := api.Get(ctx, name, metav1.GetOptions{})
			return err
		})
		do(k8sretry.VerbPut, func(ctx context.Context) error {
			_, err := api.Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": "2"}}, metav1.UpdateOptions{})
			return err
		})
		do(k8sretry.VerbPatch, func(ctx context.Context) error {
			_, err := api.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"patched":"yes"}}}`), metav1.PatchOptions{})
			return err
		})
		ops += 4
		if i%3 == 0 {
			err := k8sretry.DeleteIdempotent(ctx, policy, false, func(ctx context.Context) error {
				return api.Delete(ctx, name, metav1.DeleteOptions{})
			})
			if err != nil {
				t.Fatalf("delete %s: %v", name, err)
			}
			ops++
		} else {
			want = append(want, name)
		}
	}
	for i := 0; i < 15; i++ {
		in := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-"}}
		if _, err := k8sretry.CreateIdempotent(ctx, policy, in, configMapOps(faulted, ns)); err != nil {
			t.Fatalf("generateName create: %v", err)
		}
		ops++
	}
	opsDone += ops
	var stats struct {
		Requests int            `json:"requests"`
		Faults   map[string]int `json:"faults"`
	}
	proxyCall(t, "GET", "stats", nil, &stats)
	plan(t, 1)
	list, err := direct.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	generated := map[string]bool{}
	for _, cm := range list.Items {
		if strings.HasPrefix(cm.Name, "gen-") {
			generated[cm.Annotations[k8sretry.RequestID]] = true
			continue
		}
		named = append(named, cm.Name)
		if cm.Data["v"] != "2" || cm.Labels["patched"] != "yes" {
			t.Errorf("%s: %v %v", cm.Name, cm.Data, cm.Labels)
		}
	}
	sort.Strings(named)
	sort.Strings(want)
	if strings.Join(named, ",") != strings.Join(want, ",") {
		t.Fatalf("configmaps %v, want %v", named, want)
	}
	if len(generated) != 15 || len(list.Items)-len(named) != 15 {
		t.Fatalf("%d generateName objects with %d request ids, want 15", len(list.Items)-len(named), len(generated))
	}
	total := 0
	for _, n := range stats.Faults {
		total += n
	}
	if ops < 200 || float64(total)/float64(stats.Requests) < 0.3 {
		t.Fatalf("ops %d, faults %d of %d requests", ops, total, stats.Requests)
	}
}

func TestLostCreatesAndForeignObjects(t *testing.T) {
	ctx := context.Background()
	direct, faulted := clientset(t, env["KUBECONFIG"]), clientset(t, env["KUBECONFIG_PROXY"])
	ns, policy := namespace(t, direct), fast(t)
	theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, Data: map[string]string{"owner": "them"}}
	if _, err := direct.CoreV1().ConfigMaps(ns).Create(ctx, theirs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plan(t, 1, map[string]any{"method": "POST", "path": "/configmaps$", "fault": "drop_after", "count": 2})
	if _, err := k8sretry.CreateIdempotent(ctx, policy, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "lost"}}, configMapOps(faulted, ns)); err != nil {
		t.Fatal(err)
	}
	gen, err := k8sretry.CreateIdempotent(ctx, policy, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "lost-"}}, configMapOps(faulted, ns))
	if err != nil {
		t.Fatal(err)
	}
	plan(t, 1, map[string]any{"method": "POST", "path": "/configmaps$", "fault": "drop_before", "count": 1})
	_, err = k8sretry.CreateIdempotent(ctx, policy, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}}, configMapOps(faulted, ns))
	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("somebody else's object: %v", err)
	}
	opsDone += 3
	list, _ := direct.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	var names []string
	for _, cm := range list.Items {
		names = append(names, cm.Name)
	}
	sort.Strings(names)
	want := []string{"lost", "theirs", gen.Name}
	sort.Strings(want)
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("%v, want %v", names, want)
	}
	got, _ := direct.CoreV1().ConfigMaps(ns).Get(ctx, "theirs", metav1.GetOptions{})
	if got.Data["owner"] != "them" {
		t.Fatalf("theirs was changed: %v", got.Data)
	}
}
