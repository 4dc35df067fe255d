// Faults the real apiserver and etcd make, not the proxy: client-go through k8sretry against the
// kube-apiserver of tests/cluster/up-faults.sh (make test-e2e-faults), straight to it. Scenarios
// (tests/e2e/README.md): apf-429, etcd-pause, etcd-restart, apiserver-graceful, apiserver-kill,
// and goaway (--goaway-chance: client-go speaks HTTP/2). Every call must end successfully;
// afterwards each namespace holds exactly the expected objects: none lost, none twice. Skipped
// outside that cluster profile (the ordinary test-e2e run compiles and runs every test here).
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	k8sretry "k8sretry.dev/go"
)

// rfStats is what one scenario met: from the engine's events and at client-go's transport.
type rfStats struct {
	mu              sync.Mutex
	calls, retries  int
	recovered       int
	seen            map[string]int // failures the engine met, by status or code
	throttledDelays []float64
	failed          []string
	named           map[string]bool   // named objects that must exist at the end
	generated       map[string]string // generateName object -> its request id
	// At the transport (client-go's own repeats included).
	requests    int
	statuses    map[int]int
	transportEr map[string]int
	newConns    int
	protos      map[string]int
}

func newRFStats() *rfStats {
	return &rfStats{seen: map[string]int{}, named: map[string]bool{}, generated: map[string]string{},
		statuses: map[int]int{}, transportEr: map[string]int{}, protos: map[string]int{}}
}

var (
	rfCurrent atomic.Pointer[rfStats]
	rfOnce    sync.Once
	rfLines   []string
)

func rfProfile(t *testing.T) {
	t.Helper()
	if env["K8SRETRY_PROFILE"] != "faults" {
		t.Skip("needs the real-fault cluster profile (tests/cluster/up-faults.sh, make test-e2e-faults)")
	}
	rfOnce.Do(func() {
		k8sretry.SetEventHandler(func(e k8sretry.Event) {
			s := rfCurrent.Load()
			if s == nil {
				return
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			switch e.Name {
			case "k8s_api_call_failed_retrying":
				s.retries++
				what := e.Code
				if e.StatusCode != 0 {
					what = strconv.Itoa(e.StatusCode)
				} else if what == "" {
					what = e.ErrorType
				}
				s.seen[what]++
				if e.Class.String() == "Throttled" {
					s.throttledDelays = append(s.throttledDelays, e.DelaySeconds)
				}
			case "k8s_api_call_recovered_lost_response":
				s.recovered++
			}
		})
	})
}

// rfTransport counts requests, answers and new connections (a GOAWAY makes client-go open one).
type rfTransport struct {
	next  http.RoundTripper
	stats *rfStats
}

func (c rfTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := c.stats
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			s.mu.Lock()
			s.newConns++
			s.mu.Unlock()
		}
	}}
	resp, err := c.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if err != nil {
		msg := err.Error()
		if len(msg) > 60 {
			msg = msg[:60]
		}
		s.transportEr[msg]++
	} else {
		s.statuses[resp.StatusCode]++
		s.protos[resp.Proto]++
	}
	return resp, err
}

func rfClient(t *testing.T, kubeconfig string, s *rfStats) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	if s != nil {
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return rfTransport{rt, s} }
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

// rfPolicy: retries that outlast each fault (about 40 s), no budget: every call must end.
func rfPolicy(t *testing.T, overrides map[string]any) *k8sretry.Policy {
	t.Helper()
	fields := map[string]any{"max_retries": 40, "initial_delay": 0.1, "max_delay": 1, "retry_after_cap": 5, "budget": nil}
	for k, v := range overrides {
		fields[k] = v
	}
	text, _ := json.Marshal(fields)
	p, err := k8sretry.PolicyFromJSON(string(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func realFault(t *testing.T, action string) {
	if out, err := exec.Command(filepath.Join("..", "..", "cluster", "fault.sh"), action).CombinedOutput(); err != nil {
		t.Errorf("fault.sh %s: %v\n%s", action, err, out)
	}
}

// rfWorker: a named and a generateName ConfigMap, a read and a merge patch of the named one, a
// delete of every third; until stop is closed (or for rounds), pausing between rounds.
func rfWorker(cs *kubernetes.Clientset, policy *k8sretry.Policy, ns string, w int, s *rfStats, stop <-chan struct{}, rounds int, pause time.Duration) {
	ctx := context.Background()
	api := cs.CoreV1().ConfigMaps(ns)
	ops := configMapOps(cs, ns)
	for k := 0; ; k++ {
		if rounds > 0 && k >= rounds {
			return
		}
		if rounds == 0 {
			select {
			case <-stop:
				return
			default:
			}
		}
		name := fmt.Sprintf("n%d-%d", w, k)
		var generated *corev1.ConfigMap
		steps := []struct {
			step string
			fn   func() error
		}{
			{"create", func() error {
				_, err := k8sretry.CreateIdempotent(ctx, policy, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": "1"}}, ops)
				return err
			}},
			{"generate", func() (err error) {
				generated, err = k8sretry.CreateIdempotent(ctx, policy, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: fmt.Sprintf("g%d-", w)}}, ops)
				return err
			}},
			{"read", func() error {
				return k8sretry.Do(ctx, policy, func(ctx context.Context) error {
					got, err := api.Get(ctx, name, metav1.GetOptions{})
					if err == nil && got.Data["v"] != "1" {
						return fmt.Errorf("read %s: %v", name, got.Data)
					}
					return err
				}, k8sretry.WithVerb(k8sretry.VerbGet))
			}},
			{"patch", func() error {
				_, err := k8sretry.Patch(ctx, policy, types.MergePatchType, func(ctx context.Context) (*corev1.ConfigMap, error) {
					return api.Patch(ctx, name, types.MergePatchType, []byte(`{"data":{"v":"2"}}`), metav1.PatchOptions{})
				})
				return err
			}},
		}
		if k%3 == 2 {
			steps = append(steps, struct {
				step string
				fn   func() error
			}{"delete", func() error {
				return k8sretry.DeleteIdempotent(ctx, policy, false, func(ctx context.Context) error {
					return api.Delete(ctx, name, metav1.DeleteOptions{})
				})
			}})
		}
		for _, st := range steps {
			s.mu.Lock()
			s.calls++
			s.mu.Unlock()
			err := st.fn()
			s.mu.Lock()
			if err != nil {
				s.failed = append(s.failed, fmt.Sprintf("%s %s: %v", st.step, name, err))
				s.mu.Unlock()
				break
			}
			switch st.step {
			case "create":
				s.named[name] = true
			case "generate":
				s.generated[generated.Name] = generated.Annotations[k8sretry.RequestID]
			case "delete":
				delete(s.named, name)
			}
			s.mu.Unlock()
		}
		time.Sleep(pause)
	}
}

type rfFigures struct{ lost, duplicates, unexpected int }

// rfCheck: lost = objects a call succeeded for that are not there (calls that gave up are counted apart);
// duplicates = objects beyond one per request id, or that no successful call returned.
func rfCheck(t *testing.T, direct *kubernetes.Clientset, ns string, s *rfStats) rfFigures {
	t.Helper()
	list, err := direct.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]corev1.ConfigMap{}
	ids := map[string]int{}
	var f rfFigures
	for _, cm := range list.Items {
		present[cm.Name] = cm
		switch {
		case strings.HasPrefix(cm.Name, "g"):
			ids[cm.Annotations[k8sretry.RequestID]]++
			if _, ok := s.generated[cm.Name]; !ok {
				f.duplicates++
			}
		case strings.HasPrefix(cm.Name, "n"):
			if !s.named[cm.Name] {
				f.unexpected++
			}
			if cm.Data["v"] != "2" {
				t.Errorf("%s not patched: %v", cm.Name, cm.Data)
			}
		}
	}
	for _, n := range ids {
		f.duplicates += n - 1
	}
	for name := range s.named {
		if _, ok := present[name]; !ok {
			f.lost++
		}
	}
	for name := range s.generated {
		if _, ok := present[name]; !ok {
			f.lost++
		}
	}
	return f
}

type rfOptions struct {
	kubeconfig string
	workers    int
	rounds     int
	pause      time.Duration
	overrides  map[string]any
}

func rfScenario(t *testing.T, name string, o rfOptions, sequence func()) *rfStats {
	t.Helper()
	rfProfile(t)
	if o.kubeconfig == "" {
		o.kubeconfig = env["KUBECONFIG"]
	}
	if o.workers == 0 {
		o.workers = 6
	}
	if o.pause == 0 {
		o.pause = 50 * time.Millisecond
	}
	direct := rfClient(t, env["KUBECONFIG"], nil)
	ns := namespace(t, direct)
	s := newRFStats()
	rfCurrent.Store(s)
	defer rfCurrent.Store(nil)
	cs, policy := rfClient(t, o.kubeconfig, s), rfPolicy(t, o.overrides)
	started := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < o.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rfWorker(cs, policy, ns, w, s, stop, o.rounds, o.pause)
		}()
	}
	sequence()
	close(stop)
	wg.Wait()
	f := rfCheck(t, direct, ns, s)
	opsDone += s.calls
	duplicates += f.duplicates
	var seen, statuses []string
	for k, v := range s.seen {
		seen = append(seen, fmt.Sprintf("%s %d", k, v))
	}
	for k, v := range s.statuses {
		if k >= 400 {
			statuses = append(statuses, fmt.Sprintf("%d %d", k, v))
		}
	}
	for k, v := range s.transportEr {
		statuses = append(statuses, fmt.Sprintf("%q %d", k, v))
	}
	sort.Strings(seen)
	sort.Strings(statuses)
	line := fmt.Sprintf("real-fault %s [client-go]: calls %d, attempts %d (retries %d; %d HTTP requests, %d connections opened), "+
		"failures met: %s (at the transport: %s); recovered %d, lost %d, duplicates %d, gave up %d (%.1f s)",
		name, s.calls, s.calls+s.retries, s.retries, s.requests, s.newConns, orNone(seen), orNone(statuses),
		s.recovered, f.lost, f.duplicates, len(s.failed), time.Since(started).Seconds())
	fmt.Println(line)
	rfLines = append(rfLines, line)
	if len(s.failed) > 0 {
		t.Errorf("calls gave up: %v", s.failed[:min(5, len(s.failed))])
	}
	if f != (rfFigures{}) {
		t.Errorf("lost %d, duplicates %d, unexpected %d", f.lost, f.duplicates, f.unexpected)
	}
	return s
}

// rfMetFaults fails the test when the engine and the transport saw no failure at all.
func rfMetFaults(t *testing.T, s *rfStats) {
	t.Helper()
	failures := s.retries + len(s.transportEr)
	for code, n := range s.statuses {
		if code >= 400 {
			failures += n
		}
	}
	if failures == 0 {
		t.Error("met no fault at all")
	}
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

func TestRealFaultsAPF429(t *testing.T) {
	// A tiny backoff: any delay of 1 s or more is APF's Retry-After. client-go itself repeats a
	// 429 that carries Retry-After (up to 10 times, after the hint): the transport counts those.
	s := rfScenario(t, "apf-429", rfOptions{kubeconfig: env["KUBECONFIG_USER"], workers: 10, rounds: 3,
		overrides: map[string]any{"max_retries": 60, "initial_delay": 0.05, "max_delay": 0.2}}, func() {})
	if s.statuses[429] == 0 {
		t.Error("APF never rejected a request")
	}
	for _, d := range s.throttledDelays {
		if d < 1 {
			t.Errorf("a Throttled retry after %.3f s: the Retry-After hint (>= 1 s) was not honoured", d)
		}
	}
}

// The real 429 as client-go returns it (its own repeats off): Throttled, Retry-After read.
func TestRealFaultsAPF429Extraction(t *testing.T) {
	rfProfile(t)
	cs := rfClient(t, env["KUBECONFIG_USER"], nil)
	var mu sync.Mutex
	var got error
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				err := cs.CoreV1().RESTClient().Get().Namespace("default").Resource("configmaps").MaxRetries(0).Do(context.Background()).Error()
				if apierrors.IsTooManyRequests(err) {
					mu.Lock()
					got = err
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if got == nil {
		t.Fatal("APF never answered 429")
	}
	policy := rfPolicy(t, map[string]any{"initial_delay": 0.05, "max_delay": 0.2})
	f := k8sretry.FailureFromError(got)
	if c := k8sretry.Classify(policy, f); c.String() != "Throttled" || f.Status != 429 || f.RetryAfterSeconds < 1 {
		t.Fatalf("%s: %+v", c, f)
	}
	if d := k8sretry.RetryDelay(policy, f, 1); d < time.Second {
		t.Fatalf("delay %v ignores Retry-After %d s", d, f.RetryAfterSeconds)
	}
}

func TestRealFaultsEtcdPause(t *testing.T) {
	s := rfScenario(t, "etcd-pause", rfOptions{workers: 8}, func() {
		time.Sleep(time.Second)
		realFault(t, "etcd-pause")
		time.Sleep(3 * time.Second)
		realFault(t, "etcd-resume")
		time.Sleep(2 * time.Second)
	})
	if s.seen["504"] == 0 {
		t.Error("no 504 Timeout met")
	}
	rfMetFaults(t, s)
}

func TestRealFaultsEtcdRestart(t *testing.T) {
	s := rfScenario(t, "etcd-restart", rfOptions{}, func() {
		time.Sleep(time.Second)
		realFault(t, "etcd-kill")
		time.Sleep(3 * time.Second)
		realFault(t, "etcd-start")
		time.Sleep(2 * time.Second)
	})
	rfMetFaults(t, s)
}

func TestRealFaultsAPIServerGraceful(t *testing.T) {
	s := rfScenario(t, "apiserver-graceful", rfOptions{}, func() {
		time.Sleep(time.Second)
		done := make(chan struct{})
		go func() { defer close(done); realFault(t, "apiserver-term") }()
		// Requests held in flight by a paused etcd when the 2 s shutdown delay ends: while the
		// apiserver drains them, new requests get 429 with Retry-After and Connection: close.
		time.Sleep(1500 * time.Millisecond)
		realFault(t, "etcd-pause")
		time.Sleep(1500 * time.Millisecond)
		realFault(t, "etcd-resume")
		<-done
		realFault(t, "apiserver-start")
		time.Sleep(2 * time.Second)
	})
	rfMetFaults(t, s)
}

func TestRealFaultsAPIServerKill(t *testing.T) {
	s := rfScenario(t, "apiserver-kill", rfOptions{}, func() {
		time.Sleep(time.Second)
		realFault(t, "apiserver-kill")
		time.Sleep(time.Second)
		realFault(t, "apiserver-start")
		time.Sleep(2 * time.Second)
	})
	rfMetFaults(t, s)
}

// GOAWAY: 1 in 50 HTTP/2 requests is answered with a GOAWAY; client-go opens a new connection.
func TestRealFaultsGoaway(t *testing.T) {
	s := rfScenario(t, "goaway", rfOptions{workers: 4, rounds: 60, pause: time.Millisecond}, func() {})
	if s.protos["HTTP/2.0"] == 0 || s.newConns < 5 {
		t.Errorf("protocols %v, %d connections opened: no GOAWAYs seen", s.protos, s.newConns)
	}
}

func TestRealFaultsSummary(t *testing.T) {
	rfProfile(t)
	fmt.Println("=== k8sretry real-fault report (Go client-go) ===")
	for _, l := range rfLines {
		fmt.Println(l)
	}
}
