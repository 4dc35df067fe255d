// Soak (make soak, through tests/e2e/soak.sh; K8SRETRY_SOAK=1): client-go through k8sretry behind
// the fault proxy for SOAK_SECONDS at SOAK_RATE calls per second, in one process. The same units
// of work as tests/e2e/python/soak.py, started at a fixed rate; prints RSS and fds every 10 s and
// last one line `SOAK {json}` (see soak.py).
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	k8sretry "k8sretry.dev/go"
)

func procRSSKB() int {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	return 0
}

func procFDs() int {
	entries, _ := os.ReadDir("/proc/self/fd")
	return len(entries)
}

var outcomeLabel = regexp.MustCompile(`outcome="([^"]*)"`)

func soakMetrics() map[string]any {
	calls := map[string]int{}
	total, retries := 0, 0
	for _, line := range strings.Split(k8sretry.MetricsText(), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 2 {
			continue
		}
		n, _ := strconv.ParseFloat(fields[1], 64)
		switch {
		case strings.HasPrefix(line, "k8sretry_calls_total{"):
			calls[outcomeLabel.FindStringSubmatch(line)[1]] += int(n)
			total += int(n)
		case strings.HasPrefix(line, "k8sretry_retries_total{"):
			retries += int(n)
		}
	}
	return map[string]any{"calls": calls, "calls_total": total, "retries": retries}
}

func TestSoak(t *testing.T) {
	if os.Getenv("K8SRETRY_SOAK") != "1" {
		t.Skip("make soak (K8SRETRY_SOAK=1)")
	}
	seconds, _ := strconv.ParseFloat(os.Getenv("SOAK_SECONDS"), 64)
	rate, _ := strconv.ParseFloat(os.Getenv("SOAK_RATE"), 64)
	if seconds == 0 {
		seconds = 600
	}
	if rate == 0 {
		rate = 200
	}
	var events sync.Map // name -> *atomic.Int64
	count := func(name string) int64 {
		v, ok := events.Load(name)
		if !ok {
			return 0
		}
		return v.(*atomic.Int64).Load()
	}
	k8sretry.SetEventHandler(func(e k8sretry.Event) {
		v, _ := events.LoadOrStore(e.Name, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	})
	defer k8sretry.SetEventHandler(nil)
	policy, err := k8sretry.PolicyFromJSON(`{"max_retries": 10, "initial_delay": 0.05, "max_delay": 1, "retry_after_cap": 2, "budget": null}`)
	if err != nil {
		t.Fatal(err)
	}
	// TestMain started from an empty plan: soak.sh's plan again.
	if plan := os.Getenv("SOAK_PLAN"); plan != "" {
		proxyCall(t, "PUT", "plan", json.RawMessage(plan), nil)
	}
	ctx := context.Background()
	direct := clientset(t, env["KUBECONFIG"])
	ns := namespace(t, direct)
	// client-go keeps 25 idle connections per host: beyond 25 calls in flight (a proxy or
	// apiserver hiccup at 200 calls/s) every further request opens and closes a TLS connection,
	// which slows the proxy more (1845 fds and 589 calls in flight measured). A client sized for
	// this load keeps more.
	cfg, err := clientcmd.BuildConfigFromFlags("", env["KUBECONFIG_PROXY"])
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if tr, ok := rt.(*http.Transport); ok {
			tr.MaxIdleConnsPerHost = 256
		}
		return rt
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	api, ops := cs.CoreV1().ConfigMaps(ns), configMapOps(cs, ns)
	var mu sync.Mutex
	work := map[string]int{}
	errs := map[string]int{}
	one := func(step string, fn func() error) bool {
		err := fn()
		mu.Lock()
		defer mu.Unlock()
		work["calls"]++
		if err != nil {
			work["failed"]++
			msg := err.Error()
			if len(msg) > 80 {
				msg = msg[:80]
			}
			errs[step+": "+msg]++
			return false
		}
		work["ok"]++
		return true
	}
	unit := func(k int) {
		name := fmt.Sprintf("s-%d", k)
		created := one("create", func() error {
			_, err := k8sretry.CreateIdempotent(ctx, policy, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": "1"}}, ops)
			return err
		})
		if created {
			one("read", func() error {
				return k8sretry.Do(ctx, policy, func(ctx context.Context) error {
					_, err := api.Get(ctx, name, metav1.GetOptions{})
					return err
				}, k8sretry.WithVerb(k8sretry.VerbGet))
			})
			one("patch", func() error {
				_, err := k8sretry.Patch(ctx, policy, types.MergePatchType, func(ctx context.Context) (*corev1.ConfigMap, error) {
					return api.Patch(ctx, name, types.MergePatchType, []byte(`{"data":{"v":"2"}}`), metav1.PatchOptions{})
				})
				return err
			})
		}
		var generated *corev1.ConfigMap
		if one("generate", func() (err error) {
			generated, err = k8sretry.CreateIdempotent(ctx, policy, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "g-"}}, ops)
			return err
		}) {
			one("delete-generated", func() error {
				return k8sretry.DeleteIdempotent(ctx, policy, false, func(ctx context.Context) error {
					return api.Delete(ctx, generated.Name, metav1.DeleteOptions{})
				})
			})
		}
		one("delete", func() error {
			return k8sretry.DeleteIdempotent(ctx, policy, false, func(ctx context.Context) error {
				return api.Delete(ctx, name, metav1.DeleteOptions{})
			})
		})
	}
	type sample [3]float64
	var samples []sample
	interval := time.Duration(6 / rate * float64(time.Second))
	t0 := time.Now()
	var wg sync.WaitGroup
	var inflight atomic.Int64
	nextSample := time.Duration(0)
	for k := 0; time.Since(t0) < time.Duration(seconds*float64(time.Second)); k++ {
		if now := time.Since(t0); now >= nextSample {
			samples = append(samples, sample{float64(now.Round(100*time.Millisecond)) / 1e9, float64(procRSSKB()), float64(procFDs())})
			mu.Lock()
			calls := work["calls"]
			mu.Unlock()
			fmt.Printf("t=%5.0f s rss=%.0f kB fds=%.0f calls=%d in flight=%d\n", now.Seconds(), samples[len(samples)-1][1], samples[len(samples)-1][2], calls, inflight.Load())
			nextSample += 10 * time.Second
		}
		wg.Add(1)
		inflight.Add(1)
		go func() {
			defer wg.Done()
			defer inflight.Add(-1)
			unit(k)
		}()
		time.Sleep(time.Until(t0.Add(time.Duration(k+1) * interval)))
	}
	wg.Wait()
	elapsed := time.Since(t0).Seconds()
	time.Sleep(1500 * time.Millisecond)
	samples = append(samples, sample{elapsed, float64(procRSSKB()), float64(procFDs())})
	left, err := direct.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var leftNames []string
	for i, c := range left.Items {
		if i < 10 {
			leftNames = append(leftNames, c.Name)
		}
	}
	start, after := samples[0], samples
	if len(samples) > 2 {
		start, after = samples[1], samples[1:]
	}
	maxOf := func(i int) float64 {
		m := 0.0
		for _, s := range after {
			m = max(m, s[i])
		}
		return m
	}
	end := samples[len(samples)-1]
	result := map[string]any{
		"language": "go", "client": "client-go 0.34", "seconds": elapsed, "calls": work["calls"],
		"rate": float64(work["calls"]) / seconds, "ok": work["ok"], "failed": work["failed"], "errors": errs,
		"retries":               count("k8s_api_call_failed_retrying"),
		"succeeded_after_retry": count("k8s_api_call_succeeded_after_retry"),
		"recovered":             count("k8s_api_call_recovered_lost_response"),
		"metrics":               soakMetrics(),
		"rss_kb":                map[string]float64{"start": start[1], "end": end[1], "max": maxOf(1)},
		"fds":                   map[string]float64{"start": start[2], "end": end[2], "max": maxOf(2)},
		"left_in_namespace":     leftNames, "left_count": len(left.Items), "samples": samples,
	}
	data, _ := json.Marshal(result)
	fmt.Println("SOAK " + string(data))
}
