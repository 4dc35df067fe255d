// The retry wave after an outage, per jitter mode (make waves; K8SRETRY_WAVES=1): the outage
// scenario of TestOutageUnderLoad (the apiserver stopped 10 s while 100 new GETs per second keep
// arriving, straight to it) with every retry let through (no budget) and the jitter of the policy
// JSON varied. Every attempt is timestamped at client-go's transport; attempts that got an answer
// are the arrivals at the apiserver. Reported per mode: attempts per 100 ms bucket (peak / mean)
// during the outage, arrivals per 100 ms (peak / mean) in the 10 s after the apiserver is ready
// again, and the time from "ready" until 99% of the calls started before it had succeeded.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	k8sretry "k8sretry.dev/go"
)

const (
	waveRate   = 100
	waveBefore = 3 * time.Second
	waveOutage = 10 * time.Second
	waveAfter  = 10 * time.Second
	bucket     = 100 * time.Millisecond
)

type waveAttempt struct {
	at, end time.Time
	status  int // the HTTP status of the answer; 0 when none came back (refused, reset)
}

type waveTransport struct {
	next     http.RoundTripper
	mu       *sync.Mutex
	attempts *[]waveAttempt
}

func (w waveTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	at := time.Now()
	resp, err := w.next.RoundTrip(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	w.mu.Lock()
	*w.attempts = append(*w.attempts, waveAttempt{at, time.Now(), status})
	w.mu.Unlock()
	return resp, err
}

// WaveResult is one jitter mode's figures (also written as JSON to $K8SRETRY_WAVES_OUT, with
// every attempt: sent and ended in milliseconds from the stop, HTTP status or 0).
type WaveResult struct {
	Mode            string     `json:"mode"`
	Calls           int        `json:"calls"`
	Failed          int        `json:"failed"`
	Waiting         int        `json:"waiting"` // calls started between the stop and ready
	OutagePeak      int        `json:"outage_peak"`
	OutageMean      float64    `json:"outage_mean"`
	AfterPeak       int        `json:"after_peak"`
	AfterMean       float64    `json:"after_mean"`
	T99             float64    `json:"t99_seconds"` // -1: never
	AttemptsPerCall float64    `json:"attempts_per_call"`
	Marks           [3]float64 `json:"marks"`    // stop returned, start began, ready: seconds from the stop
	Attempts        [][3]int   `json:"attempts"` // sent, answered or failed (ms from the stop), status
}

func peakMean(b []int) (int, float64) {
	peak, sum := 0, 0
	for _, n := range b {
		peak = max(peak, n)
		sum += n
	}
	return peak, float64(sum) / math.Max(1, float64(len(b)))
}

// buckets counts attempts in [from, to) per 100 ms: all of them by when they were sent, or only
// those that got an answer by when it came (the arrivals at the apiserver: a request sent while
// it was starting waits in its listen queue and arrives when it begins to serve).
func buckets(attempts []waveAttempt, from, to time.Time, answered bool) []int {
	out := make([]int, int(math.Ceil(float64(to.Sub(from))/float64(bucket))))
	for _, a := range attempts {
		at := a.at
		if answered {
			if a.status == 0 {
				continue
			}
			at = a.end
		}
		if at.Before(from) || !at.Before(to) {
			continue
		}
		out[int(at.Sub(from)/bucket)]++
	}
	return out
}

// runWave: 100 new GETs per second; 3 s in, the apiserver is stopped for 10 s and started again;
// "ready" is its first 2xx answer after that; new calls keep coming until 10 s after ready.
func runWave(t *testing.T, ns, mode, jitter string) WaveResult {
	var mu sync.Mutex
	var attempts []waveAttempt
	cfg, err := clientcmd.BuildConfigFromFlags("", env["KUBECONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 10000, 10000
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return waveTransport{rt, &mu, &attempts} }
	cs := kubernetes.NewForConfigOrDie(cfg)
	policy, err := k8sretry.PolicyFromJSON(`{"max_retries": 12, "initial_delay": 0.2, "max_delay": 2, "budget": null, "jitter": ` + jitter + `}`)
	if err != nil {
		t.Fatal(err)
	}
	type call struct {
		start, end time.Time
		ok         bool
	}
	var calls []*call
	var stop, down, up time.Time
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		time.Sleep(waveBefore)
		stop = time.Now()
		apiserver(t, "stop")
		down = time.Now()
		time.Sleep(waveOutage - down.Sub(stop))
		mu.Lock()
		up = time.Now()
		mu.Unlock()
		apiserver(t, "start")
	}()
	// ready: when the first 2xx came back after the restart began, looked for while the load goes on.
	ready := func() (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		var first time.Time
		for _, a := range attempts {
			if !up.IsZero() && a.end.After(up) && a.status >= 200 && a.status < 300 && (first.IsZero() || a.end.Before(first)) {
				first = a.end
			}
		}
		return first, !first.IsZero()
	}
	var wg sync.WaitGroup
	t0 := time.Now()
	var readyAt time.Time
	for i := 0; ; i++ {
		time.Sleep(time.Until(t0.Add(time.Duration(i) * time.Second / waveRate)))
		if i%10 == 0 && readyAt.IsZero() {
			readyAt, _ = ready()
		} else if i%10 == 0 && time.Since(readyAt) < time.Second {
			readyAt, _ = ready() // an earlier answer may have been appended later
		}
		if !readyAt.IsZero() && time.Now().After(readyAt.Add(waveAfter)) {
			break
		}
		if time.Since(t0) > 2*time.Minute {
			t.Fatal("the apiserver never answered 2xx again")
		}
		c := &call{start: time.Now()}
		calls = append(calls, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := k8sretry.Do(context.Background(), policy, func(ctx context.Context) error {
				_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "target", metav1.GetOptions{})
				return err
			}, k8sretry.WithVerb(k8sretry.VerbGet))
			c.end, c.ok = time.Now(), err == nil
		}()
	}
	<-restarted
	wg.Wait()
	r := WaveResult{Mode: mode, Calls: len(calls), T99: -1}
	r.Marks = [3]float64{down.Sub(stop).Seconds(), up.Sub(stop).Seconds(), readyAt.Sub(stop).Seconds()}
	var succeeded []time.Duration // calls started between the stop and ready: when they succeeded, from ready
	for _, c := range calls {
		if !c.ok {
			r.Failed++
		}
		if !c.start.Before(stop) && c.start.Before(readyAt) {
			r.Waiting++
			if c.ok {
				succeeded = append(succeeded, c.end.Sub(readyAt))
			}
		}
	}
	sort.Slice(succeeded, func(i, j int) bool { return succeeded[i] < succeeded[j] })
	if need := int(math.Ceil(0.99 * float64(r.Waiting))); need > 0 && need <= len(succeeded) {
		r.T99 = math.Max(0, succeeded[need-1].Seconds())
	}
	r.OutagePeak, r.OutageMean = peakMean(buckets(attempts, stop, readyAt, false))
	r.AfterPeak, r.AfterMean = peakMean(buckets(attempts, readyAt, readyAt.Add(waveAfter), true))
	r.AttemptsPerCall = float64(len(attempts)) / float64(len(calls))
	for _, a := range attempts {
		r.Attempts = append(r.Attempts, [3]int{int(a.at.Sub(stop).Milliseconds()), int(a.end.Sub(stop).Milliseconds()), a.status})
	}
	return r
}

func TestWaves(t *testing.T) {
	if os.Getenv("K8SRETRY_WAVES") != "1" {
		t.Skip("make waves (K8SRETRY_WAVES=1): the outage per jitter mode, about 4 minutes")
	}
	ctx := context.Background()
	direct := clientset(t, env["KUBECONFIG"])
	ns := namespace(t, direct)
	if _, err := direct.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "target"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	modes := []struct{ name, json string }{
		{"none", `"none"`},
		{"proportional 0.1 (presets)", `{"proportional": 0.1}`},
		{"proportional 0.5", `{"proportional": 0.5}`},
		{"full", `"full"`},
		{"equal", `"equal"`},
		{"decorrelated", `"decorrelated"`},
	}
	if only := os.Getenv("K8SRETRY_WAVES_MODES"); only != "" {
		var keep []struct{ name, json string }
		for _, m := range modes {
			if strings.Contains(only, strings.Fields(m.name)[0]) {
				keep = append(keep, m)
			}
		}
		modes = keep
	}
	runs := 1
	if n, err := strconv.Atoi(os.Getenv("K8SRETRY_WAVES_RUNS")); err == nil && n > 0 {
		runs = n
	}
	var results []WaveResult
	byMode := map[string][]WaveResult{}
	for run := 0; run < runs; run++ {
		for i := range modes {
			m := modes[(i+run)%len(modes)] // a different order each run: drift is spread over the modes
			r := runWave(t, ns, m.name, m.json)
			fmt.Printf("run %d %s: outage %d/%.1f, after %d/%.1f, t99 %.2f, attempts/call %.2f, gave up %d of %d (%d waiting), ready %.2f s after the stop\n",
				run+1, r.Mode, r.OutagePeak, r.OutageMean, r.AfterPeak, r.AfterMean, r.T99, r.AttemptsPerCall, r.Failed, r.Calls, r.Waiting, r.Marks[2])
			results = append(results, r)
			byMode[m.name] = append(byMode[m.name], r)
		}
	}
	fmt.Printf("\nMeans over %d run(s) per mode:\n\n", runs)
	fmt.Println("| jitter | stop -> ready: attempts / 100 ms, peak / mean | 10 s after ready: arrivals / 100 ms, peak / mean (peak-to-mean) | ready -> 99% of the waiting calls succeeded | attempts per call | calls that gave up |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, m := range modes {
		var op, om, ap, am, t99, apc, failed, calls float64
		never := 0
		rs := byMode[m.name]
		for _, r := range rs {
			op += float64(r.OutagePeak)
			om += r.OutageMean
			ap += float64(r.AfterPeak)
			am += r.AfterMean
			apc += r.AttemptsPerCall
			failed += float64(r.Failed)
			calls += float64(r.Calls)
			if r.T99 < 0 {
				never++
			} else {
				t99 += r.T99
			}
		}
		n := float64(len(rs))
		t99s := "never"
		if never < len(rs) {
			t99s = fmt.Sprintf("%.2f s", t99/float64(len(rs)-never))
			if never > 0 {
				t99s += fmt.Sprintf(" (never in %d of %d runs)", never, len(rs))
			}
		}
		fmt.Printf("| %s | %.0f / %.1f | %.0f / %.1f (%.1f) | %s | %.2f | %.1f%% |\n", m.name, op/n, om/n, ap/n, am/n, ap/math.Max(0.1, am), t99s, apc/n, 100*failed/calls)
	}
	if out := os.Getenv("K8SRETRY_WAVES_OUT"); out != "" {
		data, _ := json.MarshalIndent(results, "", " ")
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Error(err)
		}
	}
}
